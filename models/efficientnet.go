package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lessdata/lessdata/tf"
)

// EfficientNetTool identifies ConvertEfficientNetLite's output in a spec's source.
const EfficientNetTool = "lessdata ConvertEfficientNetLite 1"

// efficientNetStageStrides are the strides of the first block of each of EfficientNet's seven
// stages (the other blocks of a stage have stride 1). Kernel sizes, expansion and channels are
// read from the weights.
var efficientNetStageStrides = []int{1, 2, 2, 2, 1, 2, 1}

// bnEpsilon is the batch-norm epsilon of TensorFlow's EfficientNet-Lite, where the weights come from.
const bnEpsilon = 1e-3

// EfficientNetMean and EfficientNetStd are EfficientNet-Lite's input normalisation: (x - 127) / 128.
const (
	EfficientNetMean = 127
	EfficientNetStd  = 128
)

// ConvertEfficientNetLite builds EfficientNet-Lite (MBConv blocks with ReLU6, no
// squeeze-excitation, TensorFlow "SAME" padding) from a state dict in the EfficientNet-PyTorch
// naming (_conv_stem, _bn0, _blocks.N._expand_conv/_depthwise_conv/_project_conv with
// _bn0/_bn1/_bn2, _conv_head, _bn1, _fc), folds each batch norm into its convolution, and writes
// the float graph to dir as a SavedModel with its spec, like ConvertTFLite: the signature takes
// float32 NHWC images of size x size normalised as (x - 127) / 128 and returns "features" (the
// global average pool after the head convolution) and "logits" (the classifier's output).
func ConvertEfficientNetLite(sd map[string]Tensor, size int, dir string, opt ConvertOptions) (*Spec, error) {
	if size <= 0 {
		return nil, fmt.Errorf("convert EfficientNet-Lite: input size %d is not positive", size)
	}
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	b := &effBuilder{s: tf.NewScope(g), sd: sd}
	images := b.s.Placeholder("images", tf.Float, tf.Shape{-1, int64(size), int64(size), 3})
	x := b.convBN(b.s.Sub("stem"), images, "_conv_stem", "_bn0", 2, false, true)
	x, err = b.blocks(x)
	if err != nil {
		return nil, fmt.Errorf("convert EfficientNet-Lite: %w", err)
	}
	head := b.s.Sub("head")
	x = b.convBN(head, x, "_conv_head", "_bn1", 1, false, true)
	pooled := head.Out("Mean", map[string]any{"keep_dims": false}, x, head.ConstInt32("axes", []int64{2}, []int32{1, 2}))
	features := b.s.Identity("features", pooled)
	fc := b.s.Sub("fc")
	w := b.tensor("_fc.weight", 2)
	bias := b.tensor("_fc.bias", 1)
	if b.err != nil {
		return nil, fmt.Errorf("convert EfficientNet-Lite: %w", b.err)
	}
	classes, width := w.Shape[0], w.Shape[1]
	logits := b.s.Identity("logits", fc.Out("BiasAdd", nil,
		fc.Out("MatMul", map[string]any{"transpose_b": true}, features, fc.ConstFloat("weights", []int64{int64(classes), int64(width)}, w.Data)),
		fc.ConstFloat("bias", []int64{int64(classes)}, bias.Data)))
	if err := b.s.Err(); err != nil {
		return nil, fmt.Errorf("convert EfficientNet-Lite: %w", err)
	}
	if got, ok := features.Shape(); !ok || len(got) != 2 || got[1] != int64(width) {
		return nil, fmt.Errorf("convert EfficientNet-Lite: features have shape %v but _fc.weight takes %d", got, width)
	}
	input := InputSpec{Key: "images", Height: size, Width: size, Channels: 3, ColorOrder: "RGB", Resize: "bilinear",
		Mean: [3]float32{EfficientNetMean, EfficientNetMean, EfficientNetMean},
		Std:  [3]float32{EfficientNetStd, EfficientNetStd, EfficientNetStd}}
	spec := &Spec{FormatVersion: SpecVersion, Name: opt.Name, Signature: tf.DefaultSignature, Input: input,
		Features: OutputSpec{Key: "features", Size: width}, Logits: &OutputSpec{Key: "logits", Size: classes}, Source: opt.Source}
	spec.Source.Tool = EfficientNetTool
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs: map[string]tf.TensorInfo{"images": {Name: images.Name(), DType: tf.Float, Shape: []int64{-1, int64(size), int64(size), 3}}},
		Outputs: map[string]tf.TensorInfo{
			"features": {Name: features.Name(), DType: tf.Float, Shape: []int64{-1, int64(width)}},
			"logits":   {Name: logits.Name(), DType: tf.Float, Shape: []int64{-1, int64(classes)}},
		}}
	if err := writeBackbone(dir, g, sig, spec); err != nil {
		return nil, fmt.Errorf("convert EfficientNet-Lite: %w", err)
	}
	return spec, nil
}

type effBuilder struct {
	s   *tf.Scope
	sd  map[string]Tensor
	err error // first missing or misshapen weight
}

