package nn

import (
	"fmt"

	"github.com/lessdata/lessdata/tf"
)

// Freeze writes the trained network as a SavedModel in dir (which must not exist): its weights
// become constants, and its serving_default signature maps "input" to "probabilities" and
// "logits". Dropout is off in the frozen graph.
func (n *Net) Freeze(dir string) error {
	w, err := n.Weights()
	if err != nil {
		return err
	}
	b, err := NewBuilder(n.inputShape, n.seed)
	if err != nil {
		return err
	}
	defer b.g.Close()
	b.frozen = w
	logits, probs := head(b, n.arch(b, b.input), n.cfg)
	logits = b.s.Identity("logits", logits)
	probs = b.s.Identity("probabilities", probs)
	if err := b.Err(); err != nil {
		return fmt.Errorf("nn: freeze: %w", err)
	}
	info := func(o tf.Output, shape ...int64) tf.TensorInfo {
		return tf.TensorInfo{Name: o.Name(), DType: tf.Float, Shape: shape}
	}
	units := int64(n.cfg.Classes)
	if units == 2 {
		units = 1
	}
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs:  map[string]tf.TensorInfo{"input": info(b.input, append([]int64{-1}, n.inputShape...)...)},
		Outputs: map[string]tf.TensorInfo{"probabilities": info(probs, -1, units), "logits": info(logits, -1, units)}}
	if err := tf.WriteSavedModel(dir, b.g, nil, []tf.Signature{sig}); err != nil {
		return fmt.Errorf("nn: freeze: %w", err)
	}
	return nil
}
