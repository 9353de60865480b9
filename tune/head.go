package tune

import (
	"fmt"

	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/tf"
)

// l2Epsilon is tf.math.l2_normalize's floor on the squared norm, as head.NormL2 uses.
const l2Epsilon = 1e-12

// checkHead validates a linear head for features of length f and the given classes.
func checkHead(w *head.Weights, f, classes int) error {
	units := outputs(classes)
	if w.Classes != classes || len(w.W) != f || len(w.B) != units {
		return fmt.Errorf("the head has %d classes, %d kernel rows and %d biases; want %d classes, %d rows (the backbone's features) and %d biases",
			w.Classes, len(w.W), len(w.B), classes, f, units)
	}
	for j, row := range w.W {
		if len(row) != units {
			return fmt.Errorf("the head's kernel row %d has %d values, want %d", j, len(row), units)
		}
	}
	if w.Normalization == head.NormStandardize && (len(w.Mean) != f || len(w.Scale) != f) {
		return fmt.Errorf("the head standardises with %d means and %d scales, want %d of each", len(w.Mean), len(w.Scale), f)
	}
	if w.Normalization < head.NormNone || w.Normalization > head.NormStandardize {
		return fmt.Errorf("the head has an unknown normalization %d", int(w.Normalization))
	}
	return nil
}

// outputs returns the number of output units: one sigmoid unit for two classes.
func outputs(classes int) int {
	if classes == 2 {
		return 1
	}
	return classes
}

// constantFunc adds a constant of some precision from float32 values.
type constantFunc func(s *tf.Scope, name string, shape []int64, v ...float32) tf.Output

// normaliseFeatures applies the head's feature normalisation (head.Weights' formula) to x.
func normaliseFeatures(s *tf.Scope, x tf.Output, w *head.Weights, constant constantFunc) tf.Output {
	switch w.Normalization {
	case head.NormL2:
		sq := s.Out("Sum", map[string]any{"keep_dims": true}, s.Out("Square", nil, x), s.ConstInt32("feature_axis", []int64{1}, []int32{1}))
		return s.Out("Mul", nil, x, s.Out("Rsqrt", nil, s.Out("Maximum", nil, sq, constant(s, "epsilon", nil, l2Epsilon))))
	case head.NormStandardize:
		f := int64(len(w.Mean))
		return s.Out("RealDiv", nil, s.Out("Sub", nil, x, constant(s, "mean", []int64{f}, f32(w.Mean)...)),
			constant(s, "scale", []int64{f}, f32(w.Scale)...))
	}
	return x
}

// HeadLogits adds the linear head w, with constant weights, on the features to the graph of s
// and returns its logits: the formula of head.Weights in float32.
func HeadLogits(s *tf.Scope, features tf.Output, w *head.Weights) tf.Output {
	f, u := int64(len(w.W)), int64(len(w.B))
	x := normaliseFeatures(s, features, w, constant32)
	return s.Out("BiasAdd", nil, s.Out("MatMul", nil, x, s.ConstFloat("kernel", []int64{f, u}, flatten(w.W))),
		s.ConstFloat("bias", []int64{u}, f32(w.B)))
}

func constant32(s *tf.Scope, name string, shape []int64, v ...float32) tf.Output {
	return s.ConstFloat(name, shape, v)
}

// flatten returns a row-major float32 copy of a matrix.
func flatten(rows [][]float64) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, f32(r)...)
	}
	return out
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
