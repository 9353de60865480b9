package tflite

import (
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/stretchr/testify/require"
)

// testTensor and testOp describe a synthetic model for buildModel.
type testTensor struct {
	name  string
	shape []int32
	typ   TensorType
	data  []byte // constant data; nil for activations (buffer 0)
	scale []float32
	zp    []int64
	qdim  int32
}

type testOp struct {
	code            BuiltinOp
	inputs, outputs []int32
	// options writes the builtin_options table; nil stores no options at all.
	optType uint8
	options func(b *flatbuffers.Builder) flatbuffers.UOffsetT
}

func i32Vec(b *flatbuffers.Builder, v []int32) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt32(v[i])
	}
	return b.EndVector(len(v))
}

func f32Vec(b *flatbuffers.Builder, v []float32) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependFloat32(v[i])
	}
	return b.EndVector(len(v))
}

func i64Vec(b *flatbuffers.Builder, v []int64) flatbuffers.UOffsetT {
	b.StartVector(8, len(v), 8)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt64(v[i])
	}
	return b.EndVector(len(v))
}

func tableVec(b *flatbuffers.Builder, v []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependUOffsetT(v[i])
	}
	return b.EndVector(len(v))
}

// buildModel writes a TFLite flatbuffer with one subgraph. Buffer 0 is empty
// and every tensor with data gets its own buffer. Op codes up to 127 are
// written old-style (deprecated_builtin_code only), larger ones new-style
// (builtin_code, with the placeholder 127 in the deprecated field).
func buildModel(tensors []testTensor, ops []testOp, inputs, outputs []int32) []byte {
	b := flatbuffers.NewBuilder(1024)
	bufs := []flatbuffers.UOffsetT{}
	b.StartObject(3)
	bufs = append(bufs, b.EndObject())
	var tens []flatbuffers.UOffsetT
	for _, t := range tensors {
		bufIdx := uint32(0)
		if t.data != nil {
			data := b.CreateByteVector(t.data)
			b.StartObject(3)
			b.PrependUOffsetTSlot(0, data, 0)
			bufIdx = uint32(len(bufs))
			bufs = append(bufs, b.EndObject())
		}
		var quant flatbuffers.UOffsetT
		if t.scale != nil {
			scale, zp := f32Vec(b, t.scale), i64Vec(b, t.zp)
			b.StartObject(7)
			b.PrependUOffsetTSlot(2, scale, 0)
			b.PrependUOffsetTSlot(3, zp, 0)
			b.PrependInt32Slot(6, t.qdim, 0)
			quant = b.EndObject()
		}
		name, shape := b.CreateString(t.name), i32Vec(b, t.shape)
		b.StartObject(5)
		b.PrependUOffsetTSlot(0, shape, 0)
		b.PrependInt8Slot(1, int8(t.typ), 0)
		b.PrependUint32Slot(2, bufIdx, 0)
		b.PrependUOffsetTSlot(3, name, 0)
		if quant != 0 {
			b.PrependUOffsetTSlot(4, quant, 0)
		}
		tens = append(tens, b.EndObject())
	}
	var codes, opOffs []flatbuffers.UOffsetT
	for i, op := range ops {
		b.StartObject(4)
		b.PrependInt8Slot(0, int8(min(op.code, 127)), 0)
		if op.code > 127 {
			b.PrependInt32Slot(3, int32(op.code), 0)
		}
		codes = append(codes, b.EndObject())
		var opts flatbuffers.UOffsetT
		if op.options != nil {
			opts = op.options(b)
		}
		in, out := i32Vec(b, op.inputs), i32Vec(b, op.outputs)
		b.StartObject(5)
		b.PrependUint32Slot(0, uint32(i), 0)
		b.PrependUOffsetTSlot(1, in, 0)
		b.PrependUOffsetTSlot(2, out, 0)
		b.PrependUint8Slot(3, op.optType, 0)
		if opts != 0 {
			b.PrependUOffsetTSlot(4, opts, 0)
		}
		opOffs = append(opOffs, b.EndObject())
	}
	tensVec, opsVec := tableVec(b, tens), tableVec(b, opOffs)
	inVec, outVec, sgName := i32Vec(b, inputs), i32Vec(b, outputs), b.CreateString("main")
	b.StartObject(5)
	b.PrependUOffsetTSlot(0, tensVec, 0)
	b.PrependUOffsetTSlot(1, inVec, 0)
	b.PrependUOffsetTSlot(2, outVec, 0)
	b.PrependUOffsetTSlot(3, opsVec, 0)
	b.PrependUOffsetTSlot(4, sgName, 0)
	sg := b.EndObject()
	codesVec, sgVec, bufVec := tableVec(b, codes), tableVec(b, []flatbuffers.UOffsetT{sg}), tableVec(b, bufs)
	desc := b.CreateString("synthetic")
	b.StartObject(5)
	b.PrependUint32Slot(0, 3, 0)
	b.PrependUOffsetTSlot(1, codesVec, 0)
	b.PrependUOffsetTSlot(2, sgVec, 0)
	b.PrependUOffsetTSlot(3, desc, 0)
	b.PrependUOffsetTSlot(4, bufVec, 0)
	b.FinishWithFileIdentifier(b.EndObject(), []byte("TFL3"))
	return b.FinishedBytes()
}

