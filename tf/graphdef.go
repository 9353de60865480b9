package tf

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// ImportMapped is Import with an input map: every input of an imported operation that names a
// key of inputMap ("op:index", or "op" for index 0) reads the mapped output of g instead. This
// replaces tensors of a stored graph, such as its placeholder or its constant weights, by tensors
// built before the import.
func (g *Graph) ImportMapped(def []byte, prefix string, inputMap map[string]Output) error {
	if len(def) == 0 {
		return fmt.Errorf("import graph: empty GraphDef")
	}
	opts := C.ltf_NewImportGraphDefOptions()
	defer C.ltf_DeleteImportGraphDefOptions(opts)
	if prefix != "" {
		cp := C.CString(prefix)
		defer C.free(unsafe.Pointer(cp))
		C.ltf_ImportGraphDefOptionsSetPrefix(opts, cp)
	}
	keys := make([]string, 0, len(inputMap))
	for k := range inputMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, idx, err := splitTensorName(k)
		if err != nil {
			return fmt.Errorf("import graph: input map: %w", err)
		}
		dst := inputMap[k]
		if dst.Op == nil || dst.Op.g != g {
			return fmt.Errorf("import graph: input map: %s maps to an output of another graph", k)
		}
		cn := C.CString(name)
		C.ltf_ImportGraphDefOptionsAddInputMapping(opts, cn, C.int(idx), dst.c())
		C.free(unsafe.Pointer(cn))
	}
	cdef := C.CBytes(def)
	defer C.free(cdef)
	buf := C.ltf_NewBufferFromString(cdef, C.size_t(len(def)))
	defer C.ltf_DeleteBuffer(buf)
	s := newStatus()
	defer s.free()
	C.ltf_GraphImportGraphDef(g.c, buf, opts, s.c)
	if err := s.err(); err != nil {
		return fmt.Errorf("import graph: %w", err)
	}
	return nil
}

// splitTensorName splits "op:index" (or "op", index 0).
func splitTensorName(name string) (string, int, error) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return name, 0, nil
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("bad tensor name %q", name)
	}
	return name[:i], n, nil
}

// OpName returns the operation of a tensor name: "op" of "op:index", "op" or the control input
// "^op".
func OpName(tensor string) string {
	tensor = strings.TrimPrefix(tensor, "^")
	if i := strings.LastIndexByte(tensor, ':'); i >= 0 {
		return tensor[:i]
	}
	return tensor
}

// NodeDef is one node of a serialised GraphDef: the parts needed to walk the graph's structure.
type NodeDef struct {
	Name string
	Op   string
	// Inputs are tensor names ("op" or "op:index"); control inputs start with "^".
	Inputs []string
	// Attrs maps attribute names to their serialised AttrValue messages.
	Attrs map[string][]byte
}

// AttrValue field numbers (tensorflow/core/framework/attr_value.proto).
const (
	attrList   = 1
	attrS      = 2
	attrB      = 5
	attrType   = 6
	attrTensor = 8
	listI      = 3 // AttrValue.ListValue.i
)

// attrField returns the payload of field num of the attribute name (nil when absent or
// malformed): the bytes of a length-delimited field, the varint's bytes otherwise.
func (n NodeDef) attrField(name string, num protowire.Number) []byte {
	var out []byte
	_ = eachField(n.Attrs[name], func(f protowire.Number, v []byte) error {
		if f == num {
			out = v
		}
		return nil
	})
	return out
}

// AttrString returns a string attribute, such as a convolution's "padding"; "" when absent.
func (n NodeDef) AttrString(name string) string { return string(n.attrField(name, attrS)) }

// AttrBool returns a bool attribute; false when absent.
func (n NodeDef) AttrBool(name string) bool {
	v, k := protowire.ConsumeVarint(n.attrField(name, attrB))
	return k > 0 && v != 0
}

// AttrType returns a type attribute, such as a Cast's "DstT"; 0 when absent.
func (n NodeDef) AttrType(name string) DataType {
	v, _ := protowire.ConsumeVarint(n.attrField(name, attrType))
	return DataType(v)
}

