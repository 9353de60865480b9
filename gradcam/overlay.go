package gradcam

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/lessdata/lessdata/internal/files"
)

// Jet returns the jet colour map's colour for v in [0, 1]: blue, cyan, yellow, red.
func Jet(v float32) color.RGBA {
	f := func(x float64) uint8 { return uint8(math.Round(255 * math.Max(0, math.Min(1, x)))) }
	x := float64(v)
	return color.RGBA{R: f(1.5 - math.Abs(4*x-3)), G: f(1.5 - math.Abs(4*x-2)), B: f(1.5 - math.Abs(4*x-1)), A: 255}
}

// Overlay returns img with the heatmap h, upsampled to img's size, blended over it in the jet
// colour map: each pixel is (1-alpha)*image + alpha*colour.
func Overlay(img image.Image, h Heatmap, alpha float64) *image.RGBA {
	b := img.Bounds()
	heat := h.Upsampled(b.Dx(), b.Dy())
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			c := Jet(heat[y*b.Dx()+x])
			mix := func(v uint32, h uint8) uint8 {
				return uint8(math.Round((1-alpha)*float64(v>>8) + alpha*float64(h)))
			}
			out.SetRGBA(x, y, color.RGBA{R: mix(r, c.R), G: mix(g, c.G), B: mix(bl, c.B), A: 255})
		}
	}
	return out
}

// WriteOverlay writes Overlay(img, h, 0.45) as a PNG file at path, atomically.
func WriteOverlay(path string, img image.Image, h Heatmap) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Overlay(img, h, 0.45)); err != nil {
		return fmt.Errorf("gradcam: encode overlay: %w", err)
	}
	if err := files.WriteAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("gradcam: write overlay %s: %w", path, err)
	}
	return nil
}
