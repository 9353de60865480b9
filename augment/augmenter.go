package augment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Augmenter applies random transforms; it is deterministic for a seed and
// safe to use from one goroutine; Fork(i) gives independent streams for
// parallel workers.
type Augmenter struct {
	p       Params
	stats   Stats
	seed    uint64
	rng     *rand.Rand
	pp      *post // nil when Standardize is the identity
	scratch []float32
}

// New returns an Augmenter for p. stats may be nil when neither
// FeaturewiseCenter nor FeaturewiseStdNormalization is set; otherwise New
// returns an error, as it does for inconsistent params.
func New(p Params, stats *Stats, seed uint64) (*Augmenter, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	a := &Augmenter{p: p, seed: seed, rng: newRand(seed)}
	if p.FeaturewiseCenter || p.FeaturewiseStdNormalization {
		if stats == nil {
			return nil, errors.New("augment: featurewise normalisation requested but stats is nil (use Fit)")
		}
		for ch := range channels {
			m, s := float64(stats.Mean[ch]), float64(stats.Std[ch])
			if !finite(m) || !finite(s) || s < 0 {
				return nil, fmt.Errorf("augment: invalid stats for channel %d: mean %v std %v", ch, m, s)
			}
		}
		a.stats = *stats
	}
	a.pp = a.makePost()
	return a, nil
}

// makePost folds rescale and feature-wise normalisation into one
// per-channel v·scale + off.
func (a *Augmenter) makePost() *post {
	p := &a.p
	if p.Rescale == 0 && !p.FeaturewiseCenter && !p.FeaturewiseStdNormalization {
		return nil
	}
	var pp post
	for ch := range channels {
		scale, off := 1.0, 0.0
		if p.Rescale != 0 {
			scale = float64(p.Rescale)
		}
		if p.FeaturewiseCenter {
			off = -float64(a.stats.Mean[ch])
		}
		if p.FeaturewiseStdNormalization {
			d := float64(a.stats.Std[ch]) + stdEpsilon
			scale /= d
			off /= d
		}
		pp.scale[ch], pp.off[ch] = float32(scale), float32(off)
	}
	return &pp
}

// splitmix64 is a bijective 64-bit mixer used to derive seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix64(seed), splitmix64(seed^0x6a09e667f3bcc909)))
}

// Params returns the parameters of a.
func (a *Augmenter) Params() Params { return a.p }

// Fork returns an independent Augmenter with the same parameters and
// statistics whose random stream is derived from a's seed and i only (not
// from how much a has been used), so worker i gets the same stream in
// every run. Different i give different streams, all different from a's.
func (a *Augmenter) Fork(i int) *Augmenter {
	seed := splitmix64(a.seed ^ splitmix64(uint64(i)^0xbb67ae8584caa73b))
	return &Augmenter{p: a.p, stats: a.stats, seed: seed, rng: newRand(seed), pp: a.pp}
}

// uniform returns a value uniform in [lo, hi).
func (a *Augmenter) uniform(lo, hi float64) float64 {
	return lo + (hi-lo)*a.rng.Float64()
}

// shift draws a shift for range r over a dimension of size n.
func (a *Augmenter) shift(r float64, n int) float64 {
	v := a.uniform(-r, r)
	if r < 1 {
		v *= float64(n)
	}
	return v
}

// Draw draws a random transform for a w×h image from the params (Keras'
// get_random_transform): Theta uniform in ±RotationRange, Tx in
// ±WidthShiftRange (·w if < 1), Ty in ±HeightShiftRange (·h if < 1), Shear
// in ±ShearRange, Zx and Zy independently uniform in ZoomRange, each flip
// with probability 1/2 if enabled, Brightness uniform in BrightnessRange.
// Disabled components are exactly identity (0 or 1).
func (a *Augmenter) Draw(w, h int) Transform {
	p := &a.p
	t := Transform{Zx: 1, Zy: 1, Brightness: 1}
	if p.RotationRange != 0 {
		t.Theta = a.uniform(-p.RotationRange, p.RotationRange)
	}
	if p.WidthShiftRange != 0 {
		t.Tx = a.shift(p.WidthShiftRange, w)
	}
	if p.HeightShiftRange != 0 {
		t.Ty = a.shift(p.HeightShiftRange, h)
	}
	if p.ShearRange != 0 {
		t.Shear = a.uniform(-p.ShearRange, p.ShearRange)
	}
	if p.zoomOn() {
		t.Zx = a.uniform(p.ZoomRange[0], p.ZoomRange[1])
		t.Zy = a.uniform(p.ZoomRange[0], p.ZoomRange[1])
	}
	if p.HorizontalFlip {
		t.FlipH = a.rng.Uint64()&1 == 1
	}
	if p.VerticalFlip {
		t.FlipV = a.rng.Uint64()&1 == 1
	}
	if p.brightnessOn() {
		t.Brightness = a.uniform(p.BrightnessRange[0], p.BrightnessRange[1])
		if t.Brightness == 0 {
			t.Brightness = math.SmallestNonzeroFloat64 // 0 would mean "off"
		}
	}
	return t
}

// Random draws a transform, applies it to src (as Apply with the params'
// fill mode and Cval) and standardises the result (as Standardize) into
// dst. dst is resized to src's size, reusing dst.Pix when it is large
// enough; dst may be src.
func (a *Augmenter) Random(dst, src *Image) {
	n := pixLen(src)
	t := a.Draw(src.W, src.H)
	in := src.Pix[:n]
	if aliases(dst, src) {
		if cap(a.scratch) < n {
			a.scratch = make([]float32, n)
		}
		a.scratch = a.scratch[:n]
		copy(a.scratch, in)
		in = a.scratch
	}
	prepare(dst, src)
	render(dst.Pix, in, src.W, src.H, t, a.p.FillMode, a.p.Cval, a.pp)
}

// Standardize applies only Rescale and feature-wise normalisation (the
// validation path): v·Rescale, minus Mean if FeaturewiseCenter, divided by
// Std + 1e-6 if FeaturewiseStdNormalization. dst may be src.
func (a *Augmenter) Standardize(dst, src *Image) {
	n := pixLen(src)
	in := src.Pix[:n]
	prepare(dst, src)
	out := dst.Pix[:n]
	if a.pp == nil {
		copy(out, in)
		return
	}
	pp := a.pp
	for i := 0; i+channels <= n; i += channels {
		for ch := range channels {
			out[i+ch] = in[i+ch]*pp.scale[ch] + pp.off[ch]
		}
	}
}
