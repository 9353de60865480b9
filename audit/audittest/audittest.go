// Package audittest writes synthetic datasets with planted problems for the tests of package
// audit and of the audit command.
package audittest

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/image/draw"
)

// Image styles: two classes a backbone tells apart.
const (
	Blobs   = iota // soft ellipses over a gradient
	Stripes        // sinusoidal stripes over a gradient
)

// Photo draws a photo-like w x h image: a smooth gradient between random corner colours, soft
// shapes of the style, and sensor noise. Each seed gives a different image.
func Photo(seed uint64, w, h, style int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, uint64(style)+0x70686f746f))
	var corner [4][3]float64
	for i := range corner {
		for c := range 3 {
			corner[i][c] = 40 + 180*r.Float64()
		}
	}
	type blob struct{ x, y, rx, ry, a float64 }
	var blobs []blob
	var colours [][3]float64
	for range 8 + r.IntN(8) {
		blobs = append(blobs, blob{r.Float64(), r.Float64(), 0.04 + 0.2*r.Float64(), 0.04 + 0.2*r.Float64(), r.Float64() * math.Pi})
		colours = append(colours, [3]float64{255 * r.Float64(), 255 * r.Float64(), 255 * r.Float64()})
	}
	angle, freq, phase := r.Float64()*math.Pi, 6+10*r.Float64(), r.Float64()*2*math.Pi
	var stripe [3]float64 // contrasting with the gradient
	for c := range 3 {
		stripe[c] = 255 - corner[0][c]
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			var p [3]float64
			for c := range 3 {
				p[c] = (1-u)*(1-v)*corner[0][c] + u*(1-v)*corner[1][c] + (1-u)*v*corner[2][c] + u*v*corner[3][c]
			}
			switch style {
			case Blobs:
				for i, b := range blobs {
					dx, dy := u-b.x, v-b.y
					cx, cy := dx*math.Cos(b.a)+dy*math.Sin(b.a), -dx*math.Sin(b.a)+dy*math.Cos(b.a)
					d := math.Sqrt(cx*cx/(b.rx*b.rx) + cy*cy/(b.ry*b.ry))
					k := 1 / (1 + math.Exp((d-1)*12)) // soft edge
					for c := range 3 {
						p[c] = (1-k)*p[c] + k*colours[i][c]
					}
				}
			case Stripes:
				t := u*math.Cos(angle) + v*math.Sin(angle)
				k := 0.5 + 0.5*math.Sin(2*math.Pi*freq*t+phase)
				for c := range 3 {
					p[c] = (1-k)*p[c] + k*stripe[c]
				}
			}
			o := img.PixOffset(x, y)
			for c := range 3 {
				img.Pix[o+c] = uint8(math.Max(0, math.Min(255, p[c]+r.NormFloat64()*5)))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}

// WriteJPEG writes img as a JPEG of the given quality.
func WriteJPEG(path string, img image.Image, quality int) error {
	return write(path, func(f *os.File) error { return jpeg.Encode(f, img, &jpeg.Options{Quality: quality}) })
}

// WritePNG writes img as a PNG.
func WritePNG(path string, img image.Image) error {
	return write(path, func(f *os.File) error { return png.Encode(f, img) })
}

func write(path string, enc func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := enc(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// Clean writes a dataset of distinct photo-like JPEGs into dir: classes "blobs" and "stripes",
// perClass images of each per split (train and validation), 160x120 pixels. seed varies the set.
func Clean(dir string, perClass int, seed uint64) error {
	for si, split := range []string{"train", "validation"} {
		for style, class := range []string{"blobs", "stripes"} {
			for i := range perClass {
				s := seed*1_000_003 + uint64(si*10_000+style*1_000+i)
				p := filepath.Join(dir, split, class, fmt.Sprintf("%s_%02d.jpg", class[:1], i))
				if err := WriteJPEG(p, Photo(s, 160, 120, style), 90); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Planted names the files Plant adds to a dataset, relative to its folder.
type Planted struct {
	Leak, LeakSource         string // a validation copy of a training image, resized 0.7x and re-encoded
	Conflict, ConflictSource string // an exact copy filed under the other class
	Grey                     string // a solid grey image
	Tiny                     string // a 20x20 image
	Transparent              string // a PNG with 60% transparent pixels
}

// Plant writes a clean dataset (Clean with perClass images) and adds the planted problems.
func Plant(dir string, perClass int) (Planted, error) {
	p := Planted{
		LeakSource: "train/blobs/b_03.jpg", Leak: "validation/blobs/leak_copy.jpg",
		ConflictSource: "train/stripes/s_02.jpg", Conflict: "train/blobs/conflict_copy.jpg",
		Grey: "train/stripes/grey.png", Tiny: "train/blobs/tiny.png", Transparent: "train/stripes/cutout.png",
	}
	if err := Clean(dir, perClass, 1); err != nil {
		return p, err
	}
	src, err := decode(filepath.Join(dir, p.LeakSource))
	if err != nil {
		return p, err
	}
	b := src.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()*7/10, b.Dy()*7/10))
	draw.CatmullRom.Scale(small, small.Rect, src, b, draw.Src, nil)
	if err := WriteJPEG(filepath.Join(dir, p.Leak), small, 75); err != nil {
		return p, err
	}
	data, err := os.ReadFile(filepath.Join(dir, p.ConflictSource))
	if err != nil {
		return p, err
	}
	if err := os.WriteFile(filepath.Join(dir, p.Conflict), data, 0o644); err != nil {
		return p, err
	}
	grey := image.NewUniform(color.Gray{128})
	if err := WritePNG(filepath.Join(dir, p.Grey), &cropped{grey, image.Rect(0, 0, 120, 90)}); err != nil {
		return p, err
	}
	if err := WritePNG(filepath.Join(dir, p.Tiny), Photo(99, 20, 20, Blobs)); err != nil {
		return p, err
	}
	cut := image.NewNRGBA(image.Rect(0, 0, 160, 120))
	ph := Photo(98, 160, 120, Stripes)
	for y := range 120 {
		for x := range 160 {
			c := ph.RGBAAt(x, y)
			if x >= 64 { // 60% of the columns are fully transparent
				c.A = 0
			}
			cut.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, c.A})
		}
	}
	return p, WritePNG(filepath.Join(dir, p.Transparent), cut)
}

// cropped bounds an infinite image.
type cropped struct {
	image.Image
	r image.Rectangle
}

func (c *cropped) Bounds() image.Rectangle { return c.r }

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// Hand draws a w x h photo of a hand-like object on a plain white background: a palm and
// five fingers in one fixed pose and place, whose widths, lengths, angles, skin tone, shading
// and skin texture vary with seed. Two seeds give two different hands that share their layout,
// as photos of different people's hands taken on one white table do: their perceptual hashes
// are close although neither is a copy of the other.
func Hand(seed uint64, w, h int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 0x68616e64))
	jit := func(v, d float64) float64 { return v + d*(2*r.Float64()-1) }
	type capsule struct{ x0, y0, x1, y1, rad float64 }
	palm := capsule{jit(0.5, 0.01), jit(0.68, 0.01), jit(0.5, 0.01), jit(0.58, 0.01), jit(0.17, 0.008)}
	var parts = []capsule{palm}
	for i, base := range []float64{-1.05, -0.35, 0, 0.33, 0.66} { // thumb, then four fingers
		angle := jit(base, 0.04)
		length := jit([]float64{0.22, 0.3, 0.33, 0.3, 0.24}[i], 0.02)
		x0 := palm.x0 + 0.13*math.Sin(angle)
		y0 := palm.y1 - 0.06*math.Cos(angle)
		if i == 0 {
			y0 = palm.y0 - 0.02
		}
		parts = append(parts, capsule{x0, y0, x0 + length*math.Sin(angle), y0 - length*math.Cos(angle), jit(0.035, 0.007)})
	}
	skin := [3]float64{jit(200, 20), jit(150, 20), jit(120, 20)}
	light := [2]float64{jit(0, 0.4), jit(0, 0.4)}
	// Skin texture: a few random sinusoids, different for each hand.
	type wave struct{ fx, fy, ph, amp float64 }
	var waves []wave
	for range 12 {
		waves = append(waves, wave{jit(0, 60), jit(0, 60), 2 * math.Pi * r.Float64(), 4 + 6*r.Float64()})
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			u, v := (float64(x)+0.5)/float64(w), (float64(y)+0.5)/float64(h)
			inside := math.Inf(1) // signed distance to the hand, in image widths (negative inside)
			for _, c := range parts {
				dx, dy := c.x1-c.x0, c.y1-c.y0
				t := math.Max(0, math.Min(1, ((u-c.x0)*dx+(v-c.y0)*dy)/(dx*dx+dy*dy)))
				d := math.Hypot(u-c.x0-t*dx, v-c.y0-t*dy) - c.rad
				inside = math.Min(inside, d)
			}
			k := 1 / (1 + math.Exp(inside*float64(w)*1.5)) // soft edge, about a pixel wide
			tex := 0.0
			for _, wv := range waves {
				tex += wv.amp * math.Sin(2*math.Pi*(wv.fx*u+wv.fy*v)+wv.ph)
			}
			shade := 1 + 0.15*(light[0]*(u-0.5)+light[1]*(v-0.5))
			o := img.PixOffset(x, y)
			for c := range 3 {
				fg := skin[c]*shade + tex
				bg := 250.0 - 10*v // a white table, slightly darker towards the bottom
				img.Pix[o+c] = uint8(math.Max(0, math.Min(255, k*fg+(1-k)*bg+r.NormFloat64()*2)))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}
