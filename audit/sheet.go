package audit

import (
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
)

// Contact sheet layout, in pixels.
const (
	sheetPerRow   = 8 // thumbnails per line; a larger group takes several lines
	sheetPad      = 6
	sheetLine     = 14 // text line height (basicfont 7x13)
	sheetCharW    = 7
	sheetCellW    = thumbSide + 2*sheetPad
	sheetWidth    = sheetPad + sheetPerRow*sheetCellW
	sheetMaxText  = (sheetWidth - 2*sheetPad) / sheetCharW
	thumbChars    = (sheetCellW - sheetPad) / sheetCharW
	sheetMaxPageH = 4000 // a page holds rows up to this height (a taller row gets a page of its own)
)

var (
	inkText  = color.RGBA{0x20, 0x20, 0x20, 0xFF}
	inkLeak  = color.RGBA{0xC0, 0x10, 0x10, 0xFF}
	inkWarn  = color.RGBA{0xB0, 0x60, 0x00, 0xFF}
	inkNote  = color.RGBA{0x10, 0x50, 0xA0, 0xFF}
	inkLight = color.RGBA{0x60, 0x60, 0x60, 0xFF}
	inkFrame = color.RGBA{0xCC, 0xCC, 0xCC, 0xFF}
	inkTrain = color.RGBA{0x00, 0x72, 0xB2, 0xFF} // blue frame: training image
	inkVal   = color.RGBA{0xD5, 0x5E, 0x00, 0xFF} // orange frame: validation image
)

// sheetRow is one row of the contact sheet: a caption and the images it is about, each with
// the lines written under it.
type sheetRow struct {
	caption []string // wrapped
	ink     color.RGBA
	items   []ItemRef
	labels  [][]string // per item, wrapped
	notes   [][]string // per item, optional lines in ink (a label suspect's suggested class), wrapped
}

// height is the row's height on the sheet.
func (s sheetRow) height() int {
	perLine := thumbSide + 4 + (longest(s.labels)+longest(s.notes))*sheetLine + sheetPad
	return len(s.caption)*sheetLine + 4 + ((len(s.items)+sheetPerRow-1)/sheetPerRow)*perLine
}

// longest is the largest number of lines of any item.
func longest(lines [][]string) int {
	n := 0
	for _, l := range lines {
		n = max(n, len(l))
	}
	return n
}

// rows lists what the contact sheet shows, in the report's order: groups (label conflicts and
// leaks first), look-alikes, then flags (junk first, then label suspects and outliers).
func (r *Report) rows() []sheetRow {
	var out []sheetRow
	add := func(caption string, ink color.RGBA, items []ItemRef, notes [][]string) {
		row := sheetRow{caption: wrap(caption, sheetMaxText), ink: ink, items: items, notes: notes}
		for _, it := range items {
			split := it.Split
			if split == SplitValidation {
				split = "val"
			}
			row.labels = append(row.labels, append(wrap(split+"/"+it.Class, thumbChars), wrap(filepath.Base(it.Path), thumbChars)...))
		}
		out = append(out, row)
	}
	for _, g := range r.Groups {
		ink := inkNote
		if g.Leak || g.LabelConflict {
			ink = inkLeak
		}
		add(g.Title()+": "+g.describe(), ink, g.Items, nil)
	}
	for _, g := range r.LookAlikes {
		add(g.Title()+": "+g.describe(), inkLight, g.Items, nil)
	}
	for _, f := range r.Flags {
		ink := inkWarn
		if f.Kind == KindLabelSuspect || f.Kind == KindOutlier {
			ink = inkNote
		}
		caption := f.Kind + ": " + f.Reason
		var notes [][]string
		if f.SuggestedClass != "" {
			caption = f.Kind + " (looks like " + f.SuggestedClass + "): " + f.Reason
			notes = [][]string{wrap("looks like "+f.SuggestedClass, thumbChars)}
		}
		add(caption, ink, []ItemRef{f.ItemRef}, notes)
	}
	return out
}

// pages splits the rows into pages of at most sheetMaxPageH pixels (a taller row alone).
func pages(rows []sheetRow) [][]sheetRow {
	var out [][]sheetRow
	var cur []sheetRow
	h := 0
	for _, row := range rows {
		if len(cur) > 0 && h+row.height() > sheetMaxPageH {
			out = append(out, cur)
			cur, h = nil, 0
		}
		cur = append(cur, row)
		h += row.height()
	}
	if len(cur) > 0 || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// ContactSheetPages returns the files WriteContactSheet(path) writes: path, then
// NAME_2.png, NAME_3.png, ... beside it when the report takes several pages.
func (r *Report) ContactSheetPages(path string) []string {
	return pagePaths(path, len(pages(r.rows())))
}

func pagePaths(path string, n int) []string {
	ext := filepath.Ext(path)
	out := []string{path}
	for i := 2; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s_%d%s", strings.TrimSuffix(path, ext), i, ext))
	}
	return out
}

