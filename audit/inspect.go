package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	stddraw "image/draw"
	"math"
	"runtime"
	"sync"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/corona10/goimagehash"
	"golang.org/x/sync/errgroup"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
)

// workSide is the longest side of the reduced image the statistics and hashes are computed on.
const workSide = 256

// thumbSide is the longest side of the thumbnails kept for the contact sheet.
const thumbSide = 96

// entry is one image of the dataset and what inspecting it found.
type entry struct {
	ItemRef
	abs   string // the path as the dataset lists it
	class int
	err   error // decode failure; nothing below is set then

	w, h     int
	pixHash  [32]byte // sha256 of the decoded RGBA at full size
	fileHash string   // files.SHA256 of the file: finds identical files, keys the feature cache
	phash    uint64
	dhash    uint64
	stats    imageStats
	thumb    *image.RGBA // at most thumbSide x thumbSide, transparency over white
	grey     []uint8     // alignGrey of the image, for the pixel check of near copies
	input    *dataset.Image
	feat     []float32 // backbone features of the plain image (nil without a backbone)
}

// imageStats are the simple statistics the junk checks read. They are computed on the image
// reduced to at most workSide pixels (area average, transparency composited over white),
// except Transparent, which counts full-size pixels.
type imageStats struct {
	Transparent float64 `json:"transparent"`  // share of pixels with alpha < 128
	LumaStd     float64 `json:"luma_std"`     // standard deviation of the luminance, 0..255
	Colors      int     `json:"colors"`       // distinct colours after quantising to 4 bits per channel
	TopColors   float64 `json:"top_colors"`   // share of pixels in the 4 most frequent quantised colours
	Flat        float64 `json:"flat"`         // share of pixels equal (within 2 levels) to their right and lower neighbours
	White       float64 `json:"white"`        // share of near-white pixels (all channels >= 240)
	Saturation  float64 `json:"saturation"`   // mean HSV saturation, 0..1
	EdgeDensity float64 `json:"edge_density"` // share of pixels with a luminance step above 48 to a neighbour
	EdgeInk     float64 `json:"edge_ink"`     // edge pixels over non-white pixels: high for text and logos on white
	FlatColour  float64 `json:"flat_colour"`  // share of flat pixels that are neither near-white nor near-black
}

// inspect decodes every entry once, in parallel, and fills in its hashes, statistics,
// thumbnail and, when in is given (the backbone's input size), the backbone input image.
// progress is called after each image (serialised).
func inspect(ctx context.Context, entries []*entry, in image.Point, progress func(done int)) error {
	var mu sync.Mutex
	done := 0
	return parallel(ctx, len(entries), func(k int) {
		entries[k].err = entries[k].inspect(in)
		mu.Lock()
		defer mu.Unlock()
		done++
		if progress != nil {
			progress(done)
		}
	})
}

// parallel calls f(0), ..., f(n-1) on GOMAXPROCS goroutines and returns ctx's error if it is
// cancelled first.
func parallel(ctx context.Context, n int, f func(int)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for k := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			f(k)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// inspect decodes one image and computes what the checks need.
func (e *entry) inspect(in image.Point) error {
	stored, o, err := dataset.DecodeStored(e.abs, 0, tfdecode.Decode)
	if err != nil {
		return err
	}
	img := dataset.Upright(stored, o)
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	stddraw.Draw(rgba, rgba.Rect, img, b.Min, stddraw.Src)
	e.w, e.h = b.Dx(), b.Dy()
	h := sha256.New()
	fmt.Fprintf(h, "%dx%d|", e.w, e.h)
	h.Write(rgba.Pix)
	copy(e.pixHash[:], h.Sum(nil))
	work, transparent := reduce(rgba, workSide)
	e.stats = statsOf(work)
	e.stats.Transparent = transparent
	small, _ := shrink(work, min(64, work.Rect.Dx()), min(64, work.Rect.Dy()))
	ph, err := goimagehash.PerceptionHash(small)
	if err != nil {
		return fmt.Errorf("perceptual hash of %s: %w", e.abs, err)
	}
	dh, err := goimagehash.DifferenceHash(small)
	if err != nil {
		return fmt.Errorf("difference hash of %s: %w", e.abs, err)
	}
	e.phash, e.dhash = ph.GetHash(), dh.GetHash()
	e.thumb, _ = reduce(work, thumbSide)
	e.grey = alignGrey(work)
	if e.fileHash, err = files.SHA256(e.abs); err != nil {
		return fmt.Errorf("hash %s: %w", e.abs, err)
	}
	if in != (image.Point{}) { // features wanted: the same input as every other feature path
		e.input = dataset.Resize(stored, o, in.X, in.Y)
	}
	return nil
}

// fit returns the size of a w x h image shrunk (never enlarged) to fit side x side.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(side)/float64(h)))), side
}

