package audit

import (
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/png"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
)

// Contact sheet layout, in pixels.
const (
	sheetRows    = 40 // rows drawn at most; a last line says how many more there are
	sheetPerRow  = 8  // thumbnails per row at most
	sheetPad     = 6
	sheetLine    = 14 // text line height (basicfont 7x13)
	sheetCharW   = 7
	sheetCellW   = thumbSide + sheetPad
	sheetWidth   = sheetPad + sheetPerRow*sheetCellW
	sheetRowH    = sheetLine + thumbSide + 2*sheetLine + sheetPad
	sheetMaxText = (sheetWidth - 2*sheetPad) / sheetCharW
	thumbChars   = sheetCellW / sheetCharW
)

var (
	inkText  = color.RGBA{0x20, 0x20, 0x20, 0xFF}
	inkLeak  = color.RGBA{0xC0, 0x10, 0x10, 0xFF}
	inkWarn  = color.RGBA{0xB0, 0x60, 0x00, 0xFF}
	inkNote  = color.RGBA{0x10, 0x50, 0xA0, 0xFF}
	inkFrame = color.RGBA{0xCC, 0xCC, 0xCC, 0xFF}
	inkTrain = color.RGBA{0x00, 0x72, 0xB2, 0xFF} // blue frame: training image
	inkVal   = color.RGBA{0xD5, 0x5E, 0x00, 0xFF} // orange frame: validation image
)

// sheetRow is one row of the contact sheet: a caption and the images it is about.
type sheetRow struct {
	caption string
	ink     color.RGBA
	items   []ItemRef
	notes   []string // one short line under each thumbnail (optional)
}

// rows lists what the contact sheet shows: groups (leaks and label conflicts first), then
// flags (junk first, then label suspects and outliers), as Flags and Groups are already sorted.
func (r *Report) rows() []sheetRow {
	var out []sheetRow
	for _, g := range r.Groups {
		ink := inkNote
		if g.Leak || g.LabelConflict {
			ink = inkLeak
		}
		out = append(out, sheetRow{caption: g.describe(), ink: ink, items: g.Items})
	}
	for _, f := range r.Flags {
		ink := inkWarn
		if f.Kind == KindLabelSuspect || f.Kind == KindOutlier {
			ink = inkNote
		}
		out = append(out, sheetRow{caption: f.Kind + ": " + f.Reason, ink: ink,
			items: []ItemRef{f.ItemRef}})
	}
	return out
}

// WriteContactSheet writes a PNG with one row per duplicate group and per flagged image
// (at most 40 rows; a last line tells how many more there are): thumbnails framed blue for
// training and orange for validation images, each with its split, class and file name, under
// a line giving the reason. Images are taken from the thumbnails kept by Run, or decoded again
// from the data folder for a report read from JSON.
func (r *Report) WriteContactSheet(path string) error {
	rows := r.rows()
	shown := min(len(rows), sheetRows)
	hgt := sheetPad + 2*sheetLine + shown*sheetRowH + sheetLine
	img := image.NewRGBA(image.Rect(0, 0, sheetWidth, hgt))
	stddraw.Draw(img, img.Rect, image.White, image.Point{}, stddraw.Src)
	y := sheetPad + sheetLine
	title := fmt.Sprintf("lessdata audit of %s: %d groups, %d flags (blue frame: train, orange: validation)", r.Data, len(r.Groups), len(r.Flags))
	text(img, sheetPad, y, title, inkText, sheetMaxText)
	y += sheetLine
	if len(rows) == 0 {
		text(img, sheetPad, y+sheetLine, "nothing flagged", inkText, sheetMaxText)
	}
	for _, row := range rows[:shown] {
		text(img, sheetPad, y+sheetLine-3, row.caption, row.ink, sheetMaxText)
		top := y + sheetLine
		for i, it := range row.items {
			if i == sheetPerRow {
				break
			}
			x := sheetPad + i*sheetCellW
			if i == sheetPerRow-1 && len(row.items) > sheetPerRow {
				text(img, x+4, top+thumbSide/2, fmt.Sprintf("+%d more", len(row.items)-i), inkText, thumbChars)
				break
			}
			r.drawThumb(img, x, top, it)
			label := it.Split
			if label == SplitValidation {
				label = "val"
			}
			text(img, x, top+thumbSide+sheetLine, label+"/"+it.Class, inkText, thumbChars)
			text(img, x, top+thumbSide+2*sheetLine, filepath.Base(it.Path), inkText, thumbChars)
		}
		y += sheetRowH
	}
	if len(rows) > shown {
		text(img, sheetPad, y+sheetLine-3, fmt.Sprintf("... and %d more rows: see audit.json", len(rows)-shown), inkText, sheetMaxText)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("contact sheet: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("contact sheet %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("contact sheet %s: %w", path, err)
	}
	return nil
}

// drawThumb draws an item's thumbnail in a thumbSide square at (x, y) with a frame coloured
// by split; an image that cannot be read is drawn as a grey box.
func (r *Report) drawThumb(dst *image.RGBA, x, y int, it ItemRef) {
	frame := inkTrain
	if it.Split == SplitValidation {
		frame = inkVal
	}
	box := image.Rect(x-2, y-2, x+thumbSide+2, y+thumbSide+2)
	stddraw.Draw(dst, box, image.NewUniform(frame), image.Point{}, stddraw.Src)
	stddraw.Draw(dst, box.Inset(2), image.NewUniform(inkFrame), image.Point{}, stddraw.Src)
	th := r.thumbs[it.Path]
	if th == nil {
		th = loadThumb(filepath.Join(r.Data, it.Path))
	}
	if th == nil {
		text(dst, x+4, y+thumbSide/2, "unreadable", inkText, thumbChars)
		return
	}
	w, h := th.Rect.Dx(), th.Rect.Dy()
	at := image.Pt(x+(thumbSide-w)/2, y+(thumbSide-h)/2)
	stddraw.Draw(dst, image.Rectangle{at, at.Add(image.Pt(w, h))}, th, th.Rect.Min, stddraw.Src)
}

// loadThumb decodes a file and returns its thumbnail, or nil when it cannot be read.
func loadThumb(path string) *image.RGBA {
	img, err := dataset.DecodeFile(path, 0, tfdecode.Decode)
	if err != nil {
		return nil
	}
	th, _ := reduce(toRGBA(img), thumbSide)
	return th
}

// toRGBA converts img to an *image.RGBA whose bounds start at (0, 0).
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	stddraw.Draw(m, m.Rect, img, b.Min, stddraw.Src)
	return m
}

// text draws s with its baseline at y, cut to at most limit characters.
func text(dst *image.RGBA, x, y int, s string, ink color.RGBA, limit int) {
	if r := []rune(s); len(r) > limit {
		s = string(r[:max(limit-2, 0)]) + ".."
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(ink), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
