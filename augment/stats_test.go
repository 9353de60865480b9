package augment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFitExact(t *testing.T) {
	// R: 0 10 20 30 → mean 15, std sqrt(125); G: constant 7 → std 0;
	// B: 1 2 3 4 → mean 2.5, std sqrt(1.25).
	a := &Image{W: 2, H: 1, Pix: []float32{0, 7, 1, 10, 7, 2}}
	b := &Image{W: 1, H: 2, Pix: []float32{20, 7, 3, 30, 7, 4}}
	st := Fit(Params{}, []*Image{a, b})
	require.InDelta(t, 15, st.Mean[0], 1e-6)
	require.InDelta(t, 7, st.Mean[1], 1e-6)
	require.InDelta(t, 2.5, st.Mean[2], 1e-6)
	require.InDelta(t, math.Sqrt(125), st.Std[0], 1e-5)
	require.InDelta(t, 0, st.Std[1], 1e-9)
	require.InDelta(t, math.Sqrt(1.25), st.Std[2], 1e-6)

	// Rescale is applied before computing the statistics.
	st = Fit(Params{Rescale: 0.5}, []*Image{a, b})
	require.InDelta(t, 7.5, st.Mean[0], 1e-6)
	require.InDelta(t, 3.5, st.Mean[1], 1e-6)
	require.InDelta(t, math.Sqrt(125)/2, st.Std[0], 1e-5)

	require.Equal(t, Stats{Std: [3]float32{1, 1, 1}}, Fit(Params{}, nil))
}

func TestStandardizeAfterFit(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var imgs []*Image
	for i := range 6 {
		imgs = append(imgs, makeImg(16+i, 12, func(x, y, c int) float32 {
			return float32(30*c) + float32(r.IntN(120)) // different mean per channel
		}))
	}
	p := Article()
	st := Fit(p, imgs)
	a, err := New(p, &st, 1)
	require.NoError(t, err)
	var sum, sq [3]float64
	var n int
	for _, im := range imgs {
		out := &Image{}
		a.Standardize(out, im)
		for i := 0; i < len(out.Pix); i += 3 {
			for c := range 3 {
				v := float64(out.Pix[i+c])
				sum[c] += v
				sq[c] += v * v
			}
		}
		n += im.W * im.H
	}
	for c := range 3 {
		mean := sum[c] / float64(n)
		std := math.Sqrt(sq[c]/float64(n) - mean*mean)
		require.InDelta(t, 0, mean, 1e-4, "channel %d", c)
		require.InDelta(t, 1, std, 1e-4, "channel %d", c)
	}
}

func TestStandardizeRescaleOnly(t *testing.T) {
	a, err := New(Params{Rescale: 1.0 / 255}, nil, 1)
	require.NoError(t, err)
	src := distinct(3, 2)
	dst := &Image{}
	a.Standardize(dst, src)
	requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, x, y, c) / 255 }, 1e-7)

	// Center only, no std: v·r − mean.
	st := Stats{Mean: [3]float32{0.1, 0.2, 0.3}, Std: [3]float32{9, 9, 9}}
	a, err = New(Params{Rescale: 1.0 / 255, FeaturewiseCenter: true}, &st, 1)
	require.NoError(t, err)
	a.Standardize(dst, src)
	requireImgNear(t, dst, func(x, y, c int) float32 { return at(src, x, y, c)/255 - st.Mean[c] }, 1e-6)

	// No rescale, no featurewise: copy.
	a, err = New(Params{}, nil, 1)
	require.NoError(t, err)
	a.Standardize(dst, src)
	require.Equal(t, src.Pix, dst.Pix)
}
