package export

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/lessdata/lessdata/models/tflite"
	"github.com/lessdata/lessdata/tf"
)

// TFLite exports the bundle in bundleDir as a TFLite flatbuffer in outDir (model.tflite with
// labels.txt and the metadata beside it): uint8 [1, H, W, 3] pixels, already resized, in;
// float32 probabilities [1, K] out. Every operation of the pixel path (normalisation, the
// backbone if any, the model) is mapped to a TFLite builtin with float32 weights. The folder
// appears whole; an existing one is replaced only with opt.Force.
func TFLite(ctx context.Context, bundleDir, outDir string, opt Options) (*Metadata, error) {
	return export(ctx, bundleDir, outDir, FormatTFLite, opt, func(c *classifier, work string, md *Metadata) error {
		data, err := c.tflite()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, TFLiteFile), data, 0o644); err != nil {
			return err
		}
		m := c.manifest
		md.Inputs[pixelsName] = fmt.Sprintf("uint8 [1, %d, %d, 3]", m.Input.Height, m.Input.Width)
		md.Outputs[probsName] = fmt.Sprintf("float32 [1, %d]", len(m.Classes))
		return nil
	})
}

// Union types of the options this writer emits (schema enum BuiltinOptions).
const (
	optConv2D          = 1
	optDepthwiseConv2D = 2
	optPool2D          = 5
	optFullyConnected  = 8
	optSoftmax         = 9
	optConcatenation   = 10
	optReducer         = 27
	optSqueeze         = 30
)

// Builtin operators this writer emits that package tflite does not name.
const (
	opDiv       tflite.BuiltinOp = 42
	opCast      tflite.BuiltinOp = 53
	opMaximum   tflite.BuiltinOp = 55
	opMinimum   tflite.BuiltinOp = 57
	opSum       tflite.BuiltinOp = 74
	opSqrt      tflite.BuiltinOp = 75
	opRsqrt     tflite.BuiltinOp = 76
	opSquare    tflite.BuiltinOp = 92
	opReverseV2 tflite.BuiltinOp = 105
)

// lite is a TFLite subgraph being assembled.
type lite struct {
	tensors []liteTensor
	buffers [][]byte // buffer 0 is the empty sentinel
	ops     []liteOp
	codes   []tflite.BuiltinOp
	byName  map[string]int32 // TF tensor name -> TFLite tensor
}

type liteTensor struct {
	name   string
	shape  []int32
	typ    tflite.TensorType
	buffer uint32
}

type liteOp struct {
	code    tflite.BuiltinOp
	inputs  []int32
	outputs []int32
	optType byte
	options func(b *flatbuffers.Builder) flatbuffers.UOffsetT
}

// tflite converts the pixel path of the graph (pixels -> probabilities) into a TFLite model.
func (c *classifier) tflite() ([]byte, error) {
	def, err := c.graph.GraphDef()
	if err != nil {
		return nil, err
	}
	nodes, _, err := parseNodes(def)
	if err != nil {
		return nil, err
	}
	byName := map[string]*node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	// Order the operations from the pixels to the probabilities.
	var order []*node
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		n, ok := byName[name]
		if !ok {
			return fmt.Errorf("the graph has no operation %s", name)
		}
		if name != pixelsName && n.Op != "Const" {
			for _, in := range n.Inputs {
				if in[0] == '^' {
					continue
				}
				if err := visit(tf.OpName(in)); err != nil {
					return err
				}
			}
		}
		order = append(order, n)
		return nil
	}
	if err := visit(tf.OpName(c.probs.Name())); err != nil {
		return nil, err
	}
	// Operations whose values do not depend on the pixels' values (constants, and for example a
	// frozen dropout's mask, multiplied by zero) are evaluated once, for a batch of one.
	dep := map[string]bool{pixelsName: true}
	needed := map[string]bool{}
	for _, n := range order {
		if n.Name == pixelsName || n.Op == "Const" || shapeOps[n.Op] {
			continue
		}
		for _, in := range n.Inputs {
			if in[0] != '^' && dep[tf.OpName(in)] {
				dep[n.Name] = true
			}
		}
		if dep[n.Name] {
			for _, in := range n.Inputs {
				if in[0] != '^' && !dep[tf.OpName(in)] {
					needed[tf.OpName(in)] = true
				}
			}
		}
	}
	consts, err := c.constants(needed)
	if err != nil {
		return nil, err
	}
	l := &lite{buffers: [][]byte{nil}, byName: map[string]int32{}}
	h, w := int32(c.manifest.Input.Height), int32(c.manifest.Input.Width)
	l.byName[pixelsName+":0"] = l.tensor(pixelsName, []int32{1, h, w, 3}, tflite.TypeUint8, nil)
	for _, n := range order {
		if n.Name == pixelsName || !dep[n.Name] {
			continue
		}
		if err := l.convert(c.graph, n, consts); err != nil {
			return nil, fmt.Errorf("operation %s (%s): %w", n.Name, n.Op, err)
		}
	}
	out, ok := l.byName[c.probs.Name()]
	if !ok {
		return nil, fmt.Errorf("the probabilities were not converted")
	}
	return l.finish(l.byName[pixelsName+":0"], out), nil
}

