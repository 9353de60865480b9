package augment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// makeImg builds a w×h image with values f(x, y, c).
func makeImg(w, h int, f func(x, y, c int) float32) *Image {
	im := NewImage(w, h)
	for y := range h {
		for x := range w {
			for c := range 3 {
				im.Pix[(y*w+x)*3+c] = f(x, y, c)
			}
		}
	}
	return im
}

// distinct is an asymmetric image where every value identifies (x, y, c).
func distinct(w, h int) *Image {
	return makeImg(w, h, func(x, y, c int) float32 { return float32(100*c + 10*y + x + 1) })
}

func randomImg(r *rand.Rand, w, h int) *Image {
	return makeImg(w, h, func(x, y, c int) float32 { return float32(r.IntN(256)) })
}

func at(im *Image, x, y, c int) float32 { return im.Pix[(y*im.W+x)*3+c] }

// requireImgNear asserts |got(x,y,c) - want(x,y,c)| <= tol everywhere.
func requireImgNear(t *testing.T, got *Image, want func(x, y, c int) float32, tol float64) {
	t.Helper()
	for y := range got.H {
		for x := range got.W {
			for c := range 3 {
				g, w := at(got, x, y, c), want(x, y, c)
				if math.Abs(float64(g-w)) > tol {
					require.FailNowf(t, "pixel mismatch", "(%d,%d,%d): got %v want %v (tol %v)", x, y, c, g, w, tol)
				}
			}
		}
	}
}
