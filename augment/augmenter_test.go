package augment

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func articleAugmenter(t testing.TB, seed uint64) *Augmenter {
	st := Stats{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.25, 0.2, 0.15}}
	a, err := New(Article(), &st, seed)
	require.NoError(t, err)
	return a
}

func TestArticleParams(t *testing.T) {
	p := Article()
	require.Equal(t, 15.0, p.RotationRange)
	require.Equal(t, 0.2, p.WidthShiftRange)
	require.Equal(t, 0.2, p.HeightShiftRange)
	require.Equal(t, 0.2, p.ShearRange)
	require.Equal(t, [2]float64{0.8, 1.2}, p.ZoomRange)
	require.True(t, p.HorizontalFlip)
	require.True(t, p.VerticalFlip)
	require.Equal(t, [2]float64{0.5, 1.5}, p.BrightnessRange)
	require.Equal(t, Reflect, p.FillMode)
	require.InDelta(t, 1.0/255, p.Rescale, 1e-9)
	require.True(t, p.FeaturewiseCenter)
	require.True(t, p.FeaturewiseStdNormalization)
}

func TestParseFillMode(t *testing.T) {
	for _, m := range []FillMode{Nearest, Reflect, Constant, Wrap} {
		got, err := ParseFillMode(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	got, err := ParseFillMode(" Reflect ")
	require.NoError(t, err)
	require.Equal(t, Reflect, got)
	_, err = ParseFillMode("mirror")
	require.Error(t, err)
	require.Equal(t, "reflect", Reflect.String())
	require.Equal(t, "FillMode(7)", FillMode(7).String())
}

func TestNewValidation(t *testing.T) {
	_, err := New(Article(), nil, 1)
	require.ErrorContains(t, err, "stats")

	p := Article()
	p.FeaturewiseCenter, p.FeaturewiseStdNormalization = false, false
	_, err = New(p, nil, 1)
	require.NoError(t, err)

	bad := []func(p *Params){
		func(p *Params) { p.RotationRange = -1 },
		func(p *Params) { p.WidthShiftRange = -0.1 },
		func(p *Params) { p.ZoomRange = [2]float64{1.2, 0.8} },
		func(p *Params) { p.ZoomRange = [2]float64{0, 1.2} },
		func(p *Params) { p.BrightnessRange = [2]float64{1.5, 0.5} },
		func(p *Params) { p.FillMode = FillMode(42) },
	}
	for i, f := range bad {
		q := p
		f(&q)
		_, err := New(q, nil, 1)
		require.Error(t, err, "case %d", i)
	}
	_, err = New(Article(), &Stats{Std: [3]float32{-1, 1, 1}}, 1)
	require.Error(t, err)
}

func TestDrawArticleRanges(t *testing.T) {
	a := articleAugmenter(t, 42)
	const w, h, n = 100, 50, 20000
	var minT, maxT, minTx, maxTx, minTy, maxTy, minS, maxS = 1e9, -1e9, 1e9, -1e9, 1e9, -1e9, 1e9, -1e9
	var minZ, maxZ, minB, maxB = 1e9, -1e9, 1e9, -1e9
	var flipH, flipV, zxLess int
	for range n {
		tr := a.Draw(w, h)
		require.LessOrEqual(t, tr.Theta, 15.0)
		require.GreaterOrEqual(t, tr.Theta, -15.0)
		require.LessOrEqual(t, tr.Tx, 0.2*w)
		require.GreaterOrEqual(t, tr.Tx, -0.2*w)
		require.LessOrEqual(t, tr.Ty, 0.2*h)
		require.GreaterOrEqual(t, tr.Ty, -0.2*h)
		require.LessOrEqual(t, tr.Shear, 0.2)
		require.GreaterOrEqual(t, tr.Shear, -0.2)
		for _, z := range []float64{tr.Zx, tr.Zy} {
			require.GreaterOrEqual(t, z, 0.8)
			require.LessOrEqual(t, z, 1.2)
			minZ, maxZ = min(minZ, z), max(maxZ, z)
		}
		if tr.Zx < tr.Zy {
			zxLess++
		}
		require.GreaterOrEqual(t, tr.Brightness, 0.5)
		require.LessOrEqual(t, tr.Brightness, 1.5)
		minT, maxT = min(minT, tr.Theta), max(maxT, tr.Theta)
		minTx, maxTx = min(minTx, tr.Tx), max(maxTx, tr.Tx)
		minTy, maxTy = min(minTy, tr.Ty), max(maxTy, tr.Ty)
		minS, maxS = min(minS, tr.Shear), max(maxS, tr.Shear)
		minB, maxB = min(minB, tr.Brightness), max(maxB, tr.Brightness)
		if tr.FlipH {
			flipH++
		}
		if tr.FlipV {
			flipV++
		}
	}
	// The ranges are actually used (not just bounded).
	require.Less(t, minT, -14.5)
	require.Greater(t, maxT, 14.5)
	require.Less(t, minTx, -19.0)
	require.Greater(t, maxTx, 19.0)
	require.Less(t, minTy, -9.5)
	require.Greater(t, maxTy, 9.5)
	require.Less(t, minS, -0.19)
	require.Greater(t, maxS, 0.19)
	require.Less(t, minZ, 0.81)
	require.Greater(t, maxZ, 1.19)
	require.Less(t, minB, 0.51)
	require.Greater(t, maxB, 1.49)
	require.InDelta(t, n/2, flipH, n/20)
	require.InDelta(t, n/2, flipV, n/20)
	require.InDelta(t, n/2, zxLess, n/20, "Zx and Zy should be independent")
}

func TestDrawPixelShiftsAndDisabled(t *testing.T) {
	a, err := New(Params{WidthShiftRange: 3, HeightShiftRange: 0.5}, nil, 1)
	require.NoError(t, err)
	var maxTx float64
	for range 2000 {
		tr := a.Draw(100, 40)
		require.LessOrEqual(t, tr.Tx, 3.0) // >= 1: pixels, not a fraction
		require.GreaterOrEqual(t, tr.Tx, -3.0)
		require.LessOrEqual(t, tr.Ty, 20.0) // 0.5·40
		require.GreaterOrEqual(t, tr.Ty, -20.0)
		maxTx = max(maxTx, tr.Tx)
	}
	require.Greater(t, maxTx, 2.5)

	off, err := New(Params{}, nil, 1)
	require.NoError(t, err)
	for range 100 {
		require.Equal(t, Transform{Zx: 1, Zy: 1, Brightness: 1}, off.Draw(64, 64))
	}
	src := randomImg(rand.New(rand.NewPCG(1, 1)), 9, 7)
	dst := &Image{}
	off.Random(dst, src)
	require.Equal(t, src.Pix, dst.Pix)
}

func TestDeterminismAndForks(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(3, 4)), 32, 24)
	run := func(a *Augmenter) [][]float32 {
		var out [][]float32
		for range 5 {
			dst := &Image{}
			a.Random(dst, src)
			out = append(out, dst.Pix)
		}
		return out
	}
	same1 := run(articleAugmenter(t, 7))
	same2 := run(articleAugmenter(t, 7))
	require.Equal(t, same1, same2)
	other := run(articleAugmenter(t, 8))
	for i := range other {
		require.NotEqual(t, same1[i], other[i])
	}

	a := articleAugmenter(t, 7)
	f0, f1 := a.Fork(0), a.Fork(1)
	d0, d1, dp := f0.Draw(64, 64), f1.Draw(64, 64), a.Draw(64, 64)
	require.NotEqual(t, d0, d1)
	require.NotEqual(t, d0, dp)
	require.NotEqual(t, d1, dp)

	// Fork depends only on the seed and i, not on the parent's usage.
	b := articleAugmenter(t, 7)
	for range 10 {
		b.Draw(64, 64)
	}
	require.Equal(t, run(a.Fork(3)), run(b.Fork(3)))
	require.NotEqual(t, run(a.Fork(3)), run(articleAugmenter(t, 8).Fork(3)))
}

func TestRandomEqualsApplyThenStandardize(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(11, 12)), 40, 30)
	a, b := articleAugmenter(t, 99), articleAugmenter(t, 99)
	for range 20 {
		got := &Image{}
		a.Random(got, src)
		tr := b.Draw(src.W, src.H)
		want := &Image{}
		Apply(want, src, tr, Reflect, 0)
		b.Standardize(want, want)
		requireImgNear(t, got, func(x, y, c int) float32 { return at(want, x, y, c) }, 1e-5)
	}
}

func TestRandomInPlaceAndNoAllocs(t *testing.T) {
	src := randomImg(rand.New(rand.NewPCG(13, 14)), 20, 16)
	want := &Image{}
	articleAugmenter(t, 5).Random(want, src)
	inPlace := &Image{W: src.W, H: src.H, Pix: append([]float32(nil), src.Pix...)}
	articleAugmenter(t, 5).Random(inPlace, inPlace)
	require.Equal(t, want.Pix, inPlace.Pix)

	a := articleAugmenter(t, 5)
	dst := NewImage(20, 16)
	allocs := testing.AllocsPerRun(100, func() { a.Random(dst, src) })
	require.Zero(t, allocs)
}
