// Package exporttest writes tiny model bundles (package bundle) for tests of exporting and
// serving: a scratch CNN, and a transfer head on the tiny backbone of backbone/backbonetest.
// Their weights are random but fixed, so that different images get different probabilities.
package exporttest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/tf"
)

// Scratch input size: not square, so that a width/height swap shows.
const (
	ScratchWidth  = 10
	ScratchHeight = 12
)

// Scratch writes a scratch bundle into dir (which must not exist) for the given classes: a 3x3
// convolution, ReLU, max pool, global mean and a dense softmax layer (one sigmoid unit for
// two classes), on 0..255 pixels rescaled and standardised feature-wise.
func Scratch(dir string, classes []string, seed uint64) error {
	return ScratchSized(dir, classes, seed, ScratchWidth, ScratchHeight)
}

// ScratchSized is Scratch for images of width x height.
func ScratchSized(dir string, classes []string, seed uint64, width, height int) error {
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	defer g.Close()
	s := tf.NewScope(g)
	r := rand.New(rand.NewPCG(seed, 1))
	in := s.Placeholder("input", tf.Float, tf.Shape{-1, int64(height), int64(width), 3})
	x := s.Out("Conv2D", map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "SAME"},
		in, s.ConstFloat("conv", []int64{3, 3, 3, 6}, normal(r, 3*3*3*6, 27)))
	x = s.Out("Relu", nil, s.Out("BiasAdd", nil, x, s.ConstFloat("conv_bias", []int64{6}, normal(r, 6, 10))))
	x = s.Out("MaxPool", map[string]any{"ksize": []int64{1, 2, 2, 1}, "strides": []int64{1, 2, 2, 1}, "padding": "VALID"}, x)
	x = s.Out("Mean", nil, x, s.ConstInt32("axes", []int64{2}, []int32{1, 2}))
	probs := dense(s, r, x, 6, len(classes))
	m := &bundle.Manifest{Kind: bundle.KindScratch, Classes: classes,
		Input:      bundle.Size{Width: width, Height: height},
		Preprocess: bundle.Preprocess{Rescale: 1.0 / 255, Featurewise: true, Mean: [3]float32{0.5, 0.45, 0.4}, Std: [3]float32{0.25, 0.2, 0.3}}}
	return write(dir, s, in, probs, m)
}

