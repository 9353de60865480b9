package tf

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sort"
	"unsafe"
)

// Graph is a TensorFlow computation graph.
type Graph struct {
	c *C.TF_Graph
}

// NewGraph returns an empty graph.
func NewGraph() (*Graph, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	return wrapGraph(C.ltf_NewGraph()), nil
}

func wrapGraph(c *C.TF_Graph) *Graph {
	g := &Graph{c: c}
	runtime.SetFinalizer(g, (*Graph).Close)
	return g
}

// Close frees the graph. Sessions that use it must be closed first.
func (g *Graph) Close() {
	if g == nil || g.c == nil {
		return
	}
	C.ltf_DeleteGraph(g.c)
	g.c = nil
	runtime.SetFinalizer(g, nil)
}

// Operation is a node of a Graph.
type Operation struct {
	c *C.TF_Operation
	g *Graph // keeps the graph alive while the operation is in use
}

// Output is one output of an operation: a symbolic tensor.
type Output struct {
	Op    *Operation
	Index int
}

func (o Output) c() C.TF_Output { return C.TF_Output{oper: o.Op.c, index: C.int(o.Index)} }

// Operation looks an operation up by name; it returns nil when there is none.
func (g *Graph) Operation(name string) *Operation {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	c := C.ltf_GraphOperationByName(g.c, cs)
	if c == nil {
		return nil
	}
	return &Operation{c: c, g: g}
}

// Operations returns every operation of the graph in the order they were added.
func (g *Graph) Operations() []*Operation {
	var ops []*Operation
	var pos C.size_t
	for {
		c := C.ltf_GraphNextOperation(g.c, &pos)
		if c == nil {
			return ops
		}
		ops = append(ops, &Operation{c: c, g: g})
	}
}

// Name returns the operation's unique name.
func (op *Operation) Name() string { return C.GoString(C.ltf_OperationName(op.c)) }

// Type returns the operation's type, such as "Conv2D".
func (op *Operation) Type() string { return C.GoString(C.ltf_OperationOpType(op.c)) }

// NumOutputs returns how many outputs the operation has.
func (op *Operation) NumOutputs() int { return int(C.ltf_OperationNumOutputs(op.c)) }

// NumInputs returns how many inputs the operation has.
func (op *Operation) NumInputs() int { return int(C.ltf_OperationNumInputs(op.c)) }

// Output returns the operation's i-th output.
func (op *Operation) Output(i int) Output { return Output{Op: op, Index: i} }

// DataType returns the element type of the output.
func (o Output) DataType() DataType { return DataType(C.ltf_OperationOutputType(o.c())) }

// Shape returns the output's static shape as far as the graph knows it: -1 marks an unknown
// dimension, and a nil slice with ok false an unknown rank.
func (o Output) Shape() (dims []int64, ok bool) {
	s := newStatus()
	defer s.free()
	n := C.ltf_GraphGetTensorNumDims(o.Op.g.c, o.c(), s.c)
	if s.err() != nil || n < 0 {
		return nil, false
	}
	dims = make([]int64, int(n))
	if n > 0 {
		C.ltf_GraphGetTensorShape(o.Op.g.c, o.c(), (*C.int64_t)(unsafe.Pointer(&dims[0])), n, s.c)
		if s.err() != nil {
			return nil, false
		}
	}
	return dims, true
}

// Name returns the output's tensor name, "op:index".
func (o Output) Name() string { return fmt.Sprintf("%s:%d", o.Op.Name(), o.Index) }

// Shape describes a tensor shape for an attribute; -1 is an unknown dimension.
type Shape []int64

// ShapesAgree reports whether two shapes have the same rank and equal dimensions wherever both
// are known (-1 in either is unknown).
func ShapesAgree(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] >= 0 && b[i] >= 0 && a[i] != b[i] {
			return false
		}
	}
	return true
}

// OpSpec describes an operation to add to a graph.
type OpSpec struct {
	Type  string
	Name  string
	Input []any // each an Output, or a []Output for a list input
	// Attrs values may be string, []string, int64, int, []int64, float32, []float32, bool,
	// DataType, []DataType, Shape or *Tensor.
	Attrs   map[string]any
	Control []*Operation
}

// AddOperation adds an operation to the graph.
func (g *Graph) AddOperation(spec OpSpec) (*Operation, error) {
	ctype, cname := C.CString(spec.Type), C.CString(spec.Name)
	defer C.free(unsafe.Pointer(ctype))
	defer C.free(unsafe.Pointer(cname))
	d := C.ltf_NewOperation(g.c, ctype, cname)
	for i, in := range spec.Input {
		switch v := in.(type) {
		case Output:
			C.ltf_AddInput(d, v.c())
		case []Output:
			list := make([]C.TF_Output, len(v))
			for j, o := range v {
				list[j] = o.c()
			}
			var p *C.TF_Output
			if len(list) > 0 {
				p = &list[0]
			}
			C.ltf_AddInputList(d, p, C.int(len(list)))
		default:
			// The description must still be finished to be freed; an empty op fails there.
			err := fmt.Errorf("op %s (%s): input %d has type %T, want Output or []Output", spec.Name, spec.Type, i, in)
			finishDiscard(d)
			return nil, err
		}
	}
	for _, c := range spec.Control {
		C.ltf_AddControlInput(d, c.c)
	}
	names := make([]string, 0, len(spec.Attrs))
	for k := range spec.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := setAttr(d, name, spec.Attrs[name]); err != nil {
			finishDiscard(d)
			return nil, fmt.Errorf("op %s (%s): attribute %s: %w", spec.Name, spec.Type, name, err)
		}
	}
	s := newStatus()
	defer s.free()
	c := C.ltf_FinishOperation(d, s.c)
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("op %s (%s): %w", spec.Name, spec.Type, err)
	}
	return &Operation{c: c, g: g}, nil
}