// shapeOps give a tensor's shape, which is static here, not its values.
var shapeOps = map[string]bool{"Shape": true, "Size": true, "Rank": true}

// constant is the value of an operation that does not depend on the pixels' values.
type constant struct {
	shape  []int64
	floats []float32
	ints   []int32
}

// constants evaluates the first output of the named operations for one image of zeros.
func (c *classifier) constants(names map[string]bool) (map[string]*constant, error) {
	out := map[string]*constant{}
	if len(names) == 0 {
		return out, nil
	}
	keys := slices.Sorted(maps.Keys(names))
	fetch := make([]tf.Output, len(keys))
	for i, name := range keys {
		o, err := c.graph.Output(name + ":0")
		if err != nil {
			return nil, err
		}
		fetch[i] = o
	}
	m := c.manifest
	zeros, err := tf.NewTensor([]int64{1, int64(m.Input.Height), int64(m.Input.Width), 3}, make([]uint8, m.Input.Height*m.Input.Width*3))
	if err != nil {
		return nil, err
	}
	defer zeros.Close()
	sess, err := tf.NewSession(c.graph, tf.SessionOptions{})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	vals, err := sess.Run(map[tf.Output]*tf.Tensor{c.pixels: zeros}, fetch, nil)
	if err != nil {
		return nil, fmt.Errorf("evaluate constants: %w", err)
	}
	defer func() {
		for _, t := range vals {
			t.Close()
		}
	}()
	for i, t := range vals {
		k := &constant{shape: t.Shape()}
		switch t.DataType() {
		case tf.Float:
			k.floats, err = tf.Values[float32](t)
		case tf.Int32:
			k.ints, err = tf.Values[int32](t)
		default:
			err = fmt.Errorf("constant %s is %v; only float32 and int32 constants are supported", keys[i], t.DataType())
		}
		if err != nil {
			return nil, err
		}
		out[keys[i]] = k
	}
	return out, nil
}

// tensor adds a tensor, with data when it is a constant, and returns its index.
func (l *lite) tensor(name string, shape []int32, typ tflite.TensorType, data []byte) int32 {
	buf := uint32(0)
	if data != nil {
		l.buffers = append(l.buffers, data)
		buf = uint32(len(l.buffers) - 1)
	}
	l.tensors = append(l.tensors, liteTensor{name: name, shape: shape, typ: typ, buffer: buf})
	return int32(len(l.tensors) - 1)
}

func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func intBytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func dims32(shape []int64) []int32 {
	out := make([]int32, len(shape))
	for i, d := range shape {
		out[i] = int32(d)
	}
	return out
}

// constTensor adds a float32 or int32 constant.
func (l *lite) constTensor(name string, k *constant) int32 {
	if k.floats != nil || k.ints == nil {
		return l.tensor(name, dims32(k.shape), tflite.TypeFloat32, floatBytes(k.floats))
	}
	return l.tensor(name, dims32(k.shape), tflite.TypeInt32, intBytes(k.ints))
}

// input returns the TFLite tensor of a TF input string, adding constants as they are met.
func (l *lite) input(in string, consts map[string]*constant) (int32, error) {
	name := in
	if tf.OpName(in) == in {
		name = in + ":0"
	}
	if t, ok := l.byName[name]; ok {
		return t, nil
	}
	if k, ok := consts[tf.OpName(in)]; ok {
		t := l.constTensor(tf.OpName(in), k)
		l.byName[name] = t
		return t, nil
	}
	return 0, fmt.Errorf("input %s is neither computed nor constant", in)
}