// Transfer writes a transfer bundle into dir (which must not exist): a switched-off dropout (as
// nn.Net.Freeze leaves it), L2 normalisation (as package head freezes it) and a dense softmax head (one sigmoid unit for two classes) on the features of the backbone folder backboneDir, which
// backbonetest.Write made.
func Transfer(dir, backboneDir string, classes []string, seed uint64) error {
	b, err := backbone.Open(backboneDir, backbone.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	f := b.Spec.Features.Size
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	defer g.Close()
	s := tf.NewScope(g)
	r := rand.New(rand.NewPCG(seed, 2))
	in := s.Placeholder("input", tf.Float, tf.Shape{-1, int64(f)})
	probs := dense(s, r, l2Normalize(s, dropoutOff(s, in)), f, len(classes))
	return write(dir, s, in, probs, transferManifest(b, classes))
}

// transferManifest describes a bundle on backbone b; with two classes it calls the first one
// positive at a threshold of 0.4, so that exports follow a threshold that is not argmax.
func transferManifest(b *backbone.Backbone, classes []string) *bundle.Manifest {
	w, h := b.InputSize()
	m := &bundle.Manifest{Kind: bundle.KindTransfer, Classes: classes, Input: bundle.Size{Width: w, Height: h},
		Backbone: &bundle.Backbone{Name: b.Spec.Name, SHA256: predict.BackboneID(b), Features: b.Spec.Features.Size}}
	if len(classes) == 2 {
		m.Positive, m.Threshold = classes[0], 0.4
	}
	return m
}

// FineTuned writes a bundle whose model takes backbone-normalised images itself, as fine-tuned
// bundles do: the backbone's graph and the head Transfer writes for the same seed, in one
// SavedModel. Its export must give what the Transfer bundle's gives.
func FineTuned(dir, backboneDir string, classes []string, seed uint64) error {
	b, err := backbone.Open(backboneDir, backbone.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	sm, err := tf.LoadSavedModel(backboneDir, nil, tf.SessionOptions{})
	if err != nil {
		return err
	}
	defer sm.Close()
	sig, err := sm.Signature(b.Spec.SignatureKey())
	if err != nil {
		return err
	}
	def, err := sm.Graph.GraphDef()
	if err != nil {
		return err
	}
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.Import(def, "backbone"); err != nil {
		return err
	}
	in, err := g.Output("backbone/" + sig.Inputs[b.Spec.Input.Key].Name)
	if err != nil {
		return err
	}
	feats, err := g.Output("backbone/" + sig.Outputs[b.Spec.Features.Key].Name)
	if err != nil {
		return err
	}
	s := tf.NewScope(g)
	r := rand.New(rand.NewPCG(seed, 2))
	f := b.Spec.Features.Size
	probs := dense(s, r, l2Normalize(s, dropoutOff(s, feats)), f, len(classes))
	return write(dir, s, in, probs, transferManifest(b, classes))
}

// Backbone writes the tiny backbone the transfer bundles of these tests use into dir: 20x16
// (width x height) input, 8 features.
func Backbone(dir string) error {
	_, err := backbonetest.Write(dir, backbonetest.Options{Width: 20, Height: 16, NoLogits: true, Seed: 7})
	return err
}

// dropoutOff adds a dropout that is switched off, as nn.Freeze leaves it: x * (1 + on*(mask-1))
// with on a PlaceholderWithDefault of 0 and mask drawn at random.
func dropoutOff(s *tf.Scope, x tf.Output) tf.Output {
	on := s.Op("PlaceholderWithDefault", []any{s.ConstFloat("dropout_off", []int64{}, []float32{0})},
		map[string]any{"dtype": tf.Float, "shape": tf.Shape{}})
	if on == nil {
		return tf.Output{}
	}
	draw := s.Out("RandomUniform", map[string]any{"dtype": tf.Float}, s.Out("Shape", map[string]any{"out_type": tf.Int32}, x))
	one := s.ConstFloat("one", []int64{}, []float32{1})
	mask := s.Out("Mul", nil, s.Out("Cast", map[string]any{"DstT": tf.Float}, s.Out("GreaterEqual", nil, draw, s.ConstFloat("rate", []int64{}, []float32{0.2}))),
		s.ConstFloat("scale", []int64{}, []float32{1.25}))
	return s.Out("Mul", nil, x, s.Out("AddV2", nil, one, s.Out("Mul", nil, on.Output(0), s.Out("Sub", nil, mask, one))))
}

// l2Normalize divides each row by its L2 norm, as package head's frozen heads do.
func l2Normalize(s *tf.Scope, x tf.Output) tf.Output {
	sq := s.Out("Sum", map[string]any{"keep_dims": true}, s.Out("Square", nil, x), s.ConstInt32("l2_axis", []int64{1}, []int32{1}))
	return s.Out("Mul", nil, x, s.Out("Rsqrt", nil, s.Out("Maximum", nil, sq, s.ConstFloat("l2_epsilon", []int64{}, []float32{1e-12}))))
}

// dense adds the output layer: softmax over k units, or a sigmoid unit for two classes.
func dense(s *tf.Scope, r *rand.Rand, x tf.Output, in, k int) tf.Output {
	units := k
	if k == 2 {
		units = 1
	}
	z := s.Out("MatMul", nil, x, s.ConstFloat("dense", []int64{int64(in), int64(units)}, normal(r, in*units, in/4+1)))
	z = s.Out("BiasAdd", nil, z, s.ConstFloat("dense_bias", []int64{int64(units)}, normal(r, units, 4)))
	if k == 2 {
		return s.Identity("probabilities", s.Out("Sigmoid", nil, z))
	}
	return s.Identity("probabilities", s.Out("Softmax", nil, z))
}

func write(dir string, s *tf.Scope, in, probs tf.Output, m *bundle.Manifest) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("exporttest: build the model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	inShape, _ := in.Shape()
	outShape, _ := probs.Shape()
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs:  map[string]tf.TensorInfo{"input": {Name: in.Name(), DType: tf.Float, Shape: inShape}},
		Outputs: map[string]tf.TensorInfo{"probabilities": {Name: probs.Name(), DType: tf.Float, Shape: outShape}}}
	if err := tf.WriteSavedModel(filepath.Join(dir, bundle.ModelDir), s.Graph(), nil, []tf.Signature{sig}); err != nil {
		return err
	}
	m.Created = "2026-01-01T00:00:00Z"
	return bundle.Write(dir, m)
}

// normal draws n weights with He's scale for the given fan-in.
func normal(r *rand.Rand, n, fanIn int) []float32 {
	sd := math.Sqrt(2 / float64(fanIn))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * sd)
	}
	return out
}