func le32(v ...int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}

// testModel is a tiny quantised graph: CONV_2D -> SOFTMAX -> GELU, plus a
// DEPTHWISE_CONV_2D whose options table is present but empty.
func testModel() []byte {
	tensors := []testTensor{
		{name: "input", shape: []int32{1, 4, 4, 2}, typ: TypeUint8, scale: []float32{0.5}, zp: []int64{128}},
		{name: "weights", shape: []int32{3, 1, 1, 2}, typ: TypeUint8, data: []byte{0, 1, 2, 3, 4, 255},
			scale: []float32{0.25}, zp: []int64{2}},
		{name: "bias", shape: []int32{3}, typ: TypeInt32, data: le32(-1, 0, 1000), scale: []float32{0.125}, zp: []int64{0}},
		{name: "conv", shape: []int32{1, 4, 4, 3}, typ: TypeUint8, scale: []float32{0.1}, zp: []int64{0}},
		{name: "probs", shape: []int32{1, 4, 4, 3}, typ: TypeUint8},
		{name: "gelu", shape: []int32{1, 4, 4, 3}, typ: TypeUint8},
		{name: "const_f32", shape: []int32{2}, typ: TypeFloat32, data: le32(int32(math.Float32bits(1.5)), int32(math.Float32bits(-2)))},
		{name: "dw_weights", shape: []int32{1, 2, 1, 3}, typ: TypeInt8, data: []byte{1, 2, 3, 0xfc, 5, 0xfa},
			scale: []float32{0.5, 1, 2}, zp: []int64{0, 1, -1}, qdim: 3},
		{name: "dw", shape: []int32{1, 4, 4, 3}, typ: TypeUint8},
	}
	ops := []testOp{
		{code: OpConv2D, inputs: []int32{0, 1, 2}, outputs: []int32{3}, optType: 1,
			options: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				b.StartObject(7) // dilation fields absent: schema default 1
				b.PrependInt8Slot(0, int8(PaddingValid), 0)
				b.PrependInt32Slot(1, 2, 0)
				b.PrependInt32Slot(2, 1, 0)
				b.PrependInt8Slot(3, int8(ActRelu6), 0)
				return b.EndObject()
			}},
		{code: OpSoftmax, inputs: []int32{3}, outputs: []int32{4}},
		{code: 150 /* GELU */, inputs: []int32{4}, outputs: []int32{5}},
		{code: OpDepthwiseConv2D, inputs: []int32{3, 7, -1}, outputs: []int32{8}, optType: 2,
			options: func(b *flatbuffers.Builder) flatbuffers.UOffsetT { b.StartObject(0); return b.EndObject() }},
	}
	return buildModel(tensors, ops, []int32{0}, []int32{5, 8})
}

