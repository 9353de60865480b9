package export

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lessdata/lessdata/tf"
)

// GraphDef field numbers (tensorflow/core/framework/graph.proto, node_def.proto,
// function.proto, op_def.proto, attr_value.proto).
const (
	graphNode    = 1  // GraphDef.node
	graphLibrary = 2  // GraphDef.library
	libFunction  = 1  // FunctionDefLibrary.function
	nodeName     = 1  // NodeDef.name
	nodeOp       = 2  // NodeDef.op
	nodeInput    = 3  // NodeDef.input
	nodeAttr     = 5  // NodeDef.attr
	funcSig      = 1  // FunctionDef.signature
	funcNode     = 3  // FunctionDef.node_def
	funcRet      = 4  // FunctionDef.ret
	opDefName    = 1  // OpDef.name
	opDefInput   = 2  // OpDef.input_arg
	opDefOutput  = 3  // OpDef.output_arg
	argName      = 1  // OpDef.ArgDef.name
	argType      = 3  // OpDef.ArgDef.type
	attrList     = 1  // AttrValue.list
	attrI        = 3  // AttrValue.i
	attrType     = 6  // AttrValue.type
	attrShape    = 7  // AttrValue.shape
	attrFunc     = 10 // AttrValue.func
	listType     = 6  // AttrValue.ListValue.type (packed)
	listShape    = 7  // AttrValue.ListValue.shape
	shapeDim     = 2  // TensorShapeProto.dim
	dimSize      = 1  // TensorShapeProto.Dim.size
	nameAttrName = 1  // NameAttrList.name
)

// node is one NodeDef of a GraphDef, with its attributes kept serialised, that export edits and
// writes back.
type node struct {
	tf.NodeDef
}

// field is one field of a serialised message: its number and its payload (the bytes of a
// length-delimited field, the varint's bytes otherwise).
type field struct {
	num protowire.Number
	typ protowire.Type
	raw []byte
}

// fields splits a serialised message into its fields.
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		raw := b[:m]
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			raw = v
		}
		out = append(out, field{num, typ, raw})
		b = b[m:]
	}
	return out, nil
}

// parseNodes returns the nodes of a serialised GraphDef and the serialised functions of its
// library.
func parseNodes(def []byte) (nodes []*node, functions [][]byte, err error) {
	fs, err := fields(def)
	if err != nil {
		return nil, nil, fmt.Errorf("read GraphDef: %w", err)
	}
	for _, f := range fs {
		switch f.num {
		case graphNode:
			n, err := parseNode(f.raw)
			if err != nil {
				return nil, nil, fmt.Errorf("read GraphDef: %w", err)
			}
			nodes = append(nodes, n)
		case graphLibrary:
			lib, err := fields(f.raw)
			if err != nil {
				return nil, nil, fmt.Errorf("read GraphDef library: %w", err)
			}
			for _, l := range lib {
				if l.num == libFunction {
					functions = append(functions, l.raw)
				}
			}
		}
	}
	return nodes, functions, nil
}

func parseNode(b []byte) (*node, error) {
	n, err := tf.ParseNodeDef(b)
	return &node{n}, err
}