// output adds the tensor of a TF operation's first output, with its static shape (batch 1).
func (l *lite) output(g *tf.Graph, n *node) (int32, error) {
	o, err := g.Output(n.Name + ":0")
	if err != nil {
		return 0, err
	}
	shape, ok := o.Shape()
	if !ok {
		return 0, fmt.Errorf("its output has no static shape")
	}
	dims := dims32(shape)
	for i, d := range dims {
		if d < 0 {
			if i != 0 {
				return 0, fmt.Errorf("its output shape %v is not static", shape)
			}
			dims[i] = 1
		}
	}
	typ := tflite.TypeFloat32
	if o.DataType() != tf.Float {
		return 0, fmt.Errorf("its output is %v; only float32 activations are supported", o.DataType())
	}
	t := l.tensor(n.Name, dims, typ, nil)
	l.byName[n.Name+":0"] = t
	return t, nil
}

func (l *lite) op(code tflite.BuiltinOp, inputs []int32, out int32, optType byte, options func(*flatbuffers.Builder) flatbuffers.UOffsetT) {
	l.ops = append(l.ops, liteOp{code: code, inputs: inputs, outputs: []int32{out}, optType: optType, options: options})
}

var simpleOps = map[string]tflite.BuiltinOp{
	"Relu": tflite.OpRelu, "Relu6": tflite.OpRelu6, "Sigmoid": tflite.OpLogistic, "Tanh": tflite.OpTanh,
	"Add": tflite.OpAdd, "AddV2": tflite.OpAdd, "BiasAdd": tflite.OpAdd, "Mul": tflite.OpMul,
	"Sub": tflite.OpSub, "RealDiv": opDiv, "Maximum": opMaximum, "Minimum": opMinimum, "Pad": tflite.OpPad,
	"Reshape": tflite.OpReshape, "Cast": opCast, "ReverseV2": opReverseV2, "Square": opSquare,
	"Sqrt": opSqrt, "Rsqrt": opRsqrt,
}