// WriteContactSheet writes PNG pages (see ContactSheetPages) showing every duplicate group,
// look-alike and flagged image, numbered as in the summary and audit.json: thumbnails framed
// blue for training and orange for validation images, each with its split, class and file name
// (wrapped, never cut) and, for a label suspect, the class it looks like, under a line giving
// the reason. Images are taken from the thumbnails kept by Run, or decoded again from the data
// folder for a report read from JSON.
func (r *Report) WriteContactSheet(path string) error {
	pp := pages(r.rows())
	paths := pagePaths(path, len(pp))
	for i, rows := range pp {
		title := fmt.Sprintf("lessdata audit of %s: %d groups, %d look-alikes, %d flags (blue frame: train, orange: validation)",
			r.Data, len(r.Groups), len(r.LookAlikes), len(r.Flags))
		if len(pp) > 1 {
			title = fmt.Sprintf("page %d of %d, %s", i+1, len(pp), title)
		}
		if err := writePNG(paths[i], r.drawPage(wrap(title, sheetMaxText), rows)); err != nil {
			return err
		}
	}
	return nil
}

// drawPage draws a page: the title lines, then the rows.
func (r *Report) drawPage(title []string, rows []sheetRow) *image.RGBA {
	hgt := sheetPad + (len(title)+1)*sheetLine + sheetPad
	for _, row := range rows {
		hgt += row.height()
	}
	if len(rows) == 0 {
		hgt += sheetLine
	}
	img := image.NewRGBA(image.Rect(0, 0, sheetWidth, hgt))
	stddraw.Draw(img, img.Rect, image.White, image.Point{}, stddraw.Src)
	y := sheetPad
	for _, l := range title {
		y += sheetLine
		text(img, sheetPad, y, l, inkText)
	}
	y += sheetLine
	if len(rows) == 0 {
		text(img, sheetPad, y, "nothing flagged", inkText)
	}
	for _, row := range rows {
		r.drawRow(img, y, row)
		y += row.height()
	}
	return img
}

// drawRow draws a row with its top at y.
func (r *Report) drawRow(img *image.RGBA, y int, row sheetRow) {
	for _, l := range row.caption {
		y += sheetLine
		text(img, sheetPad, y-3, l, row.ink)
	}
	y += 4
	lines := longest(row.labels)
	perLine := row.height() - len(row.caption)*sheetLine - 4
	if n := (len(row.items) + sheetPerRow - 1) / sheetPerRow; n > 0 {
		perLine /= n
	}
	for i, it := range row.items {
		x := sheetPad + (i%sheetPerRow)*sheetCellW
		top := y + (i/sheetPerRow)*perLine + 2
		r.drawThumb(img, x, top, it)
		ly := top + thumbSide + 2
		for _, l := range row.labels[i] {
			ly += sheetLine
			text(img, x, ly, l, inkText)
		}
		if i < len(row.notes) {
			ly = top + thumbSide + 2 + lines*sheetLine
			for _, l := range row.notes[i] {
				ly += sheetLine
				text(img, x, ly, l, row.ink)
			}
		}
	}
}

func writePNG(path string, img image.Image) error {
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
		text(dst, x+4, y+thumbSide/2, "unreadable", inkText)
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

// wrap breaks s into lines of at most width characters, at spaces where it can and inside
// words (class and file names) where it must: nothing is cut off.
func wrap(s string, width int) []string {
	var lines []string
	line := []rune{}
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		if len(line) > 0 && len(line)+1+len(w) <= width {
			line = append(append(line, ' '), w...)
			continue
		}
		if len(line) > 0 {
			lines = append(lines, string(line))
			line = line[:0:0]
		}
		for len(w) > width {
			lines = append(lines, string(w[:width]))
			w = w[width:]
		}
		line = append(line, w...)
	}
	if len(line) > 0 || len(lines) == 0 {
		lines = append(lines, string(line))
	}
	return lines
}

// text draws s with its baseline at y.
func text(dst *image.RGBA, x, y int, s string, ink color.RGBA) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(ink), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
