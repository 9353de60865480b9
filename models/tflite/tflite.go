// Package tflite reads TensorFlow Lite flatbuffer model files (schema v3, file
// identifier "TFL3") and dequantises their constant tensors.
//
// The reader is hand-written on top of the flatbuffers Go runtime; every offset
// is bounds-checked, so truncated or corrupt input yields an error instead of a
// panic. Field indices follow tensorflow/lite/schema/schema.fbs (flatbuffers
// field N lives at vtable offset 4+2*N).
package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	flatbuffers "github.com/google/flatbuffers/go"
)

// Open reads and parses the .tflite file at path.
func Open(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse decodes a TFLite model from data. Model.Buffers alias data.
func Parse(data []byte) (m *Model, err error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("tflite: %d bytes is too short for a model", len(data))
	}
	if id := string(data[4:8]); id != "TFL3" {
		return nil, fmt.Errorf("tflite: file identifier %q, want \"TFL3\"", id)
	}
	p := &parser{buf: data, budget: 2*len(data) + 4096}
	defer func() { // last line of defence; all reads are bounds-checked first
		switch r := recover().(type) {
		case nil:
		case corrupt:
			m, err = nil, fmt.Errorf("tflite: corrupt model: %s", string(r))
		default: // a missed check; still better than crashing the caller
			m, err = nil, fmt.Errorf("tflite: internal error on corrupt model: %v", r)
		}
	}()
	return p.model(), nil
}

// Op returns the builtin code of op, or -1 if its opcode index is out of range.
// sg is unused: operator codes are shared by all subgraphs of a model.
func (m *Model) Op(sg *Subgraph, op *Operator) BuiltinOp {
	if int(op.OpcodeIndex) < len(m.OperatorCodes) {
		return m.OperatorCodes[op.OpcodeIndex].Builtin
	}
	return -1
}

// TensorData returns the raw little-endian bytes of t's buffer, or nil for
// tensors without constant data (activations, inputs).
func (m *Model) TensorData(t *Tensor) []byte {
	if int(t.Buffer) < len(m.Buffers) {
		return m.Buffers[t.Buffer]
	}
	return nil
}

// intReaders decode one element of the integer types Dequantize accepts.
var intReaders = map[TensorType]struct {
	size int
	get  func([]byte) int64
}{
	TypeUint8: {1, func(b []byte) int64 { return int64(b[0]) }},
	TypeInt8:  {1, func(b []byte) int64 { return int64(int8(b[0])) }},
	TypeInt16: {2, func(b []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(b))) }},
	TypeInt32: {4, func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }},
	TypeInt64: {8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }},
}

