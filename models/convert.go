package models

import (
	"fmt"

	"github.com/lessdata/lessdata/models/tflite"
	"github.com/lessdata/lessdata/tf"
)

// ConverterTool identifies this converter's output in a spec's source; a cached backbone made by
// another version is converted again.
const ConverterTool = "lessdata ConvertTFLite 2"

// ConvertOptions names the converted backbone and records its source.
type ConvertOptions struct {
	Name   string
	Source SourceSpec
}

// ConvertTFLite rebuilds a quantised TFLite image classifier (MobileNet-style: convolutions,
// depthwise convolutions, adds, pools, reshapes, softmax) as a float TensorFlow graph with the
// same topology and writes it to dir as a SavedModel with its spec. Weights and biases are
// dequantised as scale*(q - zero_point), with one scale and zero point per channel along the
// quantised dimension for per-axis (int8 per-channel) tensors; activations stay float. The signature takes float32
// NHWC images normalised as the spec says (the TFLite input's own quantisation, so that
// (x - zero_point) * scale reproduces what the quantised model saw) and returns "features", the
// output of the last global pool flattened, and "logits", the input of the final softmax.
func ConvertTFLite(m *tflite.Model, dir string, opt ConvertOptions) (*Spec, error) {
	if len(m.Subgraphs) == 0 {
		return nil, fmt.Errorf("convert: the TFLite model has no subgraph")
	}
	sg := &m.Subgraphs[0]
	if len(sg.Inputs) != 1 {
		return nil, fmt.Errorf("convert: want one image input, the model has %d inputs", len(sg.Inputs))
	}
	inT := &sg.Tensors[sg.Inputs[0]]
	if len(inT.Shape) != 4 || inT.Shape[3] != 3 {
		return nil, fmt.Errorf("convert: input %q has shape %v, want [1 H W 3]", inT.Name, inT.Shape)
	}
	input := InputSpec{Key: "images", Height: int(inT.Shape[1]), Width: int(inT.Shape[2]), Channels: 3,
		ColorOrder: "RGB", Resize: "bilinear"}
	switch {
	case inT.Type == tflite.TypeUint8 && inT.Quant != nil && len(inT.Quant.Scale) == 1:
		for c := 0; c < 3; c++ {
			input.Mean[c] = float32(inT.Quant.ZeroPoint[0])
			input.Std[c] = 1 / inT.Quant.Scale[0]
		}
	default:
		return nil, fmt.Errorf("convert: input %q is %v without per-tensor quantisation; only uint8-input classifiers are supported", inT.Name, inT.Type)
	}

	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	c := &converter{m: m, sg: sg, s: tf.NewScope(g), vals: map[int32]tf.Output{}}
	c.vals[sg.Inputs[0]] = c.s.Placeholder("images", tf.Float, tf.Shape{-1, int64(input.Height), int64(input.Width), 3})
	var poolOut, softmaxIn int32 = -1, -1
	for i := range sg.Operators {
		op := &sg.Operators[i]
		code := m.Op(sg, op)
		if err := c.convert(i, code, op); err != nil {
			return nil, fmt.Errorf("convert: operator %d (%v): %w", i, code, err)
		}
		switch code {
		case tflite.OpAveragePool2D, tflite.OpMean:
			poolOut = op.Outputs[0]
		case tflite.OpSoftmax:
			softmaxIn = op.Inputs[0]
		}
	}
	if poolOut < 0 {
		return nil, fmt.Errorf("convert: no global pooling (AVERAGE_POOL_2D or MEAN) to take features from")
	}
	spec := &Spec{FormatVersion: SpecVersion, Name: opt.Name, Signature: tf.DefaultSignature, Input: input, Source: opt.Source}
	spec.Source.Tool = ConverterTool
	sig := tf.Signature{Key: tf.DefaultSignature,
		Inputs:  map[string]tf.TensorInfo{"images": {Name: "images:0", DType: tf.Float, Shape: []int64{-1, int64(input.Height), int64(input.Width), 3}}},
		Outputs: map[string]tf.TensorInfo{}}
	flat := func(name string, t int32) (int, error) {
		shape := sg.Tensors[t].Shape
		if len(shape) == 0 {
			return 0, fmt.Errorf("tensor %q has no shape", sg.Tensors[t].Name)
		}
		size := int(shape[len(shape)-1])
		out := c.s.Identity(name, c.s.Out("Reshape", nil, c.vals[t], c.s.ConstInt32(name+"_shape", []int64{2}, []int32{-1, int32(size)})))
		if c.s.Err() == nil {
			sig.Outputs[name] = tf.TensorInfo{Name: out.Name(), DType: tf.Float, Shape: []int64{-1, int64(size)}}
		}
		return size, nil
	}
	size, err := flat("features", poolOut)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	spec.Features = OutputSpec{Key: "features", Size: size}
	if softmaxIn >= 0 {
		size, err := flat("logits", softmaxIn)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		spec.Logits = &OutputSpec{Key: "logits", Size: size}
	}
	if err := c.s.Err(); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if err := writeBackbone(dir, g, sig, spec); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	return spec, nil
}

