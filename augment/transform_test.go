package augment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIdentityIsExact(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(1, 2)), 7, 5)
	for _, tr := range []Transform{{}, {Zx: 1, Zy: 1, Brightness: 1}} {
		dst := &Image{}
		Apply(dst, src, tr, Reflect, 0)
		require.Equal(t, src.W, dst.W)
		require.Equal(t, src.H, dst.H)
		require.Equal(t, src.Pix, dst.Pix)
	}
}

func TestFlips(t *testing.T) {
	src := distinct(5, 4)
	dst := &Image{}
	Apply(dst, src, Transform{FlipH: true}, Constant, -1)
	requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, 4-x, y, c) }, 0)
	Apply(dst, src, Transform{FlipV: true}, Constant, -1)
	requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, x, 3-y, c) }, 0)
	Apply(dst, src, Transform{FlipH: true, FlipV: true}, Constant, -1)
	requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, 4-x, 3-y, c) }, 0)
}

func TestShiftAndFillModes(t *testing.T) {
	src := distinct(5, 4) // W=5, H=4
	const cval = -7
	// Expected source column (for shifts in x) or row (for shifts in y) of
	// each output position; -1 means cval.
	cases := []struct {
		name   string
		tr     Transform
		fill   FillMode
		srcIdx []int
	}{
		// Tx=+2: content moves right by 2, out(x) = src(x-2).
		{"right2/reflect", Transform{Tx: 2}, Reflect, []int{1, 0, 0, 1, 2}},
		{"right2/nearest", Transform{Tx: 2}, Nearest, []int{0, 0, 0, 1, 2}},
		{"right2/constant", Transform{Tx: 2}, Constant, []int{-1, -1, 0, 1, 2}},
		{"right2/wrap", Transform{Tx: 2}, Wrap, []int{3, 4, 0, 1, 2}},
		// Tx=-3: content moves left by 3, out(x) = src(x+3).
		{"left3/reflect", Transform{Tx: -3}, Reflect, []int{3, 4, 4, 3, 2}},
		{"left3/nearest", Transform{Tx: -3}, Nearest, []int{3, 4, 4, 4, 4}},
		{"left3/constant", Transform{Tx: -3}, Constant, []int{3, 4, -1, -1, -1}},
		{"left3/wrap", Transform{Tx: -3}, Wrap, []int{3, 4, 0, 1, 2}},
		// Ty=+1: content moves down by 1, out(y) = src(y-1).
		{"down1/reflect", Transform{Ty: 1}, Reflect, []int{0, 0, 1, 2}},
		{"down1/nearest", Transform{Ty: 1}, Nearest, []int{0, 0, 1, 2}},
		{"down1/constant", Transform{Ty: 1}, Constant, []int{-1, 0, 1, 2}},
		{"down1/wrap", Transform{Ty: 1}, Wrap, []int{3, 0, 1, 2}},
		// Ty=-2: content moves up by 2, out(y) = src(y+2).
		{"up2/reflect", Transform{Ty: -2}, Reflect, []int{2, 3, 3, 2}},
		{"up2/nearest", Transform{Ty: -2}, Nearest, []int{2, 3, 3, 3}},
		{"up2/constant", Transform{Ty: -2}, Constant, []int{2, 3, -1, -1}},
		{"up2/wrap", Transform{Ty: -2}, Wrap, []int{2, 3, 0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := &Image{}
			Apply(dst, src, tc.tr, tc.fill, cval)
			requireImgNear(t, dst, func(x, y, c int) float32 {
				sx, sy := x, y
				if tc.tr.Tx != 0 {
					sx = tc.srcIdx[x]
				} else {
					sy = tc.srcIdx[y]
				}
				if sx < 0 || sy < 0 {
					return cval
				}
				return at(src, sx, sy, c)
			}, 0)
		})
	}
}

func TestRotation90(t *testing.T) {
	for _, n := range []int{5, 6, 8} {
		src := randomImg(rand.New(rand.NewPCG(uint64(n), 3)), n, n)
		dst := &Image{}
		for _, fill := range []FillMode{Nearest, Reflect, Constant, Wrap} {
			// Positive theta turns content clockwise on screen: out(x,y) = src(y, n-1-x).
			Apply(dst, src, Transform{Theta: 90}, fill, -1000)
			requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, y, n-1-x, c) }, 1e-3)
			Apply(dst, src, Transform{Theta: -90}, fill, -1000)
			requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, n-1-y, x, c) }, 1e-3)
			Apply(dst, src, Transform{Theta: 180}, fill, -1000)
			requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, n-1-x, n-1-y, c) }, 1e-3)
		}
	}
	// Direction, spelled out: a marker right of centre ends up below it.
	src := makeImg(5, 5, func(x, y, c int) float32 {
		if x == 4 && y == 2 {
			return 255
		}
		return 0
	})
	dst := &Image{}
	Apply(dst, src, Transform{Theta: 90}, Constant, 0)
	require.InDelta(t, 255, at(dst, 2, 4, 0), 1e-3)
	require.InDelta(t, 0, at(dst, 4, 2, 0), 1e-3)
	require.InDelta(t, 0, at(dst, 2, 0, 0), 1e-3)
}