func TestParseSynthetic(t *testing.T) {
	m, err := Parse(testModel())
	require.NoError(t, err)
	require.Equal(t, uint32(3), m.Version)
	require.Equal(t, "synthetic", m.Description)
	require.Len(t, m.Buffers, 5)
	require.Nil(t, m.Buffers[0])
	require.Equal(t, []OperatorCode{{OpConv2D, "", 1}, {OpSoftmax, "", 1}, {150, "", 1}, {OpDepthwiseConv2D, "", 1}},
		m.OperatorCodes)
	require.Equal(t, "GELU", m.OperatorCodes[2].Builtin.String())

	require.Len(t, m.Subgraphs, 1)
	sg := &m.Subgraphs[0]
	require.Equal(t, "main", sg.Name)
	require.Equal(t, []int32{0}, sg.Inputs)
	require.Equal(t, []int32{5, 8}, sg.Outputs)
	require.Len(t, sg.Tensors, 9)
	in := sg.Tensors[0]
	require.Equal(t, "input", in.Name)
	require.Equal(t, []int32{1, 4, 4, 2}, in.Shape)
	require.Equal(t, TypeUint8, in.Type)
	require.Equal(t, &Quantization{Scale: []float32{0.5}, ZeroPoint: []int64{128}}, in.Quant)
	require.Nil(t, m.TensorData(&in))
	require.Nil(t, sg.Tensors[4].Quant)
	require.Equal(t, 32, in.NumElements())
	require.Equal(t, []byte{0, 1, 2, 3, 4, 255}, m.TensorData(&sg.Tensors[1]))
	require.Equal(t, int32(3), sg.Tensors[7].Quant.QuantizedDimension)

	require.Len(t, sg.Operators, 4)
	var got []string
	for i := range sg.Operators {
		got = append(got, m.Op(sg, &sg.Operators[i]).String())
	}
	require.Equal(t, []string{"CONV_2D", "SOFTMAX", "GELU", "DEPTHWISE_CONV_2D"}, got)
	conv := sg.Operators[0]
	require.Equal(t, []int32{0, 1, 2}, conv.Inputs)
	require.Equal(t, []int32{3}, conv.Outputs)
	require.Equal(t, &Conv2DOptions{Padding: PaddingValid, StrideW: 2, StrideH: 1, Activation: ActRelu6,
		DilationW: 1, DilationH: 1}, conv.Options)
	require.Equal(t, &SoftmaxOptions{Beta: 0}, sg.Operators[1].Options, "absent options take schema defaults")
	require.Nil(t, sg.Operators[2].Options)
	require.Equal(t, []int32{3, 7, -1}, sg.Operators[3].Inputs)
	require.Equal(t, &DepthwiseConv2DOptions{DilationW: 1, DilationH: 1}, sg.Operators[3].Options)
}

func TestDequantize(t *testing.T) {
	m, err := Parse(testModel())
	require.NoError(t, err)
	ts := m.Subgraphs[0].Tensors
	cases := map[int][]float32{
		1: {-0.5, -0.25, 0, 0.25, 0.5, 63.25}, // uint8, 0.25*(q-2)
		2: {-0.125, 0, 125},                   // int32 bias
		6: {1.5, -2},                          // float32
		7: {0.5, 1, 8, -2, 4, -10},            // int8 per channel along the last axis
	}
	for i, want := range cases {
		got, err := m.Dequantize(&ts[i])
		require.NoError(t, err, ts[i].Name)
		require.Equal(t, want, got, ts[i].Name)
	}

	// Per-axis along dimension 0 (a CONV_2D kernel layout), int8 without zero points.
	pm := &Model{Buffers: [][]byte{nil, {1, 2, 3, 4, 5, 6, 0xff, 0x80, 0x7f, 0, 1, 2}}}
	w := Tensor{Name: "w", Shape: []int32{3, 2, 2}, Type: TypeInt8, Buffer: 1,
		Quant: &Quantization{Scale: []float32{1, 0.5, 2}}}
	got, err := pm.Dequantize(&w)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4, 2.5, 3, -0.5, -64, 254, 0, 2, 4}, got)

	bad := map[string]Tensor{
		"no buffer data":       {Shape: []int32{2}, Type: TypeUint8, Buffer: 0, Quant: w.Quant},
		"buffer out of range":  {Shape: []int32{2}, Type: TypeUint8, Buffer: 7, Quant: w.Quant},
		"size mismatch":        {Shape: []int32{2, 2}, Type: TypeInt8, Buffer: 1, Quant: w.Quant},
		"float size mismatch":  {Shape: []int32{2}, Type: TypeFloat32, Buffer: 1},
		"missing quantisation": {Shape: []int32{12}, Type: TypeUint8, Buffer: 1},
		"empty scale":          {Shape: []int32{12}, Type: TypeUint8, Buffer: 1, Quant: &Quantization{}},
		"zero point count":     {Shape: []int32{12}, Type: TypeUint8, Buffer: 1, Quant: &Quantization{Scale: []float32{1}, ZeroPoint: []int64{1, 2}}},
		"bad axis":             {Shape: []int32{3, 4}, Type: TypeUint8, Buffer: 1, Quant: &Quantization{Scale: []float32{1, 1, 1}, QuantizedDimension: 1}},
		"axis out of range":    {Shape: []int32{3, 4}, Type: TypeUint8, Buffer: 1, Quant: &Quantization{Scale: []float32{1, 1, 1}, QuantizedDimension: 2}},
		"negative dimension":   {Shape: []int32{-1, 12}, Type: TypeUint8, Buffer: 1, Quant: w.Quant},
		"unsupported type":     {Shape: []int32{12}, Type: TypeBool, Buffer: 1, Quant: w.Quant},
	}
	for name, tt := range bad {
		_, err := pm.Dequantize(&tt)
		require.Error(t, err, name)
	}
}

