package backbonetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

// Tool identifies this generator in the spec's source.
const Tool = "lessdata backbonetest 1"

// LabelsFile is the name of the labels file in the folder (one class name a line).
const LabelsFile = "labels.txt"

// LastConv is the name of the operation that gives the last convolutional activation,
// [-1, H', W', F]: the layer Grad-CAM looks at.
const LastConv = "head/Relu6"

// width is the number of channels of the stem and the inverted-residual block.
const width = 8

// Options shapes the tiny backbone; zero fields take the defaults.
type Options struct {
	Name          string // spec name; "tiny" by default
	Height, Width int    // input size; 16x16 by default
	Features      int    // feature size F; 8 by default
	Classes       int    // number of logits L; 5 by default
	NoLogits      bool   // leave out the logits output and the labels file
	Seed          uint64 // weights are drawn from this seed
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = "tiny"
	}
	if o.Height == 0 {
		o.Height = 16
	}
	if o.Width == 0 {
		o.Width = 16
	}
	if o.Features == 0 {
		o.Features = 8
	}
	if o.Classes == 0 {
		o.Classes = 5
	}
}

// Labels returns the class names Write puts in the labels file: "label_0", "label_1", ...
func Labels(classes int) []string {
	out := make([]string, classes)
	for i := range out {
		out[i] = fmt.Sprintf("label_%d", i)
	}
	return out
}

