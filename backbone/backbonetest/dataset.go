package backbonetest

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/lessdata/lessdata/audit/audittest"
)

// DatasetOptions shapes the image folder WriteDataset writes.
type DatasetOptions struct {
	Classes           []string // class folder names, at least one
	Train, Validation int      // images per class in each split (no folder for a split of 0)
	Size              int      // side of the square images in pixels; 32 by default
	Seed              uint64   // the same options give the same files
}

// WriteDataset writes dir/train/<class>/<class>_NNN.png and dir/validation/<class>/<class>_NNN.png.
// Class k of n has a hue within 0.15/n of k/n on the colour wheel; every image has its own hue
// in that range, brightness and gradient, a few discs of lighter and darker shades and pixel
// noise, so no two images are alike but the classes are told apart at a glance (and by the tiny
// backbone).
func WriteDataset(dir string, opt DatasetOptions) error {
	if len(opt.Classes) == 0 || opt.Train < 0 || opt.Validation < 0 || opt.Size < 0 {
		return fmt.Errorf("write dataset %s: give at least one class and no negative count or size", dir)
	}
	if opt.Size == 0 {
		opt.Size = 32
	}
	for si, split := range []string{"train", "validation"} {
		n := []int{opt.Train, opt.Validation}[si]
		for k, class := range opt.Classes {
			for i := range n {
				r := rand.New(rand.NewPCG(opt.Seed, uint64(si)<<48|uint64(k)<<24|uint64(i)))
				base := hue((float64(k) + 0.3*(r.Float64()-0.5)) / float64(len(opt.Classes)))
				path := filepath.Join(dir, split, class, fmt.Sprintf("%s_%03d.png", class, i))
				if err := audittest.WritePNG(path, classImage(r, base, opt.Size)); err != nil {
					return fmt.Errorf("write dataset: %w", err)
				}
			}
		}
	}
	return nil
}

// hue returns a saturated colour (0..255 per channel) at fraction h of the colour wheel.
func hue(h float64) [3]float64 {
	var c [3]float64
	for i := range c {
		// Each channel peaks a third of the wheel after the previous one.
		d := math.Abs(math.Mod(h-float64(i)/3+1.5, 1) - 0.5) // distance to the peak, 0..0.5
		c[i] = 40 + 180*math.Max(0, 1-3*d)
	}
	return c
}

// classImage draws one size x size image of the class colour base.
func classImage(r *rand.Rand, base [3]float64, size int) *image.RGBA {
	angle := 2 * math.Pi * r.Float64()
	gx, gy := math.Cos(angle), math.Sin(angle)
	level := 0.7 + 0.6*r.Float64()
	type disc struct{ x, y, rad, shade float64 }
	discs := make([]disc, 3)
	for i := range discs {
		discs[i] = disc{r.Float64(), r.Float64(), 0.1 + 0.25*r.Float64(), 0.3 + 1.4*r.Float64()}
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			u, v := (float64(x)+0.5)/float64(size), (float64(y)+0.5)/float64(size)
			shade := level * (1 + 0.8*((u-0.5)*gx+(v-0.5)*gy))
			for _, d := range discs {
				if (u-d.x)*(u-d.x)+(v-d.y)*(v-d.y) < d.rad*d.rad {
					shade *= d.shade
				}
			}
			o := img.PixOffset(x, y)
			for c := range 3 {
				img.Pix[o+c] = uint8(math.Max(0, math.Min(255, base[c]*shade+6*r.NormFloat64())))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}