// convert maps one TF operation to TFLite.
func (l *lite) convert(g *tf.Graph, n *node, consts map[string]*constant) error {
	if n.Op == "Const" {
		return nil // added where used
	}
	if n.Op == "Identity" {
		t, err := l.input(n.Inputs[0], consts)
		l.byName[n.Name+":0"] = t
		return err
	}
	var data []string
	for _, in := range n.Inputs {
		if in[0] != '^' {
			data = append(data, in)
		}
	}
	// Weights and axes that become part of a TFLite operator are not tensors of their own.
	switch n.Op {
	case "Conv2D", "DepthwiseConv2dNative", "MatMul":
		data = data[:1]
	case "ConcatV2":
		data = data[:len(data)-1]
	}
	var ins []int32
	for _, in := range data {
		t, err := l.input(in, consts)
		if err != nil {
			return err
		}
		ins = append(ins, t)
	}
	if f := n.AttrString("data_format"); f != "" && f != "NHWC" {
		return fmt.Errorf("data format %s is not supported (NHWC only)", f)
	}
	if n.Op == "Cast" && n.AttrType("DstT") != tf.Float {
		return fmt.Errorf("only casts to float32 are supported")
	}
	out, err := l.output(g, n)
	if err != nil {
		return err
	}
	if code, ok := simpleOps[n.Op]; ok {
		l.op(code, ins, out, 0, nil)
		return nil
	}
	var pad tflite.Padding
	strides, err := n.AttrInts("strides")
	if err != nil {
		return err
	}
	dil, err := n.AttrInts("dilations")
	if err != nil {
		return err
	}
	if len(dil) != 4 {
		dil = []int64{1, 1, 1, 1}
	}
	switch n.Op {
	case "Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool":
		if pad, err = padding(n); err != nil {
			return err
		}
		if len(strides) != 4 {
			return fmt.Errorf("strides %v are not NHWC", strides)
		}
	}
	switch n.Op {
	case "Conv2D", "DepthwiseConv2dNative":
		k := consts[tf.OpName(n.Inputs[1])]
		if k == nil || len(k.shape) != 4 {
			return fmt.Errorf("its filter is not a constant of rank 4")
		}
		kh, kw, ci, co := k.shape[0], k.shape[1], k.shape[2], k.shape[3]
		var filter []float32
		var fshape []int32
		if n.Op == "Conv2D" {
			filter = make([]float32, len(k.floats)) // HWIO -> OHWI
			for y := range kh {
				for x := range kw {
					for i := range ci {
						for o := range co {
							filter[((o*kh+y)*kw+x)*ci+i] = k.floats[((y*kw+x)*ci+i)*co+o]
						}
					}
				}
			}
			fshape = []int32{int32(co), int32(kh), int32(kw), int32(ci)}
		} else { // [KH, KW, C, M] is TFLite's [1, KH, KW, C*M] in the same order
			filter, fshape = k.floats, []int32{1, int32(kh), int32(kw), int32(ci * co)}
			co = ci * co
		}
		ft := l.tensor(n.Name+"/filter", fshape, tflite.TypeFloat32, floatBytes(filter))
		bt := l.tensor(n.Name+"/bias", []int32{int32(co)}, tflite.TypeFloat32, floatBytes(make([]float32, co)))
		sh, sw, dh, dw := int32(strides[1]), int32(strides[2]), int32(dil[1]), int32(dil[2])
		if n.Op == "Conv2D" {
			l.op(tflite.OpConv2D, []int32{ins[0], ft, bt}, out, optConv2D, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				b.StartObject(6)
				b.PrependInt8Slot(0, int8(pad), 0)
				b.PrependInt32Slot(1, sw, 0)
				b.PrependInt32Slot(2, sh, 0)
				b.PrependInt32Slot(4, dw, 1)
				b.PrependInt32Slot(5, dh, 1)
				return b.EndObject()
			})
		} else {
			mult := int32(k.shape[3])
			l.op(tflite.OpDepthwiseConv2D, []int32{ins[0], ft, bt}, out, optDepthwiseConv2D, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				b.StartObject(7)
				b.PrependInt8Slot(0, int8(pad), 0)
				b.PrependInt32Slot(1, sw, 0)
				b.PrependInt32Slot(2, sh, 0)
				b.PrependInt32Slot(3, mult, 0)
				b.PrependInt32Slot(5, dw, 1)
				b.PrependInt32Slot(6, dh, 1)
				return b.EndObject()
			})
		}
	case "MaxPool", "AvgPool":
		ks, err := n.AttrInts("ksize")
		if err != nil {
			return err
		}
		code := tflite.OpMaxPool2D
		if n.Op == "AvgPool" {
			code = tflite.OpAveragePool2D
		}
		l.op(code, ins[:1], out, optPool2D, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			b.StartObject(6)
			b.PrependInt8Slot(0, int8(pad), 0)
			b.PrependInt32Slot(1, int32(strides[2]), 0)
			b.PrependInt32Slot(2, int32(strides[1]), 0)
			b.PrependInt32Slot(3, int32(ks[2]), 0)
			b.PrependInt32Slot(4, int32(ks[1]), 0)
			return b.EndObject()
		})
	case "Mean", "Sum":
		keep := n.AttrBool("keep_dims")
		code := tflite.OpMean
		if n.Op == "Sum" {
			code = opSum
		}
		l.op(code, ins, out, optReducer, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			b.StartObject(1)
			b.PrependBoolSlot(0, keep, false)
			return b.EndObject()
		})
	case "MatMul":
		if n.AttrBool("transpose_a") {
			return fmt.Errorf("transpose_a is not supported")
		}
		k := consts[tf.OpName(n.Inputs[1])]
		if k == nil || len(k.shape) != 2 {
			return fmt.Errorf("its weights are not a constant matrix")
		}
		wts, shape := k.floats, []int32{int32(k.shape[1]), int32(k.shape[0])}
		if n.AttrBool("transpose_b") {
			shape = dims32(k.shape)
		} else { // [in, out] -> [out, in]
			wts = make([]float32, len(k.floats))
			for i := range k.shape[0] {
				for o := range k.shape[1] {
					wts[o*k.shape[0]+i] = k.floats[i*k.shape[1]+o]
				}
			}
		}
		wt := l.tensor(n.Name+"/weights", shape, tflite.TypeFloat32, floatBytes(wts))
		l.op(tflite.OpFullyConnected, []int32{ins[0], wt, -1}, out, optFullyConnected, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			b.StartObject(4)
			return b.EndObject()
		})
	case "Softmax":
		l.op(tflite.OpSoftmax, ins, out, optSoftmax, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			b.StartObject(1)
			b.PrependFloat32Slot(0, 1, 0)
			return b.EndObject()
		})
	case "ConcatV2":
		k := consts[tf.OpName(n.Inputs[len(n.Inputs)-1])]
		if k == nil || len(k.ints) != 1 {
			return fmt.Errorf("its axis is not a constant")
		}
		axis := k.ints[0]
		l.op(tflite.OpConcatenation, ins, out, optConcatenation, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			b.StartObject(2)
			b.PrependInt32Slot(0, axis, 0)
			return b.EndObject()
		})
	case "Squeeze":
		sd, err := n.AttrInts("squeeze_dims")
		if err != nil {
			return err
		}
		sq := dims32(sd)
		l.op(tflite.OpSqueeze, ins, out, optSqueeze, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
			v := int32Vector(b, sq)
			b.StartObject(1)
			b.PrependUOffsetTSlot(0, v, 0)
			return b.EndObject()
		})
	default:
		return fmt.Errorf("no TFLite builtin is mapped for it")
	}
	return nil
}

