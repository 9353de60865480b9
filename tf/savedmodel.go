package tf

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// ServeTag is the tag of the MetaGraph that serving tools load.
const ServeTag = "serve"

// DefaultSignature is the key of the signature that serving tools call.
const DefaultSignature = "serving_default"

// TensorInfo describes one input or output of a signature.
type TensorInfo struct {
	Name  string   // tensor name in the graph, "op:index"
	DType DataType // element type
	Shape []int64  // -1 for an unknown dimension; nil when the rank is unknown
}

// Signature is a named function of a SavedModel: inputs and outputs by key.
type Signature struct {
	Key     string
	Method  string
	Inputs  map[string]TensorInfo
	Outputs map[string]TensorInfo
}

// SavedModel is a loaded SavedModel: its graph, a session with the variables restored, and its
// signatures.
type SavedModel struct {
	Dir        string
	Graph      *Graph
	Session    *Session
	Signatures map[string]Signature
}

// LoadSavedModel loads the MetaGraph with the given tags (ServeTag when none) from dir.
func LoadSavedModel(dir string, tags []string, o SessionOptions) (*SavedModel, error) {
	if _, err := os.Stat(filepath.Join(dir, "saved_model.pb")); err != nil {
		if _, err2 := os.Stat(dir); err2 != nil {
			return nil, fmt.Errorf("open SavedModel: %w", err2)
		}
		return nil, fmt.Errorf("open SavedModel: %s has no saved_model.pb; is it a SavedModel folder?", dir)
	}
	if err := Load(); err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		tags = []string{ServeTag}
	}
	ctags := make([]*C.char, len(tags))
	for i, t := range tags {
		ctags[i] = C.CString(t)
		defer C.free(unsafe.Pointer(ctags[i]))
	}
	opts, err := o.c()
	if err != nil {
		return nil, err
	}
	defer C.ltf_DeleteSessionOptions(opts)
	g, err := NewGraph()
	if err != nil {
		return nil, err
	}
	meta := C.ltf_NewBuffer()
	defer C.ltf_DeleteBuffer(meta)
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	st := newStatus()
	defer st.free()
	csess := C.ltf_LoadSessionFromSavedModel(opts, cdir, &ctags[0], C.int(len(tags)), g.c, meta, st.c)
	if err := st.err(); err != nil {
		g.Close()
		return nil, fmt.Errorf("open SavedModel %s (tags %s): %w", dir, strings.Join(tags, ","), err)
	}
	sm := &SavedModel{Dir: dir, Graph: g, Session: wrapSession(csess, g)}
	sm.Signatures, err = parseSignatures(C.GoBytes(meta.data, C.int(meta.length)))
	if err != nil {
		sm.Close()
		return nil, fmt.Errorf("open SavedModel %s: %w", dir, err)
	}
	return sm, nil
}

// Close closes the session and frees the graph.
func (m *SavedModel) Close() error {
	err := m.Session.Close()
	m.Graph.Close()
	return err
}

// Signature returns the signature with the given key, or an error that lists the keys there are.
func (m *SavedModel) Signature(key string) (Signature, error) {
	if s, ok := m.Signatures[key]; ok {
		return s, nil
	}
	keys := make([]string, 0, len(m.Signatures))
	for k := range m.Signatures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return Signature{}, fmt.Errorf("SavedModel %s has no signature %q (it has: %s)", m.Dir, key, strings.Join(keys, ", "))
}

// Output resolves a tensor name, "op:index" or "op", to an Output of the model's graph.
func (m *SavedModel) Output(name string) (Output, error) { return m.Graph.Output(name) }

// Output resolves a tensor name, "op:index" or "op" (index 0), to an Output of the graph.
func (g *Graph) Output(name string) (Output, error) {
	opName, idx := name, 0
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return Output{}, fmt.Errorf("bad tensor name %q", name)
		}
		opName, idx = name[:i], n
	}
	op := g.Operation(opName)
	if op == nil {
		return Output{}, fmt.Errorf("graph has no operation %q", opName)
	}
	if idx < 0 || idx >= op.NumOutputs() {
		return Output{}, fmt.Errorf("operation %q has %d outputs, no output %d", opName, op.NumOutputs(), idx)
	}
	return op.Output(idx), nil
}