func TestRotationSmallAngleDirection(t *testing.T) {
	// Linear ramp in x: v = 10*x. Clockwise rotation by a small angle makes
	// the ramp increase downwards at the image centre column: the source
	// point of out(cx, cy+d) is (cx + sin·d, cy + cos·d).
	src := makeImg(21, 21, func(x, y, c int) float32 { return float32(10 * x) })
	dst := &Image{}
	Apply(dst, src, Transform{Theta: 10}, Nearest, 0)
	s := math.Sin(10 * math.Pi / 180)
	require.InDelta(t, 10*(10+5*s), at(dst, 10, 15, 0), 1e-3)
	require.InDelta(t, 10*(10-5*s), at(dst, 10, 5, 0), 1e-3)
}

func TestZoomKerasMeaning(t *testing.T) {
	// 9×9, centre (4,4); ramp v = 10*x + y on channel 0.
	src := makeImg(9, 9, func(x, y, c int) float32 { return float32(10*x + y) })
	dst := &Image{}

	// Zx = 0.5 zooms in: out(x,y) = src(4 + 0.5(x-4), y); content is enlarged
	// 2× horizontally, so the ramp's slope halves.
	Apply(dst, src, Transform{Zx: 0.5}, Constant, -1)
	requireImgNear(t, dst, func(x, y, c int) float32 {
		return float32(10*(4+0.5*float64(x-4))) + float32(y)
	}, 1e-4)
	require.InDelta(t, 45, at(dst, 5, 0, 0), 1e-4) // halfway between src x=4 and 5
	require.InDelta(t, 60, at(dst, 8, 0, 0), 1e-4)

	// Zy = 2 zooms out vertically: out(x,y) = src(x, 4 + 2(y-4)), content
	// shrinks and the top/bottom two rows come from outside (cval).
	Apply(dst, src, Transform{Zy: 2}, Constant, -1)
	requireImgNear(t, dst, func(x, y, c int) float32 {
		sy := 4 + 2*(y-4)
		if sy < 0 || sy > 8 {
			return -1
		}
		return float32(10*x + sy)
	}, 1e-4)
}

func TestShear(t *testing.T) {
	// Linear image, so bilinear sampling is exact in the interior.
	src := makeImg(21, 21, func(x, y, c int) float32 { return float32(10*x + 100*y) })
	dst := &Image{}
	Apply(dst, src, Transform{Shear: 30}, Nearest, 0)
	s, c := math.Sincos(30 * math.Pi / 180)
	for _, p := range [][2]int{{14, 10}, {6, 10}, {10, 10}, {12, 7}} {
		x, y := float64(p[0]-10), float64(p[1]-10)
		sx, sy := 10+c*x, 10+y-s*x
		require.InDelta(t, 10*sx+100*sy, at(dst, p[0], p[1], 0), 1e-2, "pixel %v", p)
	}
}

// kerasSource computes the source (row, col) of output (row, col) with
// Keras' apply_affine_transform matrices (rotation·shift·shear·zoom about
// the centre), using this package's documented parameter correspondence.
func kerasSource(tr Transform, w, h int, r, c float64) (float64, float64) {
	mul := func(a, b [3][3]float64) (m [3][3]float64) {
		for i := range 3 {
			for j := range 3 {
				for k := range 3 {
					m[i][j] += a[i][k] * b[k][j]
				}
			}
		}
		return m
	}
	th := tr.Theta * math.Pi / 180
	sh := tr.Shear * math.Pi / 180
	tx, ty := -tr.Ty, -tr.Tx // Keras tx is the row shift, opposite sign
	zx, zy := tr.Zy, tr.Zx   // Keras zx is the row zoom
	rot := [3][3]float64{{math.Cos(th), -math.Sin(th), 0}, {math.Sin(th), math.Cos(th), 0}, {0, 0, 1}}
	shift := [3][3]float64{{1, 0, tx}, {0, 1, ty}, {0, 0, 1}}
	shear := [3][3]float64{{1, -math.Sin(sh), 0}, {0, math.Cos(sh), 0}, {0, 0, 1}}
	zoom := [3][3]float64{{zx, 0, 0}, {0, zy, 0}, {0, 0, 1}}
	m := mul(mul(mul(rot, shift), shear), zoom)
	or, oc := float64(h-1)/2, float64(w-1)/2 // exact centre (Keras: size/2+0.5)
	off := [3][3]float64{{1, 0, or}, {0, 1, oc}, {0, 0, 1}}
	reset := [3][3]float64{{1, 0, -or}, {0, 1, -oc}, {0, 0, 1}}
	m = mul(mul(off, m), reset)
	return m[0][0]*r + m[0][1]*c + m[0][2], m[1][0]*r + m[1][1]*c + m[1][2]
}