type converter struct {
	m    *tflite.Model
	sg   *tflite.Subgraph
	s    *tf.Scope
	vals map[int32]tf.Output
}

// value returns the float graph value of tensor t: a computed one, or a dequantised constant.
func (c *converter) value(t int32) (tf.Output, error) {
	if v, ok := c.vals[t]; ok {
		return v, nil
	}
	data, shape, err := c.constant(t)
	if err != nil {
		return tf.Output{}, err
	}
	return c.s.ConstFloat("const", shape, data), nil
}

func (c *converter) constant(t int32) ([]float32, []int64, error) {
	tt := &c.sg.Tensors[t]
	data, err := c.m.Dequantize(tt)
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %q: %w", tt.Name, err)
	}
	shape := make([]int64, len(tt.Shape))
	for i, d := range tt.Shape {
		shape[i] = int64(d)
	}
	return data, shape, nil
}

func padding(p tflite.Padding) string {
	if p == tflite.PaddingValid {
		return "VALID"
	}
	return "SAME"
}

func (c *converter) activate(x tf.Output, a tflite.Activation) (tf.Output, error) {
	switch a {
	case tflite.ActNone:
		return x, nil
	case tflite.ActRelu:
		return c.s.Out("Relu", nil, x), nil
	case tflite.ActRelu6:
		return c.s.Out("Relu6", nil, x), nil
	case tflite.ActReluN1To1:
		lo := c.s.ConstFloat("lo", []int64{}, []float32{-1})
		hi := c.s.ConstFloat("hi", []int64{}, []float32{1})
		return c.s.Out("Minimum", nil, c.s.Out("Maximum", nil, x, lo), hi), nil
	case tflite.ActTanh:
		return c.s.Out("Tanh", nil, x), nil
	}
	return tf.Output{}, fmt.Errorf("fused activation %v is not supported", a)
}

// outShape returns the static shape of tensor t with the batch dimension left free.
func (c *converter) outShape(t int32) []int32 {
	shape := append([]int32(nil), c.sg.Tensors[t].Shape...)
	if len(shape) > 0 {
		shape[0] = -1
	}
	return shape
}