// bytes serialises the node as a NodeDef.
func (n *node) bytes() []byte {
	var b []byte
	b = protowire.AppendTag(b, nodeName, protowire.BytesType)
	b = protowire.AppendString(b, n.Name)
	b = protowire.AppendTag(b, nodeOp, protowire.BytesType)
	b = protowire.AppendString(b, n.Op)
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, k := range slices.Sorted(maps.Keys(n.Attrs)) {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendBytes(e, n.Attrs[k])
		b = protowire.AppendTag(b, nodeAttr, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

// appendNodes appends nodes to a serialised GraphDef: concatenated GraphDefs merge.
func appendNodes(def []byte, nodes []*node) []byte {
	for _, n := range nodes {
		def = protowire.AppendTag(def, graphNode, protowire.BytesType)
		def = protowire.AppendBytes(def, n.bytes())
	}
	return def
}

// prune keeps the nodes that root (an operation name) needs, in their order.
func prune(nodes []*node, root string) []*node {
	byName := make(map[string]*node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	keep := map[string]bool{}
	stack := []string{root}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, ok := byName[name]
		if !ok || keep[name] {
			continue
		}
		keep[name] = true
		for _, in := range n.Inputs {
			stack = append(stack, tf.OpName(in))
		}
	}
	out := make([]*node, 0, len(keep))
	for _, n := range nodes {
		if keep[n.Name] {
			out = append(out, n)
		}
	}
	return out
}

// splice renames the nodes of a graph under prefix and turns its placeholder (the op named
// input) into an Identity of the tensor from, so that the graph reads from another one.
func splice(nodes []*node, prefix, input, from string) ([]*node, error) {
	out := make([]*node, 0, len(nodes))
	found := false
	for _, n := range nodes {
		if variableOps[n.Op] {
			return nil, fmt.Errorf("operation %s (%s) holds a variable: only frozen SavedModels (weights as constants) can be exported", n.Name, n.Op)
		}
		c := &node{tf.NodeDef{Name: prefix + "/" + n.Name, Op: n.Op, Attrs: n.Attrs}}
		for _, in := range n.Inputs {
			if strings.HasPrefix(in, "^") {
				c.Inputs = append(c.Inputs, "^"+prefix+"/"+in[1:])
			} else {
				c.Inputs = append(c.Inputs, prefix+"/"+in)
			}
		}
		if n.Name == input {
			if n.Op != "Placeholder" {
				return nil, fmt.Errorf("the model's input %s is a %s, not a Placeholder", n.Name, n.Op)
			}
			found = true
			c.Op, c.Inputs = "Identity", []string{from}
			c.Attrs = map[string][]byte{"T": n.Attrs["dtype"]}
		}
		out = append(out, c)
	}
	if !found {
		return nil, fmt.Errorf("the graph has no input operation %q", input)
	}
	return out, nil
}

// variableOps are operations whose values live outside the GraphDef.
var variableOps = map[string]bool{"VarHandleOp": true, "VariableV2": true, "Variable": true,
	"ReadVariableOp": true, "RestoreV2": true}

// outputArgs names the output arguments of the operations a decoding function may hold, as
// function bodies refer to outputs by "node:arg:index".
var outputArgs = map[string]string{
	"Const": "output", "Identity": "output", "DecodeImage": "image", "DecodeJpeg": "image",
	"DecodePng": "image", "DecodeBmp": "image", "DecodeGif": "image", "Cast": "y", "Shape": "output",
	"GatherV2": "output", "Slice": "output", "Pack": "output", "BatchMatMulV2": "output",
	"AddV2": "z", "Mul": "z", "FloorDiv": "z", "If": "output", "Equal": "z", "Substr": "output", "Sub": "z", "RealDiv": "z", "Floor": "y", "Minimum": "z",
	"Maximum": "z", "ConcatV2": "output", "ExpandDims": "output", "Reshape": "output",
	"ScaleAndTranslate": "resized_images", "StridedSlice": "output",
}

// function turns a graph into a FunctionDef named name: its placeholders args (in order) become
// the function's arguments, and the tensors rets the results named retNames. Every other
// operation must have a single output argument listed in outputArgs.
func function(nodes []*node, name string, args []string, rets []string, retNames []string) ([]byte, error) {
	isArg := map[string]bool{}
	for _, a := range args {
		isArg[a] = true
	}
	ops := map[string]string{}
	for _, n := range nodes {
		ops[n.Name] = n.Op
	}
	ref := func(in string) (string, error) {
		if strings.HasPrefix(in, "^") {
			return in, nil
		}
		op, idx := in, "0"
		if i := strings.LastIndexByte(in, ':'); i >= 0 {
			op, idx = in[:i], in[i+1:]
		}
		if isArg[op] {
			return op, nil
		}
		arg, ok := outputArgs[ops[op]]
		if !ok {
			return "", fmt.Errorf("function %s: operation %s (%s) has no known output argument", name, op, ops[op])
		}
		return op + ":" + arg + ":" + idx, nil
	}
	var sig []byte
	sig = protowire.AppendTag(sig, opDefName, protowire.BytesType)
	sig = protowire.AppendString(sig, name)
	var body []byte
	argTypes := map[string][]byte{}
	for _, n := range nodes {
		if isArg[n.Name] {
			argTypes[n.Name] = n.Attrs["dtype"]
			continue
		}
		c := &node{tf.NodeDef{Name: n.Name, Op: n.Op, Attrs: n.Attrs}}
		for _, in := range n.Inputs {
			r, err := ref(in)
			if err != nil {
				return nil, err
			}
			c.Inputs = append(c.Inputs, r)
		}
		body = protowire.AppendTag(body, funcNode, protowire.BytesType)
		body = protowire.AppendBytes(body, c.bytes())
	}
	argDef := func(name string, typ uint64) []byte {
		var a []byte
		a = protowire.AppendTag(a, argName, protowire.BytesType)
		a = protowire.AppendString(a, name)
		a = protowire.AppendTag(a, argType, protowire.VarintType)
		return protowire.AppendVarint(a, typ)
	}
	for _, a := range args {
		t, ok := argTypes[a]
		if !ok {
			return nil, fmt.Errorf("function %s: no placeholder %s", name, a)
		}
		typ, err := attrTypeValue(t)
		if err != nil {
			return nil, fmt.Errorf("function %s: argument %s: %w", name, a, err)
		}
		sig = protowire.AppendTag(sig, opDefInput, protowire.BytesType)
		sig = protowire.AppendBytes(sig, argDef(a, typ))
	}
	var retMap []byte
	for i, r := range rets {
		src, err := ref(r)
		if err != nil {
			return nil, err
		}
		n := ops[tf.OpName(r)]
		typ, err := attrTypeValue(nodeOutType(nodes, tf.OpName(r), n))
		if err != nil {
			return nil, fmt.Errorf("function %s: result %s: %w", name, r, err)
		}
		sig = protowire.AppendTag(sig, opDefOutput, protowire.BytesType)
		sig = protowire.AppendBytes(sig, argDef(retNames[i], typ))
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, retNames[i])
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, src)
		retMap = protowire.AppendTag(retMap, funcRet, protowire.BytesType)
		retMap = protowire.AppendBytes(retMap, e)
	}
	var f []byte
	f = protowire.AppendTag(f, funcSig, protowire.BytesType)
	f = protowire.AppendBytes(f, sig)
	f = append(f, body...)
	return append(f, retMap...), nil
}

// nodeOutType returns the serialised type attribute of a result node: Cast's DstT, else T.
func nodeOutType(nodes []*node, name, op string) []byte {
	for _, n := range nodes {
		if n.Name != name {
			continue
		}
		if op == "Cast" {
			return n.Attrs["DstT"]
		}
		return n.Attrs["T"]
	}
	return nil
}

// attrTypeValue reads the DataType of a serialised type AttrValue.
func attrTypeValue(b []byte) (uint64, error) {
	fs, err := fields(b)
	if err != nil {
		return 0, err
	}
	for _, f := range fs {
		if f.num == attrType {
			v, n := protowire.ConsumeVarint(f.raw)
			if n < 0 {
				return 0, protowire.ParseError(n)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("attribute holds no type")
}

// libraryBytes serialises functions as a GraphDef's library field.
func libraryBytes(functions ...[]byte) []byte {
	var lib []byte
	for _, f := range functions {
		lib = protowire.AppendTag(lib, libFunction, protowire.BytesType)
		lib = protowire.AppendBytes(lib, f)
	}
	var b []byte
	b = protowire.AppendTag(b, graphLibrary, protowire.BytesType)
	return protowire.AppendBytes(b, lib)
}

// Serialised AttrValues.

func attrTypeBytes(t uint64) []byte {
	b := protowire.AppendTag(nil, attrType, protowire.VarintType)
	return protowire.AppendVarint(b, t)
}

func shapeBytes(dims []int64) []byte {
	var s []byte
	for _, d := range dims {
		var dim []byte
		dim = protowire.AppendTag(dim, dimSize, protowire.VarintType)
		dim = protowire.AppendVarint(dim, uint64(d))
		s = protowire.AppendTag(s, shapeDim, protowire.BytesType)
		s = protowire.AppendBytes(s, dim)
	}
	return s
}

func attrTypeListBytes(ts ...uint64) []byte {
	var packed []byte
	for _, t := range ts {
		packed = protowire.AppendVarint(packed, t)
	}
	var list []byte
	list = protowire.AppendTag(list, listType, protowire.BytesType)
	list = protowire.AppendBytes(list, packed)
	b := protowire.AppendTag(nil, attrList, protowire.BytesType)
	return protowire.AppendBytes(b, list)
}

func attrShapeListBytes(shapes ...[]int64) []byte {
	var list []byte
	for _, s := range shapes {
		list = protowire.AppendTag(list, listShape, protowire.BytesType)
		list = protowire.AppendBytes(list, shapeBytes(s))
	}
	b := protowire.AppendTag(nil, attrList, protowire.BytesType)
	return protowire.AppendBytes(b, list)
}

func attrFuncBytes(name string) []byte {
	var f []byte
	f = protowire.AppendTag(f, nameAttrName, protowire.BytesType)
	f = protowire.AppendString(f, name)
	b := protowire.AppendTag(nil, attrFunc, protowire.BytesType)
	return protowire.AppendBytes(b, f)
}

func attrIntBytes(v int64) []byte {
	b := protowire.AppendTag(nil, attrI, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}
