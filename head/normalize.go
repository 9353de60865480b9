package head

import (
	"fmt"
	"math"
	"strings"
)

// Normalization is how a linear head transforms a feature vector before its affine map.
type Normalization int

const (
	// NormNone uses the features as they are.
	NormNone Normalization = iota
	// NormL2 divides each feature vector by its Euclidean norm: u = x / sqrt(max(Σx², 1e-12)),
	// exactly TensorFlow's tf.math.l2_normalize(x, axis=-1).
	NormL2
	// NormStandardize subtracts the training rows' (weighted) mean and divides by their
	// (weighted, population) standard deviation, feature by feature; a feature that is constant
	// on the training rows is only centred.
	NormStandardize
)

// l2Epsilon is tf.math.l2_normalize's default floor on the squared norm.
const l2Epsilon = 1e-12

var normNames = [...]string{NormNone: "none", NormL2: "l2", NormStandardize: "standardize"}

// String returns the normalisation's name: none, l2 or standardize.
func (n Normalization) String() string {
	if n < 0 || int(n) >= len(normNames) {
		return fmt.Sprintf("Normalization(%d)", int(n))
	}
	return normNames[n]
}

// ParseNormalization reads a name written by String.
func ParseNormalization(s string) (Normalization, error) {
	for i, name := range normNames {
		if strings.EqualFold(s, name) {
			return Normalization(i), nil
		}
	}
	return 0, fmt.Errorf("head: unknown normalization %q (want none, l2 or standardize)", s)
}

// MarshalText writes the name, so that JSON records read "l2" rather than 1.
func (n Normalization) MarshalText() ([]byte, error) {
	if n < 0 || int(n) >= len(normNames) {
		return nil, fmt.Errorf("head: unknown normalization %d", int(n))
	}
	return []byte(n.String()), nil
}

// UnmarshalText reads a name written by MarshalText.
func (n *Normalization) UnmarshalText(b []byte) error {
	v, err := ParseNormalization(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}

// standardizer holds the per-feature mean and scale of NormStandardize.
type standardizer struct {
	mean, scale []float64
}

// fitStandardizer measures the weighted mean and population standard deviation of the given
// rows of x (n×d, row-major). A feature whose standard deviation is at rounding level of its
// mean gets scale 1.
func fitStandardizer(x []float64, d int, rows []int, weight []float64) standardizer {
	s := standardizer{mean: make([]float64, d), scale: make([]float64, d)}
	var total float64
	for _, i := range rows {
		w := weight[i]
		total += w
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			s.mean[j] += w * v
		}
	}
	for j := range s.mean {
		s.mean[j] /= total
	}
	for _, i := range rows {
		w := weight[i]
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			dv := v - s.mean[j]
			s.scale[j] += w * dv * dv
		}
	}
	for j := range s.scale {
		sd := math.Sqrt(s.scale[j] / total)
		if sd <= 1e-12*math.Max(1, math.Abs(s.mean[j])) {
			sd = 1
		}
		s.scale[j] = sd
	}
	return s
}

// apply standardises row in place.
func (s standardizer) apply(row []float64) {
	for j := range row {
		row[j] = (row[j] - s.mean[j]) / s.scale[j]
	}
}

// l2Normalize divides row in place by its Euclidean norm (see NormL2).
func l2Normalize(row []float64) {
	var ss float64
	for _, v := range row {
		ss += v * v
	}
	inv := 1 / math.Sqrt(math.Max(ss, l2Epsilon))
	for j := range row {
		row[j] *= inv
	}
}