// padding returns the TFLite padding of a convolution or pool.
func padding(n *node) (tflite.Padding, error) {
	switch p := n.AttrString("padding"); p {
	case "SAME":
		return tflite.PaddingSame, nil
	case "VALID":
		return tflite.PaddingValid, nil
	default:
		return 0, fmt.Errorf("padding %q is not supported (SAME or VALID)", p)
	}
}

func int32Vector(b *flatbuffers.Builder, v []int32) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt32(v[i])
	}
	return b.EndVector(len(v))
}

// finish serialises the model with one subgraph (input in, output out), schema version 3.
func (l *lite) finish(in, out int32) []byte {
	b := flatbuffers.NewBuilder(1 << 20)
	bufs := make([]flatbuffers.UOffsetT, len(l.buffers))
	for i, data := range l.buffers {
		var vec flatbuffers.UOffsetT
		if data != nil {
			b.Prep(16, len(data)) // tensor data 16-byte aligned
			vec = b.CreateByteVector(data)
		}
		b.StartObject(3)
		if data != nil {
			b.PrependUOffsetTSlot(0, vec, 0)
		}
		bufs[i] = b.EndObject()
	}
	tensors := make([]flatbuffers.UOffsetT, len(l.tensors))
	for i, t := range l.tensors {
		shape := int32Vector(b, t.shape)
		name := b.CreateString(t.name)
		b.StartObject(8)
		b.PrependUOffsetTSlot(0, shape, 0)
		b.PrependInt8Slot(1, int8(t.typ), 0)
		b.PrependUint32Slot(2, t.buffer, 0)
		b.PrependUOffsetTSlot(3, name, 0)
		tensors[i] = b.EndObject()
	}
	codeIndex := map[tflite.BuiltinOp]uint32{}
	ops := make([]flatbuffers.UOffsetT, len(l.ops))
	for i, op := range l.ops {
		idx, ok := codeIndex[op.code]
		if !ok {
			idx = uint32(len(l.codes))
			codeIndex[op.code] = idx
			l.codes = append(l.codes, op.code)
		}
		ins, outs := int32Vector(b, op.inputs), int32Vector(b, op.outputs)
		var opts flatbuffers.UOffsetT
		if op.options != nil {
			opts = op.options(b)
		}
		b.StartObject(5)
		b.PrependUint32Slot(0, idx, 0)
		b.PrependUOffsetTSlot(1, ins, 0)
		b.PrependUOffsetTSlot(2, outs, 0)
		if op.options != nil {
			b.PrependByteSlot(3, op.optType, 0)
			b.PrependUOffsetTSlot(4, opts, 0)
		}
		ops[i] = b.EndObject()
	}
	codes := make([]flatbuffers.UOffsetT, len(l.codes))
	for i, c := range l.codes {
		b.StartObject(4)
		b.PrependInt8Slot(0, int8(min(c, 127)), 0)
		b.PrependInt32Slot(2, 1, 1)
		b.PrependInt32Slot(3, int32(c), 0)
		codes[i] = b.EndObject()
	}
	tv := b.CreateVectorOfTables(tensors)
	iv, ov := int32Vector(b, []int32{in}), int32Vector(b, []int32{out})
	opv := b.CreateVectorOfTables(ops)
	sgName := b.CreateString("main")
	b.StartObject(5)
	b.PrependUOffsetTSlot(0, tv, 0)
	b.PrependUOffsetTSlot(1, iv, 0)
	b.PrependUOffsetTSlot(2, ov, 0)
	b.PrependUOffsetTSlot(3, opv, 0)
	b.PrependUOffsetTSlot(4, sgName, 0)
	sg := b.EndObject()
	sgv := b.CreateVectorOfTables([]flatbuffers.UOffsetT{sg})
	cv := b.CreateVectorOfTables(codes)
	bv := b.CreateVectorOfTables(bufs)
	desc := b.CreateString("lessdata export")
	b.StartObject(5)
	b.PrependUint32Slot(0, 3, 0)
	b.PrependUOffsetTSlot(1, cv, 0)
	b.PrependUOffsetTSlot(2, sgv, 0)
	b.PrependUOffsetTSlot(3, desc, 0)
	b.PrependUOffsetTSlot(4, bv, 0)
	root := b.EndObject()
	b.FinishWithFileIdentifier(root, []byte("TFL3"))
	return b.FinishedBytes()
}