// parseSignatures reads the signature_def map of a serialised MetaGraphDef.
func parseSignatures(meta []byte) (map[string]Signature, error) {
	sigs := map[string]Signature{}
	err := eachField(meta, func(num protowire.Number, v []byte) error {
		if num != 5 { // signature_def
			return nil
		}
		key, val, err := mapEntry(v)
		if err != nil {
			return err
		}
		sig := Signature{Key: key, Inputs: map[string]TensorInfo{}, Outputs: map[string]TensorInfo{}}
		err = eachField(val, func(num protowire.Number, v []byte) error {
			switch num {
			case 1, 2:
				k, ti, err := mapEntry(v)
				if err != nil {
					return err
				}
				info, err := parseTensorInfo(ti)
				if err != nil {
					return err
				}
				if num == 1 {
					sig.Inputs[k] = info
				} else {
					sig.Outputs[k] = info
				}
			case 3:
				sig.Method = string(v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("signature %q: %w", key, err)
		}
		sigs[key] = sig
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read MetaGraphDef: %w", err)
	}
	return sigs, nil
}

func parseTensorInfo(b []byte) (TensorInfo, error) {
	var ti TensorInfo
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			ti.Name = string(v)
		case 2:
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return protowire.ParseError(n)
			}
			ti.DType = DataType(x)
		case 3:
			ti.Shape = []int64{}
			return eachField(v, func(num protowire.Number, v []byte) error {
				switch num {
				case 2:
					size := int64(-1)
					err := eachField(v, func(num protowire.Number, v []byte) error {
						if num == 1 {
							x, n := protowire.ConsumeVarint(v)
							if n < 0 {
								return protowire.ParseError(n)
							}
							size = int64(x)
						}
						return nil
					})
					ti.Shape = append(ti.Shape, size)
					return err
				case 3:
					ti.Shape = nil // unknown rank
				}
				return nil
			})
		}
		return nil
	})
	return ti, err
}

func mapEntry(b []byte) (key string, value []byte, err error) {
	err = eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			key = string(v)
		case 2:
			value = v
		}
		return nil
	})
	return key, value, err
}

// eachField calls fn with every field of a serialised message: the payload of length-delimited
// fields, and the varint's own bytes for varint fields. Other wire types are skipped.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var payload []byte
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			payload, n = v, m
		case protowire.VarintType:
			_, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			payload, n = b[:m], m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
		}
		if payload != nil {
			if err := fn(num, payload); err != nil {
				return err
			}
		}
		b = b[n:]
	}
	return nil
}

// WriteSavedModel writes g as a SavedModel with no variables (constants only) into dir, which
// must not exist yet; the folder appears whole or not at all.
func WriteSavedModel(dir string, g *Graph, tags []string, sigs []Signature) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("write SavedModel: %s already exists", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	def, err := g.GraphDef()
	if err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	for _, s := range sigs {
		for _, ti := range append(mapValues(s.Inputs), mapValues(s.Outputs)...) {
			if _, err := g.Output(ti.Name); err != nil {
				return fmt.Errorf("write SavedModel: signature %q: %w", s.Key, err)
			}
		}
	}
	if len(tags) == 0 {
		tags = []string{ServeTag}
	}
	var info []byte
	info = protowire.AppendTag(info, 1, protowire.BytesType)
	info = protowire.AppendString(info, "lessdata")
	for _, t := range tags {
		info = protowire.AppendTag(info, 4, protowire.BytesType)
		info = protowire.AppendString(info, t)
	}
	var meta []byte
	meta = protowire.AppendTag(meta, 1, protowire.BytesType)
	meta = protowire.AppendBytes(meta, info)
	meta = protowire.AppendTag(meta, 2, protowire.BytesType)
	meta = protowire.AppendBytes(meta, def)
	for _, s := range sigs {
		meta = protowire.AppendTag(meta, 5, protowire.BytesType)
		meta = protowire.AppendBytes(meta, mapEntryBytes(s.Key, signatureBytes(s)))
	}
	var sm []byte
	sm = protowire.AppendTag(sm, 1, protowire.VarintType)
	sm = protowire.AppendVarint(sm, 1)
	sm = protowire.AppendTag(sm, 2, protowire.BytesType)
	sm = protowire.AppendBytes(sm, meta)

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Mkdir(filepath.Join(tmp, "variables"), 0o755); err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "saved_model.pb"), sm, 0o644); err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("write SavedModel: %w", err)
	}
	return nil
}

func mapValues(m map[string]TensorInfo) []TensorInfo {
	out := make([]TensorInfo, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func mapEntryBytes(key string, value []byte) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, key)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, value)
}

func signatureBytes(s Signature) []byte {
	var b []byte
	for num, m := range []map[string]TensorInfo{s.Inputs, s.Outputs} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b = protowire.AppendTag(b, protowire.Number(num+1), protowire.BytesType)
			b = protowire.AppendBytes(b, mapEntryBytes(k, tensorInfoBytes(m[k])))
		}
	}
	method := s.Method
	if method == "" {
		method = "tensorflow/serving/predict"
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendString(b, method)
}

func tensorInfoBytes(ti TensorInfo) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, ti.Name)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(ti.DType))
	var shape []byte
	if ti.Shape == nil {
		shape = protowire.AppendTag(shape, 3, protowire.VarintType)
		shape = protowire.AppendVarint(shape, 1)
	}
	for _, d := range ti.Shape {
		var dim []byte
		dim = protowire.AppendTag(dim, 1, protowire.VarintType)
		dim = protowire.AppendVarint(dim, uint64(d))
		shape = protowire.AppendTag(shape, 2, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendBytes(b, shape)
}