// finishDiscard finishes a description that is known to be bad, so that TensorFlow frees it; an
// operation without its required inputs fails to finish and is not added.
func finishDiscard(d *C.TF_OperationDescription) {
	s := newStatus()
	defer s.free()
	C.ltf_FinishOperation(d, s.c)
}

func setAttr(d *C.TF_OperationDescription, name string, value any) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	switch v := value.(type) {
	case string:
		cs := C.CString(v)
		defer C.free(unsafe.Pointer(cs))
		C.ltf_SetAttrString(d, cn, unsafe.Pointer(cs), C.size_t(len(v)))
	case []string:
		ptrs := C.malloc(C.size_t(len(v)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
		defer C.free(ptrs)
		pl := unsafe.Slice((*unsafe.Pointer)(ptrs), len(v)+1)
		lens := make([]C.size_t, len(v)+1)
		for i, s := range v {
			pl[i] = unsafe.Pointer(C.CString(s))
			defer C.free(pl[i])
			lens[i] = C.size_t(len(s))
		}
		C.ltf_SetAttrStringList(d, cn, (*unsafe.Pointer)(ptrs), &lens[0], C.int(len(v)))
	case int:
		C.ltf_SetAttrInt(d, cn, C.int64_t(v))
	case int64:
		C.ltf_SetAttrInt(d, cn, C.int64_t(v))
	case []int64:
		var p *C.int64_t
		if len(v) > 0 {
			p = (*C.int64_t)(unsafe.Pointer(&v[0]))
		}
		C.ltf_SetAttrIntList(d, cn, p, C.int(len(v)))
	case float32:
		C.ltf_SetAttrFloat(d, cn, C.float(v))
	case []float32:
		var p *C.float
		if len(v) > 0 {
			p = (*C.float)(unsafe.Pointer(&v[0]))
		}
		C.ltf_SetAttrFloatList(d, cn, p, C.int(len(v)))
	case bool:
		b := C.uchar(0)
		if v {
			b = 1
		}
		C.ltf_SetAttrBool(d, cn, b)
	case DataType:
		C.ltf_SetAttrType(d, cn, C.TF_DataType(v))
	case []DataType:
		list := make([]C.TF_DataType, len(v)+1)
		for i, t := range v {
			list[i] = C.TF_DataType(t)
		}
		C.ltf_SetAttrTypeList(d, cn, &list[0], C.int(len(v)))
	case Shape:
		var p *C.int64_t
		if len(v) > 0 {
			p = (*C.int64_t)(unsafe.Pointer(&v[0]))
		}
		C.ltf_SetAttrShape(d, cn, p, C.int(len(v)))
	case *Tensor:
		s := newStatus()
		defer s.free()
		C.ltf_SetAttrTensor(d, cn, v.c, s.c)
		runtime.KeepAlive(v)
		return s.err()
	default:
		return fmt.Errorf("unsupported attribute value type %T", value)
	}
	return nil
}

// GraphDef serialises the graph as a GraphDef protocol buffer.
func (g *Graph) GraphDef() ([]byte, error) {
	buf := C.ltf_NewBuffer()
	defer C.ltf_DeleteBuffer(buf)
	s := newStatus()
	defer s.free()
	C.ltf_GraphToGraphDef(g.c, buf, s.c)
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("export graph: %w", err)
	}
	return C.GoBytes(buf.data, C.int(buf.length)), nil
}

// Import adds the operations of a serialised GraphDef to the graph, their names prefixed with
// prefix + "/" when prefix is not empty.
func (g *Graph) Import(def []byte, prefix string) error { return g.ImportMapped(def, prefix, nil) }

// AddGradients adds operations that compute the partial derivatives of sum(ys) with respect to
// each of xs, and returns them in the order of xs. Operation names start with prefix, which must
// be unique in the graph ("" lets TensorFlow choose).
func (g *Graph) AddGradients(prefix string, ys, xs []Output) ([]Output, error) {
	if len(ys) == 0 || len(xs) == 0 {
		return nil, fmt.Errorf("gradients need at least one y and one x")
	}
	cy := make([]C.TF_Output, len(ys))
	for i, y := range ys {
		cy[i] = y.c()
	}
	cx := make([]C.TF_Output, len(xs))
	for i, x := range xs {
		cx[i] = x.c()
	}
	dy := make([]C.TF_Output, len(xs))
	var cp *C.char
	if prefix != "" {
		cp = C.CString(prefix)
		defer C.free(unsafe.Pointer(cp))
	}
	s := newStatus()
	defer s.free()
	C.ltf_AddGradientsWithPrefix(g.c, cp, &cy[0], C.int(len(cy)), &cx[0], C.int(len(cx)), nil, s.c, &dy[0])
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	out := make([]Output, len(dy))
	for i, d := range dy {
		out[i] = Output{Op: &Operation{c: d.oper, g: g}, Index: int(d.index)}
	}
	return out, nil
}
