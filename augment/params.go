package augment

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// FillMode selects how source coordinates outside the image are resolved,
// with Keras' (scipy.ndimage's) meanings. For a row a b c d:
//
//	Nearest:  a a a a | a b c d | d d d d
//	Reflect:  d c b a | a b c d | d c b a   (half-sample symmetric)
//	Constant: k k k k | a b c d | k k k k   (k = Cval)
//	Wrap:     a b c d | a b c d | a b c d   (periodic)
//
// Nearest, Reflect and Wrap extend the image and interpolate bilinearly in
// the extended image. Constant returns Cval for any sampling point outside
// [0, W−1]×[0, H−1] (no blending with Cval across the edge, like scipy's
// 'constant' rather than 'grid-constant'); points within 1e-6 px of the
// edge count as inside. Wrap is the true periodic extension (Keras'
// documented "abcdabcd|abcd|abcdabcd", scipy's 'grid-wrap').
type FillMode int

// Fill modes. The zero value is Nearest, Keras' default.
const (
	Nearest FillMode = iota
	Reflect
	Constant
	Wrap
)

var fillModeNames = [...]string{Nearest: "nearest", Reflect: "reflect", Constant: "constant", Wrap: "wrap"}

// String returns the Keras name of the fill mode ("nearest", "reflect",
// "constant", "wrap").
func (f FillMode) String() string {
	if f >= 0 && int(f) < len(fillModeNames) {
		return fillModeNames[f]
	}
	return fmt.Sprintf("FillMode(%d)", int(f))
}

func (f FillMode) valid() bool { return f >= 0 && int(f) < len(fillModeNames) }

// ParseFillMode parses a Keras fill_mode name (case-insensitive).
func ParseFillMode(s string) (FillMode, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range fillModeNames {
		if n == t {
			return FillMode(i), nil
		}
	}
	return 0, fmt.Errorf("augment: unknown fill mode %q (want nearest, reflect, constant or wrap)", s)
}

// Params uses Keras ImageDataGenerator's names and meanings. The zero
// value disables every augmentation.
type Params struct {
	// RotationRange is in degrees; the angle is uniform in [-r, r].
	RotationRange float64
	// WidthShiftRange is a fraction of the width if < 1 (shift uniform in
	// [-r, r]·W), otherwise a number of pixels (uniform in [-r, r]).
	// Keras draws integer ranges from a discrete set of pixel offsets; here
	// any value >= 1 is a continuous range in pixels.
	WidthShiftRange float64
	// HeightShiftRange is WidthShiftRange for the height.
	HeightShiftRange float64
	// ShearRange is a shear angle in DEGREES, uniform in [-s, s] (Keras'
	// meaning; shear_range=0.2 is 0.2°, not 0.2 rad).
	ShearRange float64
	// ZoomRange is [lo, hi]; Keras zoom_range=z means [1-z, 1+z]. Zx and Zy
	// are drawn independently, uniform in [lo, hi]. The zero value [0, 0]
	// means no zoom (like [1, 1]).
	ZoomRange [2]float64
	// HorizontalFlip flips left-right with probability 1/2.
	HorizontalFlip bool
	// VerticalFlip flips top-bottom with probability 1/2.
	VerticalFlip bool
	// BrightnessRange is [lo, hi], e.g. [0.5, 1.5]; pixel values are
	// multiplied by a factor uniform in [lo, hi] and clipped to [0, 255].
	// The zero value [0, 0] disables it.
	BrightnessRange [2]float64
	// FillMode resolves source coordinates outside the image.
	FillMode FillMode
	// Cval is the fill value (0..255 scale) for FillMode Constant.
	Cval float32
	// Rescale multiplies values after the random transforms, e.g. 1/255;
	// 0 means no rescaling.
	Rescale float32
	// FeaturewiseCenter subtracts Stats.Mean (per channel).
	FeaturewiseCenter bool
	// FeaturewiseStdNormalization divides by Stats.Std + 1e-6 (per channel).
	FeaturewiseStdNormalization bool
}

// Article returns the settings of the reproduced article:
// ImageDataGenerator(rescale=1/255, shear_range=0.2, zoom_range=0.2,
// horizontal_flip=True, vertical_flip=True, width_shift_range=0.2,
// height_shift_range=0.2, rotation_range=15, fill_mode='reflect',
// brightness_range=[0.5, 1.5], featurewise_center=True,
// featurewise_std_normalization=True).
func Article() Params {
	return Params{
		RotationRange:               15,
		WidthShiftRange:             0.2,
		HeightShiftRange:            0.2,
		ShearRange:                  0.2,
		ZoomRange:                   [2]float64{0.8, 1.2},
		HorizontalFlip:              true,
		VerticalFlip:                true,
		BrightnessRange:             [2]float64{0.5, 1.5},
		FillMode:                    Reflect,
		Rescale:                     1.0 / 255,
		FeaturewiseCenter:           true,
		FeaturewiseStdNormalization: true,
	}
}

// Light returns the mild augmentation that frozen-backbone transfer usually wants: horizontal
// flips, small shifts and zoom (up to 10%), mild brightness (0.85-1.15), reflect fill; no
// rotation, shear or vertical flip, which change what a photo shows. Like Article it rescales
// and normalises featurewise (a backbone ignores both and normalises as its spec says).
func Light() Params {
	return Params{
		WidthShiftRange:             0.05,
		HeightShiftRange:            0.05,
		ZoomRange:                   [2]float64{0.9, 1.1},
		HorizontalFlip:              true,
		BrightnessRange:             [2]float64{0.85, 1.15},
		FillMode:                    Reflect,
		Rescale:                     1.0 / 255,
		FeaturewiseCenter:           true,
		FeaturewiseStdNormalization: true,
	}
}

// zoomOn reports whether zoom is enabled.
func (p *Params) zoomOn() bool {
	return !(p.ZoomRange == [2]float64{} || p.ZoomRange == [2]float64{1, 1})
}

// brightnessOn reports whether brightness is enabled.
func (p *Params) brightnessOn() bool {
	return p.BrightnessRange != [2]float64{}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// validate checks ranges for consistency.
func (p *Params) validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"RotationRange", p.RotationRange},
		{"WidthShiftRange", p.WidthShiftRange},
		{"HeightShiftRange", p.HeightShiftRange},
		{"ShearRange", p.ShearRange},
	} {
		if !finite(r.v) || r.v < 0 {
			errs = append(errs, fmt.Errorf("%s must be finite and >= 0, got %v", r.name, r.v))
		}
	}
	if p.zoomOn() {
		lo, hi := p.ZoomRange[0], p.ZoomRange[1]
		if !finite(lo) || !finite(hi) || lo <= 0 || lo > hi {
			errs = append(errs, fmt.Errorf("ZoomRange must satisfy 0 < lo <= hi, got %v", p.ZoomRange))
		}
	}
	if p.brightnessOn() {
		lo, hi := p.BrightnessRange[0], p.BrightnessRange[1]
		if !finite(lo) || !finite(hi) || lo < 0 || lo > hi {
			errs = append(errs, fmt.Errorf("BrightnessRange must satisfy 0 <= lo <= hi, got %v", p.BrightnessRange))
		}
	}
	if !p.FillMode.valid() {
		errs = append(errs, fmt.Errorf("invalid FillMode %v", p.FillMode))
	}
	if !finite(float64(p.Rescale)) || !finite(float64(p.Cval)) {
		errs = append(errs, errors.New("Rescale and Cval must be finite"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("augment: invalid params: %w", errors.Join(errs...))
	}
	return nil
}