// reduce composites src (premultiplied) over white and shrinks it by area averaging to fit
// side x side. It also returns the share of source pixels with alpha below 128.
func reduce(src *image.RGBA, side int) (*image.RGBA, float64) {
	tw, th := fit(src.Rect.Dx(), src.Rect.Dy(), side)
	return shrink(src, tw, th)
}

// shrink composites src (premultiplied, bounds at the origin) over white and shrinks it to
// tw x th (no larger than src) by area averaging. It also returns the share of source pixels
// with alpha below 128.
func shrink(src *image.RGBA, tw, th int) (*image.RGBA, float64) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	sums := make([]uint32, tw*th*4)
	xs := make([]int, sw)
	for x := range xs {
		xs[x] = x * tw / sw
	}
	clear := 0
	for y := range sh {
		row := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		cell := sums[(y*th/sh)*tw*4:]
		for x := range sw {
			p := row[4*x : 4*x+4]
			a := p[3]
			if a < 128 {
				clear++
			}
			q := cell[4*xs[x]:]
			white := uint32(255 - a)
			q[0] += uint32(p[0]) + white
			q[1] += uint32(p[1]) + white
			q[2] += uint32(p[2]) + white
			q[3]++
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	for i := 0; i < tw*th; i++ {
		n := max(sums[4*i+3], 1)
		for c := range 3 {
			dst.Pix[4*i+c] = uint8((sums[4*i+c] + n/2) / n)
		}
		dst.Pix[4*i+3] = 0xFF
	}
	return dst, float64(clear) / float64(sw*sh)
}

// statsOf computes the statistics of an opaque reduced image.
func statsOf(m *image.RGBA) imageStats {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	n := float64(w * h)
	var s imageStats
	luma := make([]float64, w*h)
	var sum, sum2, sat float64
	var hist [4096]int
	white := 0
	for i := range w * h {
		p := m.Pix[4*i : 4*i+3]
		r, g, b := float64(p[0]), float64(p[1]), float64(p[2])
		l := 0.299*r + 0.587*g + 0.114*b
		luma[i] = l
		sum += l
		sum2 += l * l
		hi, lo := max(r, g, b), min(r, g, b)
		if hi > 0 {
			sat += (hi - lo) / hi
		}
		if lo >= 240 {
			white++
		}
		hist[uint16(p[0]>>4)<<8|uint16(p[1]>>4)<<4|uint16(p[2]>>4)]++
	}
	mean := sum / n
	s.LumaStd = math.Sqrt(max(sum2/n-mean*mean, 0))
	s.Saturation = sat / n
	s.White = float64(white) / n
	counts := make([]int, 0, 256)
	for _, c := range hist {
		if c > 0 {
			counts = append(counts, c)
		}
	}
	s.Colors = len(counts)
	top := 0
	for range 4 {
		bi := -1
		for i, c := range counts {
			if bi < 0 || c > counts[bi] {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		top += counts[bi]
		counts[bi] = -1
	}
	s.TopColors = float64(top) / n
	flat, edges, flatColour := 0, 0, 0
	near := func(i, j int) bool {
		a, b := m.Pix[4*i:4*i+3], m.Pix[4*j:4*j+3]
		for c := range 3 {
			if d := int(a[c]) - int(b[c]); d > 2 || d < -2 {
				return false
			}
		}
		return true
	}
	for y := range h {
		for x := range w {
			i := y*w + x
			right, down := i+1, i+w
			if x == w-1 {
				right = i - 1
			}
			if y == h-1 {
				down = i - w
			}
			if right < 0 || down < 0 || right >= w*h || down >= w*h {
				continue
			}
			if near(i, right) && near(i, down) {
				flat++
				if p := m.Pix[4*i : 4*i+3]; luma[i] >= 24 && min(p[0], p[1], p[2]) < 240 {
					flatColour++
				}
			}
			if math.Abs(luma[i]-luma[right]) > 48 || math.Abs(luma[i]-luma[down]) > 48 {
				edges++
			}
		}
	}
	s.Flat = float64(flat) / n
	s.EdgeDensity = float64(edges) / n
	s.EdgeInk = float64(edges) / max(n-float64(white), 1)
	s.FlatColour = float64(flatColour) / n
	return s
}