func (c *converter) convert(i int, code tflite.BuiltinOp, op *tflite.Operator) error {
	in := func(k int) (tf.Output, error) {
		if k >= len(op.Inputs) || op.Inputs[k] < 0 {
			return tf.Output{}, fmt.Errorf("missing input %d", k)
		}
		return c.value(op.Inputs[k])
	}
	x, err := in(0)
	if err != nil {
		return err
	}
	var y tf.Output
	switch code {
	case tflite.OpConv2D:
		o, ok := op.Options.(*tflite.Conv2DOptions)
		if !ok {
			return fmt.Errorf("options are %T", op.Options)
		}
		w, shape, err := c.constant(op.Inputs[1])
		if err != nil {
			return err
		}
		hwio, hwioShape := ohwiToHWIO(w, shape)
		y = c.s.Out("Conv2D", map[string]any{"strides": []int64{1, int64(o.StrideH), int64(o.StrideW), 1},
			"padding": padding(o.Padding), "dilations": []int64{1, int64(o.DilationH), int64(o.DilationW), 1}},
			x, c.s.ConstFloat("weights", hwioShape, hwio))
		if y, err = c.bias(y, op); err != nil {
			return err
		}
		y, err = c.activate(y, o.Activation)
		if err != nil {
			return err
		}
	case tflite.OpDepthwiseConv2D:
		o, ok := op.Options.(*tflite.DepthwiseConv2DOptions)
		if !ok {
			return fmt.Errorf("options are %T", op.Options)
		}
		w, shape, err := c.constant(op.Inputs[1])
		if err != nil {
			return err
		}
		channels := int64(c.sg.Tensors[op.Inputs[0]].Shape[3])
		mult := shape[3] / channels
		// TFLite's [1, KH, KW, C*M] is TensorFlow's [KH, KW, C, M] in the same memory order.
		y = c.s.Out("DepthwiseConv2dNative", map[string]any{"strides": []int64{1, int64(o.StrideH), int64(o.StrideW), 1},
			"padding": padding(o.Padding), "dilations": []int64{1, int64(o.DilationH), int64(o.DilationW), 1}},
			x, c.s.ConstFloat("weights", []int64{shape[1], shape[2], channels, mult}, w))
		if y, err = c.bias(y, op); err != nil {
			return err
		}
		if y, err = c.activate(y, o.Activation); err != nil {
			return err
		}
	case tflite.OpAdd:
		b, err := in(1)
		if err != nil {
			return err
		}
		act := tflite.ActNone
		if o, ok := op.Options.(*tflite.AddOptions); ok {
			act = o.Activation
		}
		if y, err = c.activate(c.s.Out("AddV2", nil, x, b), act); err != nil {
			return err
		}
	case tflite.OpAveragePool2D, tflite.OpMaxPool2D:
		o, ok := op.Options.(*tflite.Pool2DOptions)
		if !ok {
			return fmt.Errorf("options are %T", op.Options)
		}
		typ := "AvgPool"
		if code == tflite.OpMaxPool2D {
			typ = "MaxPool"
		}
		y = c.s.Out(typ, map[string]any{"ksize": []int64{1, int64(o.FilterH), int64(o.FilterW), 1},
			"strides": []int64{1, int64(o.StrideH), int64(o.StrideW), 1}, "padding": padding(o.Padding)}, x)
		if y, err = c.activate(y, o.Activation); err != nil {
			return err
		}
	case tflite.OpMean:
		axes, _, err := c.intConstant(op.Inputs[1])
		if err != nil {
			return err
		}
		keep := len(c.sg.Tensors[op.Outputs[0]].Shape) == len(c.sg.Tensors[op.Inputs[0]].Shape)
		y = c.s.Out("Mean", map[string]any{"keep_dims": keep}, x, c.s.ConstInt32("axes", []int64{int64(len(axes))}, axes))
	case tflite.OpReshape, tflite.OpSqueeze:
		shape := c.outShape(op.Outputs[0])
		y = c.s.Out("Reshape", nil, x, c.s.ConstInt32("shape", []int64{int64(len(shape))}, shape))
	case tflite.OpSoftmax:
		if o, ok := op.Options.(*tflite.SoftmaxOptions); ok && o.Beta != 1 && o.Beta != 0 {
			x = c.s.Out("Mul", nil, x, c.s.ConstFloat("beta", []int64{}, []float32{o.Beta}))
		}
		y = c.s.Out("Softmax", nil, x)
	case tflite.OpLogistic:
		y = c.s.Out("Sigmoid", nil, x)
	case tflite.OpRelu:
		y = c.s.Out("Relu", nil, x)
	case tflite.OpRelu6:
		y = c.s.Out("Relu6", nil, x)
	case tflite.OpQuantize, tflite.OpDequantize:
		y = x // values are float throughout
	default:
		return fmt.Errorf("operator type is not supported by the converter")
	}
	if err := c.s.Err(); err != nil {
		return err
	}
	c.vals[op.Outputs[0]] = y
	return nil
}

// bias adds the operator's bias (input 2) when it has one.
func (c *converter) bias(y tf.Output, op *tflite.Operator) (tf.Output, error) {
	if len(op.Inputs) < 3 || op.Inputs[2] < 0 {
		return y, nil
	}
	b, shape, err := c.constant(op.Inputs[2])
	if err != nil {
		return tf.Output{}, err
	}
	return c.s.Out("BiasAdd", nil, y, c.s.ConstFloat("bias", shape, b)), nil
}

func (c *converter) intConstant(t int32) ([]int32, []int64, error) {
	tt := &c.sg.Tensors[t]
	if tt.Quant != nil { // quantised integers stand for floats
		f, shape, err := c.constant(t)
		if err != nil {
			return nil, nil, err
		}
		out := make([]int32, len(f))
		for i, v := range f {
			out[i] = int32(v)
		}
		return out, shape, nil
	}
	v, err := c.m.Ints(tt)
	if err != nil {
		return nil, nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	shape := make([]int64, len(tt.Shape))
	for i, d := range tt.Shape {
		shape[i] = int64(d)
	}
	return out, shape, nil
}

// ohwiToHWIO reorders a TFLite convolution filter [O, KH, KW, I] into TensorFlow's [KH, KW, I, O].
func ohwiToHWIO(w []float32, shape []int64) ([]float32, []int64) {
	o, kh, kw, ci := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(w))
	for a := int64(0); a < o; a++ {
		for y := int64(0); y < kh; y++ {
			for x := int64(0); x < kw; x++ {
				for i := int64(0); i < ci; i++ {
					out[((y*kw+x)*ci+i)*o+a] = w[((a*kh+y)*kw+x)*ci+i]
				}
			}
		}
	}
	return out, []int64{kh, kw, ci, o}
}
