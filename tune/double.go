package tune

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorFlow's DataType enum values for float32 and float64.
const (
	dtFloat  = 1
	dtDouble = 2
)

// castToDouble rewrites a GraphDef so that it computes in float64: every type attribute that
// says float32 says float64, and every float32 constant becomes a float64 constant holding the
// same values. List-of-type attributes are left alone (the backbones' operations have none).
func castToDouble(def []byte) ([]byte, error) {
	out, err := mapFields(def, func(num protowire.Number, v []byte) ([]byte, error) {
		if num != 1 { // node
			return nil, nil
		}
		return mapFields(v, func(num protowire.Number, v []byte) ([]byte, error) {
			if num != 5 { // attr map entry
				return nil, nil
			}
			return mapFields(v, func(num protowire.Number, v []byte) ([]byte, error) {
				if num != 2 { // the AttrValue
					return nil, nil
				}
				return castAttr(v)
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cast the graph to float64: %w", err)
	}
	return out, nil
}

// castAttr rewrites an AttrValue: a float32 type (field 6) or a float32 tensor (field 8).
func castAttr(attr []byte) ([]byte, error) {
	var out []byte
	err := rawFields(attr, func(num protowire.Number, typ protowire.Type, field, value []byte) error {
		switch {
		case num == 6 && typ == protowire.VarintType:
			t, _ := protowire.ConsumeVarint(value)
			if t == dtFloat {
				t = dtDouble
			}
			out = protowire.AppendTag(out, 6, protowire.VarintType)
			out = protowire.AppendVarint(out, t)
		case num == 8 && typ == protowire.BytesType:
			v, _ := protowire.ConsumeBytes(value)
			t, err := castTensor(v)
			if err != nil {
				return err
			}
			out = protowire.AppendTag(out, 8, protowire.BytesType)
			out = protowire.AppendBytes(out, t)
		default:
			out = append(out, field...)
		}
		return nil
	})
	return out, err
}

// errNotFloat stops castTensor's reading at a tensor that is not float32.
var errNotFloat = errors.New("not float32")

// castTensor rewrites a TensorProto holding float32 values (tensor_content or float_val) as one
// holding the same values as float64 (tensor_content); other tensors are returned as they are.
func castTensor(t []byte) ([]byte, error) {
	var vals []float64
	isFloat := false
	var rest []byte
	err := rawFields(t, func(num protowire.Number, typ protowire.Type, field, value []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			d, _ := protowire.ConsumeVarint(value)
			if isFloat = d == dtFloat; !isFloat {
				return errNotFloat
			}
		case num == 4 && typ == protowire.BytesType: // tensor_content, little-endian
			v, _ := protowire.ConsumeBytes(value)
			for i := 0; i+4 <= len(v); i += 4 {
				vals = append(vals, float64(math.Float32frombits(binary.LittleEndian.Uint32(v[i:]))))
			}
		case num == 5 && typ == protowire.BytesType: // float_val, packed
			v, _ := protowire.ConsumeBytes(value)
			for len(v) > 0 {
				x, k := protowire.ConsumeFixed32(v)
				if k < 0 {
					return protowire.ParseError(k)
				}
				vals = append(vals, float64(math.Float32frombits(x)))
				v = v[k:]
			}
		case num == 5 && typ == protowire.Fixed32Type: // float_val, one value
			x, _ := protowire.ConsumeFixed32(value)
			vals = append(vals, float64(math.Float32frombits(x)))
		default:
			rest = append(rest, field...)
		}
		return nil
	})
	if errors.Is(err, errNotFloat) || err == nil && !isFloat {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	out := protowire.AppendTag(nil, 1, protowire.VarintType)
	out = protowire.AppendVarint(out, dtDouble)
	out = append(out, rest...)
	content := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(content[8*i:], math.Float64bits(v))
	}
	out = protowire.AppendTag(out, 4, protowire.BytesType)
	return protowire.AppendBytes(out, content), nil
}

// mapFields copies a serialised message, replacing the payload of each length-delimited field
// for which fn returns non-nil bytes.
func mapFields(msg []byte, fn func(protowire.Number, []byte) ([]byte, error)) ([]byte, error) {
	out := make([]byte, 0, len(msg))
	err := rawFields(msg, func(num protowire.Number, typ protowire.Type, field, value []byte) error {
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(value)
			nv, err := fn(num, v)
			if err != nil {
				return err
			}
			if nv != nil {
				out = protowire.AppendTag(out, num, protowire.BytesType)
				out = protowire.AppendBytes(out, nv)
				return nil
			}
		}
		out = append(out, field...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rawFields calls fn with every field of a serialised message: its number, its wire type, the
// whole field and its value (the field after its tag).
func rawFields(msg []byte, fn func(num protowire.Number, typ protowire.Type, field, value []byte) error) error {
	for b := msg; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if err := fn(num, typ, b[:n+m], b[n:n+m]); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}