func TestInts(t *testing.T) {
	m := &Model{Buffers: [][]byte{nil, {1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}, {2, 0, 0, 0, 0, 0, 0, 0}}}
	got, err := m.Ints(&Tensor{Name: "axes", Shape: []int32{2}, Type: TypeInt32, Buffer: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{1, -2}, got)
	got, err = m.Ints(&Tensor{Name: "n", Shape: []int32{}, Type: TypeInt64, Buffer: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{2}, got)
	_, err = m.Ints(&Tensor{Name: "f", Shape: []int32{2}, Type: TypeFloat32, Buffer: 1})
	require.ErrorContains(t, err, "not INT32 or INT64")
	_, err = m.Ints(&Tensor{Name: "s", Shape: []int32{3}, Type: TypeInt32, Buffer: 1})
	require.ErrorContains(t, err, "8 bytes for 3 INT32 values")
	_, err = m.Ints(&Tensor{Name: "e", Shape: []int32{1}, Type: TypeInt32, Buffer: 0})
	require.ErrorContains(t, err, "0 bytes")
}

func TestEnumStrings(t *testing.T) {
	require.Equal(t, "CONV_2D", OpConv2D.String())
	require.Equal(t, "HARD_SWISH", OpHardSwish.String())
	require.Equal(t, "STABLEHLO_CBRT", BuiltinOp(208).String())
	require.Equal(t, "BuiltinOp(999)", BuiltinOp(999).String())
	require.Equal(t, "INT8", TypeInt8.String())
	require.Equal(t, "VALID", PaddingValid.String())
	require.Equal(t, "RELU6", ActRelu6.String())
	require.Equal(t, "Activation(-1)", Activation(-1).String())
}

// requireNoCrash parses data and, if that succeeds, touches everything a
// caller would; failures must come from bounds checks, not recovered panics.
func requireNoCrash(t testing.TB, data []byte) error {
	m, err := Parse(data)
	if err != nil {
		require.NotContains(t, err.Error(), "internal error")
		return err
	}
	for i := range m.Subgraphs {
		sg := &m.Subgraphs[i]
		for j := range sg.Tensors {
			_, _ = m.Dequantize(&sg.Tensors[j])
		}
		for j := range sg.Operators {
			_ = m.Op(sg, &sg.Operators[j]).String()
		}
	}
	return nil
}

func TestParseCorrupt(t *testing.T) {
	good := testModel()
	_, err := Parse(nil)
	require.Error(t, err)
	wrongID := slices.Clone(good)
	copy(wrongID[4:], "TFL2")
	_, err = Parse(wrongID)
	require.ErrorContains(t, err, "identifier")

	for n := range len(good) {
		require.Error(t, requireNoCrash(t, good[:n]), "truncated to %d bytes", n)
	}
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad := slices.Clone(good)
			bad[i] ^= x
			_ = requireNoCrash(t, bad)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for range 5000 {
		data := make([]byte, 8+rng.Intn(300))
		rng.Read(data)
		copy(data[4:], "TFL3")
		data[0], data[1], data[2], data[3] = byte(rng.Intn(len(data))), 0, 0, 0 // plausible root
		_ = requireNoCrash(t, data)
	}
}

// FuzzParse checks that no input crashes the reader. Minimising a new input
// of the ~1 KB seed model takes long; -fuzzminimizetime 0s keeps it fast:
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 20s -fuzzminimizetime 0s ./models/tflite/
func FuzzParse(f *testing.F) {
	f.Add(testModel())
	f.Add([]byte("\x0c\x00\x00\x00TFL3\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { _ = requireNoCrash(t, data) })
}

// sharedDir returns the "shared" folder next to the repository root, which
// holds large test assets that are not part of the repository.
func sharedDir(t *testing.T) string {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(d), "shared")
			if fi, err := os.Stat(shared); err != nil || !fi.IsDir() {
				t.Skipf("../shared not found: expected %s next to the repository root %s", shared, d)
			}
			return shared
		}
		if filepath.Dir(d) == d {
			t.Skipf("../shared not found: no go.mod above %s", wd)
		}
	}
}

func TestRealModels(t *testing.T) {
	cases := []struct {
		file        string
		input       []int32
		scale       float32
		zeroPoint   int64
		poolChannel int32
		ops         []BuiltinOp
		perChannel  bool // int8 weights with one scale per output channel
	}{
		{"backbones/coral_mobilenet_v2_1.0_224_quant/mobilenet_v2_1.0_224_quant.tflite", []int32{1, 224, 224, 3}, 0.0078125, 128, 1280,
			[]BuiltinOp{OpConv2D, OpDepthwiseConv2D, OpAdd, OpAveragePool2D, OpReshape, OpSoftmax}, false},
		{"backbones/coral_mobilenet_v1_0.25_128_quant/mobilenet_v1_0.25_128_quant.tflite", []int32{1, 128, 128, 3}, 0.0078125, 128, 256,
			[]BuiltinOp{OpConv2D, OpDepthwiseConv2D, OpAveragePool2D, OpReshape, OpSoftmax}, false}, // V1 has no ADD
		{"backbones/coral_tf2_mobilenet_v2_1.0_224_ptq/tf2_mobilenet_v2_1.0_224_ptq.tflite", []int32{1, 224, 224, 3}, 1 / 127.5, 127, 1280,
			[]BuiltinOp{OpQuantize, OpConv2D, OpDepthwiseConv2D, OpAdd, OpMean, OpReshape, OpSoftmax}, true},
	}
	shared := sharedDir(t)
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			path := filepath.Join(shared, c.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("model not available: %v", err)
			}
			m, err := Open(path)
			require.NoError(t, err)
			require.Len(t, m.Subgraphs, 1)
			sg := &m.Subgraphs[0]
			require.Len(t, sg.Inputs, 1)
			in := sg.Tensors[sg.Inputs[0]]
			require.Equal(t, c.input, in.Shape)
			require.Equal(t, TypeUint8, in.Type)
			require.Equal(t, []float32{c.scale}, in.Quant.Scale)
			require.Equal(t, []int64{c.zeroPoint}, in.Quant.ZeroPoint)

			seen := map[BuiltinOp]bool{}
			convs := 0
			for i := range sg.Operators {
				op := &sg.Operators[i]
				code := m.Op(sg, op)
				seen[code] = true
				switch code {
				case OpAveragePool2D, OpMean:
					out := sg.Tensors[op.Outputs[0]].Shape
					require.Equal(t, c.poolChannel, out[len(out)-1])
					if code == OpMean {
						axes, err := m.Ints(&sg.Tensors[op.Inputs[1]])
						require.NoError(t, err)
						require.Equal(t, []int64{1, 2}, axes)
					} else {
						require.IsType(t, &Pool2DOptions{}, op.Options)
					}
				case OpSoftmax:
					require.Equal(t, &SoftmaxOptions{Beta: 1}, op.Options)
				case OpConv2D, OpDepthwiseConv2D:
					convs++
					for _, k := range op.Inputs[1:] { // weights and int32 bias
						w := &sg.Tensors[k]
						if c.perChannel {
							axis := 0 // CONV_2D's output channels; DEPTHWISE_CONV_2D's are last
							if code == OpDepthwiseConv2D && len(w.Shape) == 4 {
								axis = 3
							}
							require.Equal(t, int(w.Shape[axis]), len(w.Quant.Scale), w.Name)
							require.Equal(t, int32(axis), w.Quant.QuantizedDimension, w.Name)
						}
						vals, err := m.Dequantize(w)
						require.NoError(t, err, w.Name)
						require.Len(t, vals, w.NumElements())
						for _, v := range vals {
							require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), w.Name)
						}
					}
				}
			}
			for _, want := range c.ops {
				require.True(t, seen[want], "missing op %v", want)
			}
			require.Positive(t, convs)
			last := sg.Tensors[sg.Outputs[0]]
			require.Equal(t, []int32{1, 1001}, last.Shape)
			// TF1 converters name the output after its op; TF2 after the signature's Identity.
			require.True(t, strings.HasSuffix(last.Name, "Softmax") || strings.HasSuffix(last.Name, "Reshape_1") ||
				last.Name == "Identity", last.Name)
		})
	}
}
