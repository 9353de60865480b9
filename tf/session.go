package tf

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// SessionOptions configures a session.
type SessionOptions struct {
	// IntraOpThreads and InterOpThreads size TensorFlow's thread pools; 0 lets TensorFlow choose
	// (one thread per core).
	IntraOpThreads, InterOpThreads int
}

// config encodes the options as a ConfigProto.
func (o SessionOptions) config() []byte {
	var b []byte
	if o.IntraOpThreads > 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType) // intra_op_parallelism_threads
		b = protowire.AppendVarint(b, uint64(o.IntraOpThreads))
	}
	if o.InterOpThreads > 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType) // inter_op_parallelism_threads
		b = protowire.AppendVarint(b, uint64(o.InterOpThreads))
	}
	return b
}

func (o SessionOptions) c() (*C.TF_SessionOptions, error) {
	opts := C.ltf_NewSessionOptions()
	if cfg := o.config(); len(cfg) > 0 {
		s := newStatus()
		defer s.free()
		p := C.CBytes(cfg)
		defer C.free(p)
		C.ltf_SetConfig(opts, p, C.size_t(len(cfg)), s.c)
		if err := s.err(); err != nil {
			C.ltf_DeleteSessionOptions(opts)
			return nil, fmt.Errorf("session options: %w", err)
		}
	}
	return opts, nil
}

// Session runs a graph. Run may be called from several goroutines at once.
type Session struct {
	mu    sync.RWMutex // Close waits for running calls
	c     *C.TF_Session
	graph *Graph
}

// NewSession starts a session on the graph.
func NewSession(g *Graph, o SessionOptions) (*Session, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	opts, err := o.c()
	if err != nil {
		return nil, err
	}
	defer C.ltf_DeleteSessionOptions(opts)
	s := newStatus()
	defer s.free()
	c := C.ltf_NewSession(g.c, opts, s.c)
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return wrapSession(c, g), nil
}

func wrapSession(c *C.TF_Session, g *Graph) *Session {
	sess := &Session{c: c, graph: g}
	runtime.SetFinalizer(sess, (*Session).Close)
	return sess
}

// Graph returns the graph the session runs.
func (s *Session) Graph() *Graph { return s.graph }

// Run feeds the given tensors, computes fetches and runs targets. The caller owns the returned
// tensors.
func (s *Session) Run(feeds map[Output]*Tensor, fetches []Output, targets []*Operation) ([]*Tensor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return nil, fmt.Errorf("run: session is closed")
	}
	inputs := make([]C.TF_Output, 0, len(feeds)+1)
	values := make([]*C.TF_Tensor, 0, len(feeds)+1)
	for o, t := range feeds {
		if t == nil || t.c == nil {
			return nil, fmt.Errorf("run: feed for %s is nil or closed", o.Name())
		}
		inputs = append(inputs, o.c())
		values = append(values, t.c)
	}
	outputs := make([]C.TF_Output, len(fetches)+1)
	for i, o := range fetches {
		outputs[i] = o.c()
	}
	outVals := make([]*C.TF_Tensor, len(fetches)+1)
	var tgt **C.TF_Operation
	if len(targets) > 0 {
		tp := C.malloc(C.size_t(len(targets)) * C.size_t(unsafe.Sizeof(uintptr(0))))
		defer C.free(tp)
		tl := unsafe.Slice((**C.TF_Operation)(tp), len(targets))
		for i, op := range targets {
			tl[i] = op.c
		}
		tgt = (**C.TF_Operation)(tp)
	}
	var inP *C.TF_Output
	var valP **C.TF_Tensor
	if len(inputs) > 0 {
		inP, valP = &inputs[0], &values[0]
	}
	st := newStatus()
	defer st.free()
	C.ltf_SessionRun(s.c, inP, valP, C.int(len(inputs)), &outputs[0], &outVals[0], C.int(len(fetches)),
		tgt, C.int(len(targets)), st.c)
	runtime.KeepAlive(feeds)
	if err := st.err(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	out := make([]*Tensor, len(fetches))
	for i := range fetches {
		out[i] = wrapTensor(outVals[i])
	}
	return out, nil
}

// Close closes the session and frees it; it does not close the graph.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	st := newStatus()
	defer st.free()
	C.ltf_CloseSession(s.c, st.c)
	err := st.err()
	C.ltf_DeleteSession(s.c, st.c)
	s.c = nil
	runtime.SetFinalizer(s, nil)
	if err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}
