package tf

import (
	"fmt"
	"strings"
)

// Scope builds operations into a graph with unique names under a common prefix and keeps the
// first error, so a graph is written as a sequence of calls and checked once with Err.
type Scope struct {
	g      *Graph
	prefix string
	state  *scopeState
}

type scopeState struct {
	names map[string]int
	err   error
}

// NewScope returns the root scope of g.
func NewScope(g *Graph) *Scope {
	return &Scope{g: g, state: &scopeState{names: map[string]int{}}}
}

// Graph returns the graph the scope builds into.
func (s *Scope) Graph() *Graph { return s.g }

// Sub returns a child scope whose operation names start with name + "/".
func (s *Scope) Sub(name string) *Scope {
	return &Scope{g: s.g, prefix: s.uniqueName(name), state: s.state}
}

// Err returns the first error met while building, nil if none.
func (s *Scope) Err() error { return s.state.err }

// uniqueName returns prefix/name, with a _N suffix when the name was taken.
func (s *Scope) uniqueName(name string) string {
	full := name
	if s.prefix != "" {
		full = s.prefix + "/" + name
	}
	n := s.state.names[full]
	s.state.names[full] = n + 1
	if n > 0 {
		full = fmt.Sprintf("%s_%d", full, n)
	}
	return full
}

// Op adds an operation of type typ named after its type, and returns it, or nil after an error.
func (s *Scope) Op(typ string, inputs []any, attrs map[string]any) *Operation {
	return s.NamedOp(typ, typ, inputs, attrs)
}

// NamedOp is Op with an explicit name (made unique within the scope).
func (s *Scope) NamedOp(name, typ string, inputs []any, attrs map[string]any) *Operation {
	if s.state.err != nil {
		return nil
	}
	for _, in := range inputs {
		if o, ok := in.(Output); ok && o.Op == nil {
			s.state.err = fmt.Errorf("op %s: input from a failed operation", typ)
			return nil
		}
	}
	op, err := s.g.AddOperation(OpSpec{Type: typ, Name: s.uniqueName(name), Input: inputs, Attrs: attrs})
	if err != nil {
		s.state.err = err
		return nil
	}
	return op
}

// Out adds an operation like Op and returns its first output (zero Output after an error).
func (s *Scope) Out(typ string, attrs map[string]any, inputs ...any) Output {
	op := s.Op(typ, inputs, attrs)
	if op == nil {
		return Output{}
	}
	return op.Output(0)
}

// Const adds a constant holding t.
func (s *Scope) Const(name string, t *Tensor) Output {
	if t == nil {
		s.fail(fmt.Errorf("const %s: nil tensor", name))
		return Output{}
	}
	op := s.NamedOp(name, "Const", nil, map[string]any{"dtype": t.DataType(), "value": t})
	if op == nil {
		return Output{}
	}
	return op.Output(0)
}

// ConstFloat adds a float32 constant of the given shape.
func (s *Scope) ConstFloat(name string, shape []int64, v []float32) Output {
	t, err := NewTensor(shape, v)
	if err != nil {
		s.fail(fmt.Errorf("const %s: %w", name, err))
		return Output{}
	}
	defer t.Close()
	return s.Const(name, t)
}

// ConstInt32 adds an int32 constant of the given shape.
func (s *Scope) ConstInt32(name string, shape []int64, v []int32) Output {
	t, err := NewTensor(shape, v)
	if err != nil {
		s.fail(fmt.Errorf("const %s: %w", name, err))
		return Output{}
	}
	defer t.Close()
	return s.Const(name, t)
}

// Placeholder adds a graph input of the given type and shape (-1 for unknown dimensions).
func (s *Scope) Placeholder(name string, dt DataType, shape Shape) Output {
	op := s.NamedOp(name, "Placeholder", nil, map[string]any{"dtype": dt, "shape": shape})
	if op == nil {
		return Output{}
	}
	return op.Output(0)
}

// Identity adds a named Identity of x: a stable name for a tensor.
func (s *Scope) Identity(name string, x Output) Output {
	op := s.NamedOp(name, "Identity", []any{x}, nil)
	if op == nil {
		return Output{}
	}
	return op.Output(0)
}

func (s *Scope) fail(err error) {
	if s.state.err == nil {
		s.state.err = err
	}
}

// Fail records err as the scope's error unless one is already recorded; builders use it to report
// their own argument errors through Err.
func (s *Scope) Fail(err error) { s.fail(err) }

// Path returns the scope's name prefix.
func (s *Scope) Path() string { return strings.TrimSuffix(s.prefix, "/") }
