package augment

import (
	"fmt"

	"github.com/lessdata/lessdata/dataset"
)

// Image is dataset's decoded image: RGB float32 0..255, row-major HWC, 3 channels.
type Image = dataset.Image

// channels is the number of interleaved channels of an Image.
const channels = 3

// NewImage returns a zeroed w×h image.
func NewImage(w, h int) *Image {
	return &Image{W: w, H: h, Pix: make([]float32, w*h*channels)}
}

// pixLen returns the number of float32 values of a well-formed image and
// panics if Pix is too short for W×H×3. (A function rather than a method so
// that Image can later become an alias of dataset.Image.)
func pixLen(im *Image) int {
	if im.W < 0 || im.H < 0 {
		panic(fmt.Sprintf("augment: negative image size %dx%d", im.W, im.H))
	}
	n := im.W * im.H * channels
	if len(im.Pix) < n {
		panic(fmt.Sprintf("augment: image %dx%d has %d values, want %d", im.W, im.H, len(im.Pix), n))
	}
	return n
}

// prepare sizes dst like src, reusing dst.Pix when its capacity suffices,
// and returns the number of values.
func prepare(dst, src *Image) int {
	n := pixLen(src)
	dst.W, dst.H = src.W, src.H
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	} else {
		dst.Pix = dst.Pix[:n]
	}
	return n
}

// aliases reports whether a and b share their first pixel (the only kind of
// aliasing supported: the same image passed twice).
func aliases(a, b *Image) bool {
	if a == b {
		return true
	}
	return len(a.Pix) > 0 && len(b.Pix) > 0 && &a.Pix[0] == &b.Pix[0]
}
