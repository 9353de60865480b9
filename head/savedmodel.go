package head

import (
	"fmt"

	"github.com/lessdata/lessdata/tf"
)

// Freeze writes the head as a SavedModel in dir (which must not exist), in the layout of
// nn.Net.Freeze so that a model bundle reads either: the serving_default signature maps "input"
// (float32 [-1, D] features) to "probabilities" ([-1, 1] for two classes, the probability of
// class 1; [-1, K] for more) and "logits". The graph computes the formula of Weights in float32.
func (w Weights) Freeze(dir string) error {
	if len(w.W) == 0 || len(w.B) == 0 {
		return fmt.Errorf("head: freeze: no weights")
	}
	d, k := len(w.W), len(w.B)
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	defer g.Close()
	s := tf.NewScope(g)
	x := s.Placeholder("input", tf.Float, tf.Shape{-1, int64(d)})
	u := x
	switch w.Normalization {
	case NormL2:
		sq := s.Out("Sum", map[string]any{"keep_dims": true}, s.Out("Square", nil, x), s.ConstInt32("axis", []int64{1}, []int32{1}))
		floor := s.ConstFloat("epsilon", nil, []float32{l2Epsilon})
		u = s.Out("Mul", nil, x, s.Out("Rsqrt", nil, s.Out("Maximum", nil, sq, floor)))
	case NormStandardize:
		if len(w.Mean) != d || len(w.Scale) != d {
			return fmt.Errorf("head: freeze: %d means and %d scales for %d features", len(w.Mean), len(w.Scale), d)
		}
		u = s.Out("RealDiv", nil, s.Out("Sub", nil, x, s.ConstFloat("mean", []int64{int64(d)}, f32(w.Mean))),
			s.ConstFloat("scale", []int64{int64(d)}, f32(w.Scale)))
	}
	flat := make([]float64, 0, d*k)
	for _, row := range w.W {
		flat = append(flat, row...)
	}
	z := s.Out("BiasAdd", nil, s.Out("MatMul", nil, u, s.ConstFloat("kernel", []int64{int64(d), int64(k)}, f32(flat))),
		s.ConstFloat("bias", []int64{int64(k)}, f32(w.B)))
	logits := s.Identity("logits", z)
	act := "Softmax"
	if w.Classes == 2 {
		act = "Sigmoid"
	}
	probs := s.Identity("probabilities", s.Out(act, nil, logits))
	if err := s.Err(); err != nil {
		return fmt.Errorf("head: freeze: %w", err)
	}
	info := func(o tf.Output, shape ...int64) tf.TensorInfo {
		return tf.TensorInfo{Name: o.Name(), DType: tf.Float, Shape: shape}
	}
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs:  map[string]tf.TensorInfo{"input": info(x, -1, int64(d))},
		Outputs: map[string]tf.TensorInfo{"probabilities": info(probs, -1, int64(k)), "logits": info(logits, -1, int64(k))}}
	if err := tf.WriteSavedModel(dir, g, nil, []tf.Signature{sig}); err != nil {
		return fmt.Errorf("head: freeze: %w", err)
	}
	return nil
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
