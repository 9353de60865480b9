package tune

import (
	"fmt"

	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/tf"
)

// Freeze writes the whole fine-tuned network, backbone and head, as one constants-only
// SavedModel in dir (which must not exist). Its serving_default signature takes "input",
// float32 [-1, H, W, 3] images normalised as the backbone's spec says, and gives
// "probabilities" and "logits" ([-1, 1], one sigmoid unit, for 2 classes, as nn.Net.Freeze;
// [-1, K] otherwise) and "feature_map", the last convolutional activation that Grad-CAM reads.
// "feature_map" names the backbone's own tensor (not a copy), so that gradients reach it.
// Dropout is off.
func (m *Model) Freeze(dir string) error {
	w, err := m.Weights()
	if err != nil {
		return err
	}
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	defer g.Close()
	s := tf.NewScope(g)
	in := m.st.Spec.Input
	input := s.Placeholder("input", tf.Float, tf.Shape{-1, int64(in.Height), int64(in.Width), 3})
	mapping := map[string]tf.Output{m.st.Input: input}
	drop := map[string]bool{}
	ts := s.Sub("tuned")
	for _, v := range m.vars {
		if v.constOfBackbone == "" {
			continue
		}
		mapping[v.constOfBackbone] = ts.ConstFloat(v.constOfBackbone, v.shape, w[v.name])
		drop[v.constOfBackbone] = true
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	def, err := m.st.needed(m.st.GraphDef, drop)
	if err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	if err := g.ImportMapped(def, "backbone", mapping); err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	features, err := g.Output("backbone/" + m.st.Features)
	if err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	fmap, err := g.Output("backbone/" + m.st.FeatureMap)
	if err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	hw, err := m.headOf(w)
	if err != nil {
		return err
	}
	logits := s.Identity("logits", HeadLogits(s.Sub("head"), features, hw))
	act := "Softmax"
	if m.units == 1 {
		act = "Sigmoid"
	}
	probs := s.Identity("probabilities", s.Out(act, nil, logits))
	if err := s.Err(); err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	mapShape, _ := fmap.Shape()
	info := func(o tf.Output, shape ...int64) tf.TensorInfo {
		return tf.TensorInfo{Name: o.Name(), DType: tf.Float, Shape: shape}
	}
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs: map[string]tf.TensorInfo{"input": info(input, -1, int64(in.Height), int64(in.Width), 3)},
		Outputs: map[string]tf.TensorInfo{"probabilities": info(probs, -1, int64(m.units)), "logits": info(logits, -1, int64(m.units)),
			"feature_map": info(fmap, append([]int64{-1}, mapShape[1:]...)...)}}
	if err := tf.WriteSavedModel(dir, g, nil, []tf.Signature{sig}); err != nil {
		return fmt.Errorf("tune: freeze: %w", err)
	}
	return nil
}

// Head returns the trained head in head.Weights' form: its normalisation and its current kernel
// and bias.
func (m *Model) Head() (*head.Weights, error) {
	w, err := m.Weights()
	if err != nil {
		return nil, err
	}
	return m.headOf(w)
}

// headOf builds the head's weights from the values Weights returned.
func (m *Model) headOf(w map[string][]float32) (*head.Weights, error) {
	kernel, bias := w[HeadKernel], w[HeadBias]
	f, u := m.st.Spec.Features.Size, m.units
	if len(kernel) != f*u || len(bias) != u {
		return nil, fmt.Errorf("tune: the head has %d kernel and %d bias values, want %d and %d", len(kernel), len(bias), f*u, u)
	}
	out := &head.Weights{Classes: m.opt.Classes, Normalization: m.head.Normalization, Mean: m.head.Mean, Scale: m.head.Scale,
		W: make([][]float64, f), B: make([]float64, u)}
	for j := range out.W {
		out.W[j] = make([]float64, u)
		for o := range u {
			out.W[j][o] = float64(kernel[j*u+o])
		}
	}
	for o := range u {
		out.B[o] = float64(bias[o])
	}
	return out, nil
}