// Write writes a tiny backbone folder (SavedModel, spec, labels) to dir, which must not exist yet,
// and returns its spec. The folder appears whole or not at all.
func Write(dir string, opt Options) (*models.Spec, error) {
	opt.defaults()
	if opt.Height < 2 || opt.Width < 2 || opt.Features < 1 || opt.Classes < 1 {
		return nil, fmt.Errorf("tiny backbone: input %dx%d with %d features and %d classes: the input needs at least 2x2 pixels and the sizes must be positive",
			opt.Height, opt.Width, opt.Features, opt.Classes)
	}
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("tiny backbone: %s already exists; give a new folder", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tiny backbone: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("tiny backbone: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".new-")
	if err != nil {
		return nil, fmt.Errorf("tiny backbone: %w", err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, filepath.Base(dir))
	spec, err := writeModel(tmp, opt)
	if err != nil {
		return nil, fmt.Errorf("tiny backbone: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("tiny backbone: %w", err)
	}
	return spec, nil
}

// MustWrite writes a tiny backbone into a fresh folder under t.TempDir() and returns the folder;
// it fails the test on error.
func MustWrite(t testing.TB, opt Options) string {
	t.Helper()
	name := opt.Name
	if name == "" {
		name = "tiny"
	}
	dir := filepath.Join(t.TempDir(), name)
	if _, err := Write(dir, opt); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeModel builds the graph and writes the SavedModel, labels and spec into dir.
func writeModel(dir string, opt Options) (*models.Spec, error) {
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	s := tf.NewScope(g)
	h, w, f := int64(opt.Height), int64(opt.Width), int64(opt.Features)
	images := s.Placeholder("images", tf.Float, tf.Shape{-1, h, w, 3})
	r := rand.New(rand.NewPCG(opt.Seed, 0x74696e79))

	stem := s.Sub("stem")
	x := stem.Out("Pad", nil, images, stem.ConstInt32("paddings", []int64{4, 2}, []int32{0, 0, 0, 1, 0, 1, 0, 0}))
	x = conv(stem, r, x, 3, 3, width, 2, "VALID")
	x = stem.Out("Relu6", nil, x)

	block := s.Sub("block")
	dw := block.Sub("depthwise")
	y := dw.Out("DepthwiseConv2dNative", map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "SAME"},
		x, dw.ConstFloat("weights", []int64{3, 3, width, 1}, weights(r, 3*3, width)))
	y = dw.Out("BiasAdd", nil, y, dw.ConstFloat("bias", []int64{width}, bias(r, width)))
	y = dw.Out("Relu6", nil, y)
	y = conv(block.Sub("project"), r, y, 1, width, width, 1, "SAME")
	x = block.Out("AddV2", nil, x, y)

	head := s.Sub("head")
	x = head.Out("Relu6", nil, conv(head, r, x, 1, width, f, 1, "SAME"))

	pool := s.Sub("pool")
	x = pool.Out("Mean", map[string]any{"keep_dims": true}, x, pool.ConstInt32("axes", []int64{2}, []int32{1, 2}))
	x = pool.Out("Reshape", nil, x, pool.ConstInt32("shape", []int64{2}, []int32{-1, int32(f)}))
	features := s.Identity("features", x)

	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs:  map[string]tf.TensorInfo{"images": {Name: images.Name(), DType: tf.Float, Shape: []int64{-1, h, w, 3}}},
		Outputs: map[string]tf.TensorInfo{"features": {Name: features.Name(), DType: tf.Float, Shape: []int64{-1, f}}}}
	spec := &models.Spec{FormatVersion: models.SpecVersion, Name: opt.Name, Signature: tf.DefaultSignature,
		Input: models.InputSpec{Key: "images", Height: opt.Height, Width: opt.Width, Channels: 3, ColorOrder: "RGB",
			Resize: "bilinear", Mean: [3]float32{128, 128, 128}, Std: [3]float32{128, 128, 128}},
		Features: models.OutputSpec{Key: "features", Size: opt.Features},
		Source:   models.SourceSpec{File: "backbonetest", SHA256: sourceID(opt), Tool: Tool}}
	if !opt.NoLogits {
		l := int64(opt.Classes)
		dense := s.Sub("logits_dense")
		z := dense.Out("MatMul", nil, features, dense.ConstFloat("weights", []int64{f, l}, weights(r, int(f), int(l))))
		z = dense.Out("BiasAdd", nil, z, dense.ConstFloat("bias", []int64{l}, bias(r, int(l))))
		logits := s.Identity("logits", z)
		sig.Outputs["logits"] = tf.TensorInfo{Name: logits.Name(), DType: tf.Float, Shape: []int64{-1, l}}
		spec.Logits = &models.OutputSpec{Key: "logits", Size: opt.Classes}
		spec.Labels = LabelsFile
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	if err := tf.WriteSavedModel(dir, g, nil, []tf.Signature{sig}); err != nil {
		return nil, err
	}
	if spec.Digest, err = models.ContentDigest(dir); err != nil {
		return nil, err
	}
	if !opt.NoLogits {
		text := strings.Join(Labels(opt.Classes), "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, LabelsFile), []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("write labels: %w", err)
		}
	}
	if err := models.WriteSpec(dir, spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// sourceID identifies the generated weights: Tool and the options that shape them. It stands in
// for the sha256 of a source file (the identity a model bundle records), because the bytes of
// saved_model.pb are not reproducible (TensorFlow serialises attributes in map order).
func sourceID(opt Options) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s input %dx%d features %d classes %d no-logits %t seed %d",
		Tool, opt.Height, opt.Width, opt.Features, opt.Classes, opt.NoLogits, opt.Seed))
	return hex.EncodeToString(sum[:])
}

// conv adds a k x k convolution from cin to cout channels with its bias, HWIO weights.
func conv(s *tf.Scope, r *rand.Rand, x tf.Output, k, cin, cout, stride int64, padding string) tf.Output {
	y := s.Out("Conv2D", map[string]any{"strides": []int64{1, stride, stride, 1}, "padding": padding},
		x, s.ConstFloat("weights", []int64{k, k, cin, cout}, weights(r, int(k*k*cin), int(cout))))
	return s.Out("BiasAdd", nil, y, s.ConstFloat("bias", []int64{cout}, bias(r, int(cout))))
}

// weights draws a fanIn x out weight matrix, row-major (HWIO filters and dense matrices have
// this layout), with He's scale. Each output's weights sum to zero, so that the common level of
// its inputs cancels and the unit answers to their differences; with the positive biases few
// ReLUs stay at zero for every image.
func weights(r *rand.Rand, fanIn, out int) []float32 {
	sd := math.Sqrt(2 / float64(fanIn))
	w := make([]float64, fanIn*out)
	for i := range w {
		w[i] = r.NormFloat64() * sd
	}
	res := make([]float32, len(w))
	for o := range out {
		var mean float64
		for i := range fanIn {
			mean += w[i*out+o] / float64(fanIn)
		}
		for i := range fanIn {
			res[i*out+o] = float32(w[i*out+o] - mean)
		}
	}
	return res
}

// bias draws n small positive biases, which keep most ReLUs active.
func bias(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(0.1 + 0.3*r.Float64())
	}
	return out
}