func (b *effBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// tensor returns the state dict entry key, which must have rank dims.
func (b *effBuilder) tensor(key string, dims int) Tensor {
	t, ok := b.sd[key]
	switch {
	case !ok:
		b.fail(fmt.Errorf("the state dict has no %s", key))
	case len(t.Shape) != dims:
		b.fail(fmt.Errorf("%s has shape %v, want %d dimensions", key, t.Shape, dims))
	}
	return t
}

// blocks adds the MBConv blocks _blocks.0, _blocks.1, ... in order.
func (b *effBuilder) blocks(x tf.Output) (tf.Output, error) {
	n := 0
	for key := range b.sd {
		if rest, ok := strings.CutPrefix(key, "_blocks."); ok {
			if i, err := strconv.Atoi(rest[:strings.IndexByte(rest+".", '.')]); err == nil && i+1 > n {
				n = i + 1
			}
		}
	}
	stage, prevOut := -1, -1
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("_blocks.%d.", i)
		out := b.tensor(p+"_project_conv.weight", 4)
		if b.err != nil {
			return tf.Output{}, b.err
		}
		stride := 1
		if out.Shape[0] != prevOut { // a stage starts where the block width changes
			if stage++; stage >= len(efficientNetStageStrides) {
				return tf.Output{}, fmt.Errorf("block %d starts stage %d; EfficientNet has %d", i, stage+1, len(efficientNetStageStrides))
			}
			stride = efficientNetStageStrides[stage]
		}
		prevOut = out.Shape[0]
		x = b.block(b.s.Sub(fmt.Sprintf("block%d", i)), x, p, stride)
		if b.err != nil {
			return tf.Output{}, b.err
		}
	}
	if stage != len(efficientNetStageStrides)-1 {
		return tf.Output{}, fmt.Errorf("the state dict has %d blocks in %d stages; EfficientNet has %d stages", n, stage+1, len(efficientNetStageStrides))
	}
	return x, b.s.Err()
}

// block adds one MBConv block: optional 1x1 expansion, depthwise convolution, 1x1 projection,
// and the identity shortcut when the block keeps the shape.
func (b *effBuilder) block(s *tf.Scope, x tf.Output, p string, stride int) tf.Output {
	in := x
	if _, ok := b.sd[p+"_expand_conv.weight"]; ok {
		x = b.convBN(s, x, p+"_expand_conv", p+"_bn0", 1, false, true)
	}
	x = b.convBN(s, x, p+"_depthwise_conv", p+"_bn1", stride, true, true)
	x = b.convBN(s, x, p+"_project_conv", p+"_bn2", 1, false, false)
	if b.err != nil {
		return x
	}
	inShape, ok1 := in.Shape()
	outShape, ok2 := x.Shape()
	if stride == 1 && ok1 && ok2 && inShape[3] == outShape[3] {
		x = s.Out("AddV2", nil, x, in)
	}
	return x
}

// convBN adds convolution conv (PyTorch layout: [O, I, KH, KW], depthwise [C, 1, KH, KW]) with
// batch norm bn folded into its weights and a bias, then ReLU6 when relu6.
func (b *effBuilder) convBN(s *tf.Scope, x tf.Output, conv, bn string, stride int, depthwise, relu6 bool) tf.Output {
	w := b.tensor(conv+".weight", 4)
	gamma, beta := b.tensor(bn+".weight", 1), b.tensor(bn+".bias", 1)
	mean, variance := b.tensor(bn+".running_mean", 1), b.tensor(bn+".running_var", 1)
	if b.err != nil {
		return tf.Output{}
	}
	o, ci, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	for _, t := range []Tensor{gamma, beta, mean, variance} {
		if t.Shape[0] != o {
			b.fail(fmt.Errorf("%s has %d channels but %s has %d", bn, t.Shape[0], conv, o))
			return tf.Output{}
		}
	}
	scale, shift := foldBatchNorm(gamma.Data, beta.Data, mean.Data, variance.Data)
	attrs := map[string]any{"strides": []int64{1, int64(stride), int64(stride), 1}, "padding": "SAME"}
	var y tf.Output
	if depthwise {
		if ci != 1 {
			b.fail(fmt.Errorf("%s has shape %v, want [C 1 KH KW] for a depthwise convolution", conv, w.Shape))
			return tf.Output{}
		}
		hwcm, shape := oihwToHWIO(w.Data, o, 1, kh, kw, scale)
		// TensorFlow's depthwise filter is [KH, KW, C, multiplier]: the same memory as HWIO with I=C, O=1.
		y = s.Out("DepthwiseConv2dNative", attrs, x, s.ConstFloat("weights", []int64{shape[0], shape[1], shape[3], 1}, hwcm))
	} else {
		hwio, shape := oihwToHWIO(w.Data, o, ci, kh, kw, scale)
		y = s.Out("Conv2D", attrs, x, s.ConstFloat("weights", shape, hwio))
	}
	y = s.Out("BiasAdd", nil, y, s.ConstFloat("bias", []int64{int64(o)}, shift))
	if relu6 {
		y = s.Out("Relu6", nil, y)
	}
	return y
}

// foldBatchNorm returns the per-channel scale and shift that make batch norm an affine map:
// gamma * (x - mean) / sqrt(var + eps) + beta = scale*x + shift.
func foldBatchNorm(gamma, beta, mean, variance []float32) (scale []float64, shift []float32) {
	scale, shift = make([]float64, len(gamma)), make([]float32, len(gamma))
	for c := range gamma {
		k := float64(gamma[c]) / math.Sqrt(float64(variance[c])+bnEpsilon)
		scale[c] = k
		shift[c] = float32(float64(beta[c]) - float64(mean[c])*k)
	}
	return scale, shift
}

// oihwToHWIO reorders a PyTorch filter [O, I, KH, KW] into TensorFlow's [KH, KW, I, O],
// multiplying output channel o by scale[o].
func oihwToHWIO(w []float32, o, ci, kh, kw int, scale []float64) ([]float32, []int64) {
	out := make([]float32, len(w))
	for a := 0; a < o; a++ {
		for i := 0; i < ci; i++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					out[((y*kw+x)*ci+i)*o+a] = float32(float64(w[((a*ci+i)*kh+y)*kw+x]) * scale[a])
				}
			}
		}
	}
	return out, []int64{int64(kh), int64(kw), int64(ci), int64(o)}
}