// Dequantize returns the float values of the constant tensor t in stored
// (row-major) order. FLOAT32 data is returned as is; UINT8, INT8, INT16, INT32
// and INT64 data becomes Scale*(q-ZeroPoint), per axis along
// QuantizedDimension when there is more than one scale (a missing ZeroPoint
// vector counts as zero). It fails when t has no buffer data, the data size
// does not match the shape, or an integer tensor has no quantisation scale.
func (m *Model) Dequantize(t *Tensor) ([]float32, error) {
	data := m.TensorData(t)
	n := t.NumElements()
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("tflite: tensor %q has no buffer data", t.Name)
	case n < 0:
		return nil, fmt.Errorf("tflite: tensor %q has invalid shape %v", t.Name, t.Shape)
	}
	if t.Type == TypeFloat32 {
		if len(data)/4 != n || len(data)%4 != 0 {
			return nil, fmt.Errorf("tflite: tensor %q: %d bytes for %d FLOAT32 values", t.Name, len(data), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return out, nil
	}
	rd, ok := intReaders[t.Type]
	switch {
	case !ok:
		return nil, fmt.Errorf("tflite: tensor %q: cannot dequantise type %v", t.Name, t.Type)
	case len(data)/rd.size != n || len(data)%rd.size != 0:
		return nil, fmt.Errorf("tflite: tensor %q: %d bytes for %d %v values", t.Name, len(data), n, t.Type)
	}
	q := t.Quant
	switch {
	case q == nil || len(q.Scale) == 0:
		return nil, fmt.Errorf("tflite: tensor %q (%v) has no quantisation scale", t.Name, t.Type)
	case len(q.ZeroPoint) != 0 && len(q.ZeroPoint) != len(q.Scale):
		return nil, fmt.Errorf("tflite: tensor %q: %d scales but %d zero points", t.Name, len(q.Scale), len(q.ZeroPoint))
	}
	stride := 1 // elements per step of the quantised dimension
	if len(q.Scale) > 1 {
		d := int(q.QuantizedDimension)
		if d < 0 || d >= len(t.Shape) || int(t.Shape[d]) != len(q.Scale) {
			return nil, fmt.Errorf("tflite: tensor %q: %d scales do not match dimension %d of shape %v",
				t.Name, len(q.Scale), d, t.Shape)
		}
		for _, s := range t.Shape[d+1:] {
			stride *= int(s)
		}
	}
	out := make([]float32, n)
	for i := range out {
		c := i / stride % len(q.Scale)
		var zp int64
		if len(q.ZeroPoint) > 0 {
			zp = q.ZeroPoint[c]
		}
		out[i] = float32(float64(q.Scale[c]) * float64(rd.get(data[rd.size*i:])-zp))
	}
	return out, nil
}

// Ints returns the raw values of the constant integer tensor t (INT32 or INT64, such as axes and
// shapes) in stored order, without dequantisation.
func (m *Model) Ints(t *Tensor) ([]int64, error) {
	data := m.TensorData(t)
	n := t.NumElements()
	rd, ok := intReaders[t.Type]
	switch {
	case t.Type != TypeInt32 && t.Type != TypeInt64 || !ok:
		return nil, fmt.Errorf("tflite: tensor %q is %v, not INT32 or INT64", t.Name, t.Type)
	case n < 0:
		return nil, fmt.Errorf("tflite: tensor %q has invalid shape %v", t.Name, t.Shape)
	case len(data) != n*rd.size:
		return nil, fmt.Errorf("tflite: tensor %q: %d bytes for %d %v values", t.Name, len(data), n, t.Type)
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = rd.get(data[rd.size*i:])
	}
	return out, nil
}

// parser walks a flatbuffer; on malformed input it panics with a corrupt value,
// which Parse turns into an error.
type parser struct {
	buf    []byte
	budget int // decoded elements left; stops blow-up through shared vectors
}

type corrupt string

func (p *parser) fail(format string, args ...any) { panic(corrupt(fmt.Sprintf(format, args...))) }

// need fails unless buf[off:off+n] is in range.
func (p *parser) need(off, n int, what string) {
	if off < 0 || n < 0 || off > len(p.buf) || n > len(p.buf)-off {
		p.fail("%s out of range (offset %d, size %d, file %d bytes)", what, off, n, len(p.buf))
	}
}

func (p *parser) spend(n int) {
	if p.budget -= n; p.budget < 0 {
		p.fail("decoded data larger than the file allows")
	}
}

// table is a validated flatbuffers table; the zero table (p == nil) stands for
// an absent table and yields defaults for every field.
type table struct {
	flatbuffers.Table
	p          *parser
	vlen, size int // vtable and inline object size in bytes
}

func (p *parser) table(pos int, what string) table {
	p.need(pos, 4, what)
	vt := pos - int(flatbuffers.GetSOffsetT(p.buf[pos:]))
	p.need(vt, 4, what+" vtable")
	vlen, size := int(flatbuffers.GetVOffsetT(p.buf[vt:])), int(flatbuffers.GetVOffsetT(p.buf[vt+2:]))
	if vlen < 4 || vlen%2 != 0 || size < 4 {
		p.fail("%s: bad vtable (size %d, object size %d)", what, vlen, size)
	}
	p.need(vt, vlen, what+" vtable")
	p.need(pos, size, what)
	return table{flatbuffers.Table{Bytes: p.buf, Pos: flatbuffers.UOffsetT(pos)}, p, vlen, size}
}

// field returns the absolute position of field i (size bytes inline), or 0
// when the field is absent.
func (t table) field(i, size int) int {
	vo := 4 + 2*i
	if t.p == nil || vo+2 > t.vlen {
		return 0
	}
	o := int(t.Offset(flatbuffers.VOffsetT(vo)))
	if o == 0 {
		return 0
	}
	if o < 4 || o+size > t.size {
		t.p.fail("field %d at offset %d outside its table (size %d)", i, o, t.size)
	}
	return int(t.Pos) + o
}

func (t table) i8(i int, def int8) int8 {
	if at := t.field(i, 1); at != 0 {
		return t.GetInt8(flatbuffers.UOffsetT(at))
	}
	return def
}

func (t table) u8(i int) uint8 { return uint8(t.i8(i, 0)) }

func (t table) i32(i int, def int32) int32 {
	if at := t.field(i, 4); at != 0 {
		return t.GetInt32(flatbuffers.UOffsetT(at))
	}
	return def
}

func (t table) u32(i int) uint32 { return uint32(t.i32(i, 0)) }

func (t table) f32(i int, def float32) float32 {
	if at := t.field(i, 4); at != 0 {
		return t.GetFloat32(flatbuffers.UOffsetT(at))
	}
	return def
}

func (t table) u64(i int) uint64 {
	if at := t.field(i, 8); at != 0 {
		return t.GetUint64(flatbuffers.UOffsetT(at))
	}
	return 0
}

// ref follows the offset stored in field i; 0 when absent.
func (t table) ref(i int) int {
	at := t.field(i, 4)
	if at == 0 {
		return 0
	}
	target := at + int(t.GetUOffsetT(flatbuffers.UOffsetT(at)))
	t.p.need(target, 4, fmt.Sprintf("field %d target", i))
	return target
}

// sub returns the table referenced by field i (the zero table when absent).
func (t table) sub(i int, what string) table {
	if at := t.ref(i); at != 0 {
		return t.p.table(at, what)
	}
	return table{}
}

// vector returns the first element position and length of the vector (or
// string) in field i, whose elements are elem bytes wide.
func (t table) vector(i, elem int) (start, n int) {
	at := t.ref(i)
	if at == 0 {
		return 0, 0
	}
	n, start = int(flatbuffers.GetUOffsetT(t.p.buf[at:])), at+4
	if n > (len(t.p.buf)-start)/elem {
		t.p.fail("vector in field %d: %d elements overrun the file", i, n)
	}
	return start, n
}

func (t table) bytes(i int) []byte {
	if s, n := t.vector(i, 1); n > 0 {
		return t.p.buf[s : s+n : s+n]
	}
	return nil
}

func (t table) str(i int) string {
	s, n := t.vector(i, 1)
	if n == 0 {
		return ""
	}
	t.p.spend(n)
	return string(t.p.buf[s : s+n])
}

func (t table) tables(i int, what string) []table {
	s, n := t.vector(i, 4)
	if n == 0 {
		return nil
	}
	t.p.spend(n)
	out := make([]table, n)
	for k := range out {
		at := s + 4*k
		out[k] = t.p.table(at+int(flatbuffers.GetUOffsetT(t.p.buf[at:])), fmt.Sprintf("%s %d", what, k))
	}
	return out
}

// scalars decodes a vector of fixed-size scalars with the runtime's get function.
func scalars[T any](t table, i, size int, get func([]byte) T) []T {
	s, n := t.vector(i, size)
	if n == 0 {
		return nil
	}
	t.p.spend(n)
	out := make([]T, n)
	for k := range out {
		out[k] = get(t.p.buf[s+size*k:])
	}
	return out
}

func (t table) int32s(i int) []int32 { return scalars(t, i, 4, flatbuffers.GetInt32) }

func (p *parser) model() *Model {
	root := p.table(int(flatbuffers.GetUOffsetT(p.buf)), "model")
	m := &Model{Version: root.u32(0), Description: root.str(3)}
	for _, oc := range root.tables(1, "operator code") {
		// Old files only set deprecated_builtin_code (int8); new ones also set
		// builtin_code (int32). The runtime takes the larger of the two.
		m.OperatorCodes = append(m.OperatorCodes, OperatorCode{
			Builtin:    BuiltinOp(max(int32(oc.i8(0, 0)), oc.i32(3, 0))),
			CustomCode: oc.str(1),
			Version:    oc.i32(2, 1),
		})
	}
	for k, b := range root.tables(4, "buffer") {
		data := b.bytes(0)
		// Models over 2 GB keep buffer data after the flatbuffer, addressed by
		// offset (from the file start) and size; offset 0 and 1 mean "none".
		if off, size := b.u64(1), b.u64(2); data == nil && off > 1 {
			if off > uint64(len(p.buf)) || size > uint64(len(p.buf))-off {
				p.fail("buffer %d: external data [%d,+%d) outside the file", k, off, size)
			}
			data = p.buf[off : off+size : off+size]
		}
		m.Buffers = append(m.Buffers, data)
	}
	for k, sgt := range root.tables(2, "subgraph") {
		sg := Subgraph{Inputs: sgt.int32s(1), Outputs: sgt.int32s(2), Name: sgt.str(4)}
		for _, tt := range sgt.tables(0, "tensor") {
			t := Tensor{Shape: tt.int32s(0), Type: TensorType(tt.i8(1, 0)), Buffer: tt.u32(2), Name: tt.str(3)}
			if int(t.Buffer) >= len(m.Buffers) {
				p.fail("tensor %q: buffer %d of %d", t.Name, t.Buffer, len(m.Buffers))
			}
			if qt := tt.sub(4, "quantization"); qt.p != nil {
				q := &Quantization{
					Min:                scalars(qt, 0, 4, flatbuffers.GetFloat32),
					Max:                scalars(qt, 1, 4, flatbuffers.GetFloat32),
					Scale:              scalars(qt, 2, 4, flatbuffers.GetFloat32),
					ZeroPoint:          scalars(qt, 3, 8, flatbuffers.GetInt64),
					QuantizedDimension: qt.i32(6, 0),
				}
				if q.Min != nil || q.Max != nil || q.Scale != nil || q.ZeroPoint != nil {
					t.Quant = q // converters write empty tables for float tensors
				}
			}
			sg.Tensors = append(sg.Tensors, t)
		}
		for j, ot := range sgt.tables(3, "operator") {
			op := Operator{OpcodeIndex: ot.u32(0), Inputs: ot.int32s(1), Outputs: ot.int32s(2)}
			if int(op.OpcodeIndex) >= len(m.OperatorCodes) {
				p.fail("subgraph %d operator %d: opcode index %d of %d", k, j, op.OpcodeIndex, len(m.OperatorCodes))
			}
			op.Options = options(ot.u8(3), ot.sub(4, "builtin options"), m.OperatorCodes[op.OpcodeIndex].Builtin)
			p.checkIndices(op.Inputs, -1, len(sg.Tensors), "operator inputs")
			p.checkIndices(op.Outputs, -1, len(sg.Tensors), "operator outputs")
			sg.Operators = append(sg.Operators, op)
		}
		p.checkIndices(sg.Inputs, 0, len(sg.Tensors), "subgraph inputs")
		p.checkIndices(sg.Outputs, 0, len(sg.Tensors), "subgraph outputs")
		m.Subgraphs = append(m.Subgraphs, sg)
	}
	return m
}

func (p *parser) checkIndices(idx []int32, lo, n int, what string) {
	for _, i := range idx {
		if int(i) < lo || int(i) >= n {
			p.fail("%s: tensor index %d of %d", what, i, n)
		}
	}
}

// BuiltinOptions union types (schema enum BuiltinOptions).
const (
	optConv2D          = 1
	optDepthwiseConv2D = 2
	optPool2D          = 5
	optFullyConnected  = 8
	optSoftmax         = 9
	optConcatenation   = 10
	optAdd             = 11
	optReshape         = 17
)

// defaultOptions gives the options type assumed when an op stores none.
var defaultOptions = map[BuiltinOp]uint8{
	OpConv2D: optConv2D, OpDepthwiseConv2D: optDepthwiseConv2D,
	OpAveragePool2D: optPool2D, OpMaxPool2D: optPool2D, OpL2Pool2D: optPool2D,
	OpFullyConnected: optFullyConnected, OpSoftmax: optSoftmax,
	OpConcatenation: optConcatenation, OpAdd: optAdd, OpReshape: optReshape,
}

// options decodes the builtin_options union; absent fields (or an absent
// table) take the schema defaults.
func options(typ uint8, t table, op BuiltinOp) any {
	if typ == 0 {
		typ, t = defaultOptions[op], table{}
	}
	switch typ {
	case optConv2D:
		return &Conv2DOptions{Padding: Padding(t.i8(0, 0)), StrideW: t.i32(1, 0), StrideH: t.i32(2, 0),
			Activation: Activation(t.i8(3, 0)), DilationW: t.i32(4, 1), DilationH: t.i32(5, 1)}
	case optDepthwiseConv2D:
		return &DepthwiseConv2DOptions{Padding: Padding(t.i8(0, 0)), StrideW: t.i32(1, 0), StrideH: t.i32(2, 0),
			DepthMultiplier: t.i32(3, 0), Activation: Activation(t.i8(4, 0)), DilationW: t.i32(5, 1), DilationH: t.i32(6, 1)}
	case optPool2D:
		return &Pool2DOptions{Padding: Padding(t.i8(0, 0)), StrideW: t.i32(1, 0), StrideH: t.i32(2, 0),
			FilterW: t.i32(3, 0), FilterH: t.i32(4, 0), Activation: Activation(t.i8(5, 0))}
	case optFullyConnected:
		return &FullyConnectedOptions{Activation: Activation(t.i8(0, 0))}
	case optSoftmax:
		return &SoftmaxOptions{Beta: t.f32(0, 0)}
	case optConcatenation:
		return &ConcatenationOptions{Axis: t.i32(0, 0), Activation: Activation(t.i8(1, 0))}
	case optAdd:
		return &AddOptions{Activation: Activation(t.i8(0, 0))}
	case optReshape:
		return &ReshapeOptions{NewShape: t.int32s(0)}
	}
	return nil
}
