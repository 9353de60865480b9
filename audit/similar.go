package audit

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// alignSide is the side of the square grey image that near copies are aligned and compared on.
const alignSide = 128

// detailRadius is the radius of the box blur subtracted from a radius-1 blur of the grey image
// to make the detail image (a band pass): what remains once the broad layout (a hand's
// silhouette on white, the shape of a chest) and the pixel noise (which re-encoding and
// resizing change) are taken out.
const detailRadius = 3

// alignImage is an image prepared for the pixel check of near copies: its grey values and its
// detail, alignSide x alignSide, and smaller grey versions.
type alignImage struct {
	grey, detail []float32
	half         []float32 // grey at alignSide/2
	quarter      []float32 // grey at alignSide/4, for the coarse search
}

// alignGrey reduces an opaque image to alignSide x alignSide grey levels, the aspect ratio
// dropped: what an entry keeps for the pixel check (16 KB).
func alignGrey(m *image.RGBA) []uint8 {
	sq := image.NewRGBA(image.Rect(0, 0, alignSide, alignSide))
	draw.CatmullRom.Scale(sq, sq.Rect, m, m.Rect, draw.Src, nil)
	out := make([]uint8, alignSide*alignSide)
	for i := range out {
		p := sq.Pix[4*i : 4*i+3]
		out[i] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2]) + 500) / 1000)
	}
	return out
}

// newAlignImage prepares the grey levels made by alignGrey for the pixel check.
func newAlignImage(grey []uint8) *alignImage {
	n := alignSide * alignSide
	a := &alignImage{grey: make([]float32, n), detail: make([]float32, n)}
	for i, v := range grey {
		a.grey[i] = float32(v)
	}
	fine, coarse := boxBlur(a.grey, alignSide, 1), boxBlur(a.grey, alignSide, detailRadius)
	for i := range n {
		a.detail[i] = fine[i] - coarse[i]
	}
	a.half = halve(a.grey, alignSide)
	a.quarter = halve(a.half, alignSide/2)
	return a
}

// halve averages 2 x 2 blocks of a side x side image.
func halve(v []float32, side int) []float32 {
	h := side / 2
	out := make([]float32, h*h)
	for y := range h {
		for x := range h {
			i := 2*y*side + 2*x
			out[y*h+x] = (v[i] + v[i+1] + v[i+side] + v[i+side+1]) / 4
		}
	}
	return out
}

// boxBlur returns the mean of each pixel's (2r+1) x (2r+1) neighbourhood (clamped at the
// borders) of a side x side image.
func boxBlur(v []float32, side, r int) []float32 {
	tmp := make([]float32, len(v))
	out := make([]float32, len(v))
	for y := range side {
		for x := range side {
			var s float32
			for k := -r; k <= r; k++ {
				s += v[y*side+min(max(x+k, 0), side-1)]
			}
			tmp[y*side+x] = s / float32(2*r+1)
		}
	}
	for y := range side {
		for x := range side {
			var s float32
			for k := -r; k <= r; k++ {
				s += tmp[min(max(y+k, 0), side-1)*side+x]
			}
			out[y*side+x] = s / float32(2*r+1)
		}
	}
	return out
}

// warp maps b's pixel (x, y) to a's coordinates: scale about the centre, then shift.
type warp struct{ sx, sy, tx, ty float64 }

// minOverlap is the smallest share of b's pixels that must land inside a.
const minOverlap = 0.7

// ncc returns the normalised cross-correlation of b's channel with a's channel (both s x s)
// sampled (bilinearly) under w, over the pixels that land inside a; -1 when too few do or
// either side is flat. Shifts are in alignSide pixels whatever s is.
func ncc(a, b []float32, s int, w warp) float64 {
	w.tx, w.ty = w.tx*float64(s)/alignSide, w.ty*float64(s)/alignSide
	c := float64(s-1) / 2
	var n, sa, sb, saa, sbb, sab float64
	for y := range s {
		ay := c + w.sy*(float64(y)-c) + w.ty
		if ay < 0 || ay > float64(s-1) {
			continue
		}
		y0 := min(int(ay), s-2)
		fy := ay - float64(y0)
		for x := range s {
			ax := c + w.sx*(float64(x)-c) + w.tx
			if ax < 0 || ax > float64(s-1) {
				continue
			}
			x0 := min(int(ax), s-2)
			fx := ax - float64(x0)
			i := y0*s + x0
			va := (1-fy)*((1-fx)*float64(a[i])+fx*float64(a[i+1])) + fy*((1-fx)*float64(a[i+s])+fx*float64(a[i+s+1]))
			vb := float64(b[y*s+x])
			n++
			sa += va
			sb += vb
			saa += va * va
			sbb += vb * vb
			sab += va * vb
		}
	}
	if n < minOverlap*float64(s*s) {
		return -1
	}
	va, vb := saa-sa*sa/n, sbb-sb*sb/n
	if va <= 1e-9*n || vb <= 1e-9*n {
		return -1
	}
	return (sab - sa*sb/n) / math.Sqrt(va*vb)
}

