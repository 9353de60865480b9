package augment

import (
	"image"
	"image/color"
	"math"
)

// gridBackground is the colour of the padding and of empty cells in Grid.
var gridBackground = color.RGBA{R: 255, G: 255, B: 255, A: 255}

// Grid lays tiles out row by row into a preview image with cols columns
// (cols <= 0 picks ceil(sqrt(len(tiles)))) and pad pixels of
// white background between tiles and around the border. Every cell is as
// large as the largest tile; smaller tiles sit in the cell's top-left
// corner and nil tiles leave the cell empty. Tile values are on the 0..255
// scale (use Apply, not the rescaled/standardised output of Random); they
// are rounded and clipped to [0, 255], NaN becomes 0. The result is opaque.
func Grid(tiles []*Image, cols int, pad int) *image.RGBA {
	n := len(tiles)
	if n == 0 {
		return image.NewRGBA(image.Rect(0, 0, 0, 0))
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	cols = min(cols, n)
	pad = max(pad, 0)
	rows := (n + cols - 1) / cols
	cw, ch := 0, 0
	for _, t := range tiles {
		if t != nil {
			cw, ch = max(cw, t.W), max(ch, t.H)
		}
	}
	W := cols*cw + (cols+1)*pad
	H := rows*ch + (rows+1)*pad
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	bg := gridBackground
	for i := 0; i+4 <= len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	for k, t := range tiles {
		if t == nil {
			continue
		}
		pixLen(t)
		ox := pad + (k%cols)*(cw+pad)
		oy := pad + (k/cols)*(ch+pad)
		for y := range t.H {
			src := t.Pix[y*t.W*channels : (y+1)*t.W*channels]
			off := img.PixOffset(ox, oy+y)
			dst := img.Pix[off : off+4*t.W]
			for x := range t.W {
				dst[4*x] = to8(src[channels*x])
				dst[4*x+1] = to8(src[channels*x+1])
				dst[4*x+2] = to8(src[channels*x+2])
				dst[4*x+3] = 255
			}
		}
	}
	return img
}

// to8 rounds and clips v to a byte; NaN maps to 0.
func to8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}