// AttrInts returns a list(int) attribute, such as a convolution's "strides", packed or not; nil
// when absent.
func (n NodeDef) AttrInts(name string) ([]int64, error) {
	var out []int64
	err := eachField(n.attrField(name, attrList), func(num protowire.Number, v []byte) error {
		if num == listI {
			return appendVarints(&out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: attribute %s: %w", n.Name, name, err)
	}
	return out, nil
}

// AttrTensorInts returns the values of an int32 or int64 tensor attribute, such as the "value"
// of a Const that holds paddings.
func (n NodeDef) AttrTensorInts(name string) ([]int64, error) {
	var out []int64
	var dtype DataType
	var content []byte
	err := eachField(n.attrField(name, attrTensor), func(num protowire.Number, v []byte) error {
		switch num {
		case 1: // dtype
			d, _ := protowire.ConsumeVarint(v)
			dtype = DataType(d)
		case 4: // tensor_content, little-endian, decoded once dtype is known
			content = v
		case 7, 10: // int_val, int64_val
			return appendVarints(&out, v)
		}
		return nil
	})
	if err == nil && dtype != Int32 && dtype != Int64 {
		err = fmt.Errorf("not an integer tensor (type %d)", dtype)
	}
	if err != nil {
		return nil, fmt.Errorf("node %s: attribute %s: %w", n.Name, name, err)
	}
	for ; dtype == Int32 && len(content) >= 4; content = content[4:] {
		out = append(out, int64(int32(binary.LittleEndian.Uint32(content))))
	}
	for ; dtype == Int64 && len(content) >= 8; content = content[8:] {
		out = append(out, int64(binary.LittleEndian.Uint64(content)))
	}
	return out, nil
}

// appendVarints appends the varints of a packed field, or the one varint of an unpacked one.
func appendVarints(out *[]int64, b []byte) error {
	for len(b) > 0 {
		v, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		*out, b = append(*out, int64(v)), b[m:]
	}
	return nil
}

// InputOp returns the name of the operation that feeds the node's i-th input.
func (n NodeDef) InputOp(i int) string { return OpName(n.Inputs[i]) }

// ParseGraphDef reads the nodes of a serialised GraphDef in their stored order.
func ParseGraphDef(def []byte) ([]NodeDef, error) {
	var nodes []NodeDef
	err := eachField(def, func(num protowire.Number, v []byte) error {
		if num != 1 { // node
			return nil
		}
		n, err := ParseNodeDef(v)
		nodes = append(nodes, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read GraphDef: %w", err)
	}
	return nodes, nil
}

// ParseNodeDef reads one serialised NodeDef.
func ParseNodeDef(b []byte) (NodeDef, error) {
	var n NodeDef
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			n.Name = string(v)
		case 2:
			n.Op = string(v)
		case 3:
			n.Inputs = append(n.Inputs, string(v))
		case 5: // attr: map entry of key 1 and AttrValue 2
			key, value, err := mapEntry(v)
			if err != nil {
				return err
			}
			if n.Attrs == nil {
				n.Attrs = map[string][]byte{}
			}
			n.Attrs[key] = value
		}
		return nil
	})
	return n, err
}

// ReadSavedModelGraph reads the GraphDef and the signatures of the MetaGraph tagged ServeTag from
// dir/saved_model.pb without starting a session. Variables are not read: this suits graph-only
// SavedModels such as those WriteSavedModel writes.
func ReadSavedModelGraph(dir string) ([]byte, map[string]Signature, error) {
	path := filepath.Join(dir, "saved_model.pb")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read SavedModel: %w", err)
	}
	var def []byte
	var sigs map[string]Signature
	found := false
	err = eachField(b, func(num protowire.Number, meta []byte) error {
		if num != 2 || found { // meta_graphs
			return nil
		}
		var tags []string
		var graph []byte
		err := eachField(meta, func(num protowire.Number, v []byte) error {
			switch num {
			case 1: // meta_info_def
				return eachField(v, func(num protowire.Number, v []byte) error {
					if num == 4 {
						tags = append(tags, string(v))
					}
					return nil
				})
			case 2:
				graph = v
			}
			return nil
		})
		if err != nil || !slices.Contains(tags, ServeTag) {
			return err
		}
		found = true
		def = graph
		sigs, err = parseSignatures(meta)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read SavedModel %s: %w", path, err)
	}
	if !found || len(def) == 0 {
		return nil, nil, fmt.Errorf("read SavedModel %s: no graph tagged %q", path, ServeTag)
	}
	return def, sigs, nil
}

// FilterGraphDef returns def with only the nodes keep accepts, in their order; the GraphDef's
// other fields (versions, function library) are copied as they are.
func FilterGraphDef(def []byte, keep func(NodeDef) bool) ([]byte, error) {
	out := make([]byte, 0, len(def))
	b := def
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("filter GraphDef: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, fmt.Errorf("filter GraphDef: %w", protowire.ParseError(m))
		}
		field := b[:n+m]
		b = b[n+m:]
		if num == 1 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(field[n:])
			node, err := ParseNodeDef(v)
			if err != nil {
				return nil, fmt.Errorf("filter GraphDef: %w", err)
			}
			if !keep(node) {
				continue
			}
		}
		out = append(out, field...)
	}
	return out, nil
}