// Alignment search: scales (per axis) and shifts (in alignSide pixels) tried, coarse then fine.
const (
	maxScale = 0.12 // a copy cropped by up to 12% on a side, or resized with another aspect
	maxShift = 6.0
)

// pixelSimilarity aligns b onto a (a scale per axis about the centre and a shift: a grid
// search on quarter-size grey images, refined on half- and full-size grey images, then on the
// details) and returns the mean local correlation of their details under that alignment (see
// localNCC). Copies (resized, re-encoded, slightly cropped, brightness-shifted) keep their
// detail and score above 0.9; different photos that share a layout (hands in one pose on white,
// chest X-rays) share broad shapes and a few edges but not their detail, and score below 0.7
// (see TestNearCopyCalibration).
func pixelSimilarity(a, b *alignImage) float64 {
	best, w := -2.0, warp{sx: 1, sy: 1}
	for sx := 1 - maxScale; sx <= 1+maxScale+1e-9; sx += maxScale / 2 {
		for sy := 1 - maxScale; sy <= 1+maxScale+1e-9; sy += maxScale / 2 {
			for tx := -maxShift; tx <= maxShift; tx += maxShift / 2 {
				for ty := -maxShift; ty <= maxShift; ty += maxShift / 2 {
					c := warp{sx, sy, tx, ty}
					if v := ncc(a.quarter, b.quarter, alignSide/4, c); v > best {
						best, w = v, c
					}
				}
			}
		}
	}
	w = refine(a.half, b.half, alignSide/2, w, maxScale/4, maxShift/4, 2)
	w = refine(a.grey, b.grey, alignSide, w, maxScale/16, maxShift/16, 2)
	w = refine(a.detail, b.detail, alignSide, w, maxScale/64, maxShift/32, 1)
	return localNCC(a.detail, b.detail, w, localMinStd)
}

// Local correlation windows, in alignSide pixels, and the smallest detail standard deviation
// (grey levels) a window needs on both sides to count.
const (
	localWin    = 8
	localStride = 4
	localMinStd = 2
)

// localNCC returns the mean correlation of b's windows with a's warped under w, over the
// windows that land inside a and are not flat (below floor) on either side; -1 when there are
// none. Each window counts once whatever its contrast, so the few strong edges two photos of
// one layout share cannot outweigh the texture they do not.
func localNCC(a, b []float32, w warp, floor float64) float64 {
	const s = alignSide
	c := float64(s-1) / 2
	wa := make([]float64, s*s)
	in := make([]bool, s*s)
	for y := range s {
		ay := c + w.sy*(float64(y)-c) + w.ty
		if ay < 0 || ay > s-1 {
			continue
		}
		y0 := min(int(ay), s-2)
		fy := ay - float64(y0)
		for x := range s {
			ax := c + w.sx*(float64(x)-c) + w.tx
			if ax < 0 || ax > s-1 {
				continue
			}
			x0 := min(int(ax), s-2)
			fx := ax - float64(x0)
			i := y0*s + x0
			wa[y*s+x] = (1-fy)*((1-fx)*float64(a[i])+fx*float64(a[i+1])) + fy*((1-fx)*float64(a[i+s])+fx*float64(a[i+s+1]))
			in[y*s+x] = true
		}
	}
	var sum float64
	n := 0
	const m = localWin * localWin
	for y0 := 0; y0+localWin <= s; y0 += localStride {
	window:
		for x0 := 0; x0+localWin <= s; x0 += localStride {
			var sa, sb, saa, sbb, sab float64
			for y := y0; y < y0+localWin; y++ {
				for x := x0; x < x0+localWin; x++ {
					i := y*s + x
					if !in[i] {
						continue window
					}
					va, vb := wa[i], float64(b[i])
					sa += va
					sb += vb
					saa += va * va
					sbb += vb * vb
					sab += va * vb
				}
			}
			va, vb := saa-sa*sa/m, sbb-sb*sb/m
			if va < floor*floor*m || vb < floor*floor*m {
				continue
			}
			sum += (sab - sa*sb/m) / math.Sqrt(va*vb)
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

// refine climbs from w on s x s images in steps of ds (scale) and dt (shift), halving them
// after each of the rounds.
func refine(a, b []float32, s int, w warp, ds, dt float64, rounds int) warp {
	best := ncc(a, b, s, w)
	for range rounds {
		for moved := true; moved; {
			moved = false
			for _, d := range []warp{{ds, 0, 0, 0}, {-ds, 0, 0, 0}, {0, ds, 0, 0}, {0, -ds, 0, 0},
				{0, 0, dt, 0}, {0, 0, -dt, 0}, {0, 0, 0, dt}, {0, 0, 0, -dt}} {
				c := warp{w.sx + d.sx, w.sy + d.sy, w.tx + d.tx, w.ty + d.ty}
				if v := ncc(a, b, s, c); v > best+1e-9 {
					best, w, moved = v, c, true
				}
			}
		}
		ds, dt = ds/2, dt/2
	}
	return w
}
