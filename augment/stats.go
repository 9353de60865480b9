package augment

import "math"

// stdEpsilon is added to Stats.Std before dividing, as Keras' standardize
// does (x /= std + 1e-6).
const stdEpsilon = 1e-6

// Stats holds per-channel feature-wise statistics (R, G, B), computed on
// rescaled values, i.e. on the same scale as the data they standardise.
type Stats struct {
	Mean, Std [3]float32
}

// Fit computes per-channel mean and population standard deviation (ddof 0,
// like numpy's np.std) over all pixels of imgs, after multiplying by
// p.Rescale (when non-zero). No random transforms are applied (Keras'
// fit(augment=False)).
//
// Note: Keras' fit() computes the statistics on the raw array it is given,
// while standardize() subtracts them after rescaling; with rescale=1/255 and
// raw 0..255 input that mismatch is a well-known Keras pitfall. Fit applies
// the rescale first so that Standardize yields zero mean and unit variance
// on the training set. With no pixels at all, Fit returns Mean 0, Std 1.
// Fit panics if an image's Pix is shorter than W×H×3.
func Fit(p Params, imgs []*Image) Stats {
	scale := 1.0
	if p.Rescale != 0 {
		scale = float64(p.Rescale)
	}
	var sum [channels]float64
	var count int
	for _, im := range imgs {
		n := pixLen(im)
		for i := 0; i < n; i += channels {
			for ch := range channels {
				sum[ch] += float64(im.Pix[i+ch])
			}
		}
		count += n / channels
	}
	st := Stats{Std: [3]float32{1, 1, 1}}
	if count == 0 {
		return st
	}
	var mean [channels]float64
	for ch := range channels {
		mean[ch] = sum[ch] / float64(count)
	}
	// Second pass on deviations for numerical accuracy.
	var ss [channels]float64
	for _, im := range imgs {
		n := pixLen(im)
		for i := 0; i < n; i += channels {
			for ch := range channels {
				d := float64(im.Pix[i+ch]) - mean[ch]
				ss[ch] += d * d
			}
		}
	}
	for ch := range channels {
		st.Mean[ch] = float32(mean[ch] * scale)
		st.Std[ch] = float32(math.Sqrt(ss[ch]/float64(count)) * math.Abs(scale))
	}
	return st
}