func TestMatrixMatchesKeras(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		tr := Transform{
			Theta: r.Float64()*60 - 30, Tx: r.Float64()*20 - 10, Ty: r.Float64()*20 - 10,
			Shear: r.Float64()*40 - 20, Zx: 0.5 + r.Float64(), Zy: 0.5 + r.Float64(),
		}
		w, h := 30+r.IntN(20), 20+r.IntN(20)
		m := tr.matrix(w, h)
		for range 10 {
			x, y := float64(r.IntN(w)), float64(r.IntN(h))
			kr, kc := kerasSource(tr, w, h, y, x)
			require.InDelta(t, kc, m.m00*x+m.m01*y+m.m02, 1e-9)
			require.InDelta(t, kr, m.m10*x+m.m11*y+m.m12, 1e-9)
		}
	}
}

func TestFlipAfterAffine(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(5, 5)), 12, 9)
	tr := Transform{Theta: 7, Tx: 1.5, Ty: -2.25, Shear: 3, Zx: 0.9, Zy: 1.1}
	plain, flipped := &Image{}, &Image{}
	Apply(plain, src, tr, Reflect, 0)
	tr.FlipH, tr.FlipV = true, true
	Apply(flipped, src, tr, Reflect, 0)
	requireImgNear(t, flipped, func(x, y, c int) float32 { return at(plain, 11-x, 8-y, c) }, 1e-3)
}

func TestBrightness(t *testing.T) {
	grey := makeImg(4, 3, func(x, y, c int) float32 { return 128 })
	dst := &Image{}
	Apply(dst, grey, Transform{Brightness: 0.5}, Reflect, 0)
	requireImgNear(t, dst, func(x, y, c int) float32 { return 64 }, 0)

	src := makeImg(2, 1, func(x, y, c int) float32 { return []float32{100, 200}[x] })
	Apply(dst, src, Transform{Brightness: 1.5}, Reflect, 0)
	requireImgNear(t, dst, func(x, y, c int) float32 { return []float32{150, 255}[x] }, 0)
}

func TestApplyAliasingAndReuse(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(9, 9)), 10, 8)
	tr := Transform{Theta: 12, Tx: 2, Zx: 0.8, Brightness: 1.2}
	want := &Image{}
	Apply(want, src, tr, Reflect, 0)
	inPlace := &Image{W: src.W, H: src.H, Pix: append([]float32(nil), src.Pix...)}
	Apply(inPlace, inPlace, tr, Reflect, 0)
	require.Equal(t, want.Pix, inPlace.Pix)

	big := &Image{Pix: make([]float32, 1000)}
	p0 := &big.Pix[0]
	Apply(big, src, tr, Reflect, 0)
	require.Equal(t, 10, big.W)
	require.Len(t, big.Pix, 10*8*3)
	require.Same(t, p0, &big.Pix[0], "dst.Pix should be reused")
	require.Equal(t, want.Pix, big.Pix)
}

func TestApplyTinyImages(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {1, 4}, {4, 1}, {0, 0}} {
		src := distinct(sz[0], sz[1])
		for _, fill := range []FillMode{Nearest, Reflect, Constant, Wrap} {
			dst := &Image{}
			require.NotPanics(t, func() { Apply(dst, src, Transform{Theta: 33, Tx: 3, Zx: 1.3}, fill, 0) })
			Apply(dst, src, Transform{}, fill, 0)
			require.Len(t, dst.Pix, len(src.Pix))
			if len(src.Pix) > 0 {
				require.Equal(t, src.Pix, dst.Pix)
			}
		}
	}
	require.Panics(t, func() { Apply(&Image{}, distinct(2, 2), Transform{}, FillMode(9), 0) })
}
