package tf

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

var quietOnce sync.Once

// QuietNativeLogs has TensorFlow print its once-per-process informational lines now, with file
// descriptor 2 sent to /dev/null, so that they never reach the terminal later: the graph
// optimiser logs through its own copy of abseil, which TF_CPP_MIN_LOG_LEVEL does not reach, on
// the first session run and the first SavedModel load. It runs a tiny graph and loads a tiny
// SavedModel. Call it from main before any goroutine starts (fd 2 is redirected for that moment,
// which would hide another goroutine's output); it does nothing when TF_CPP_MIN_LOG_LEVEL asks
// for TensorFlow's logs (0), and nothing when the library is missing: its first real use says
// so. Nothing else in this package touches fd 2.
func QuietNativeLogs() {
	quietOnce.Do(func() {
		if Load() != nil || os.Getenv("TF_CPP_MIN_LOG_LEVEL") < "1" {
			return
		}
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer null.Close()
		saved, err := unix.Dup(2)
		if err != nil {
			return
		}
		defer unix.Close(saved)
		if unix.Dup2(int(null.Fd()), 2) != nil {
			return
		}
		defer unix.Dup2(saved, 2)
		warmUp()
	})
}

// warmUp writes, loads and runs a one-op SavedModel, ignoring errors: its only purpose is the
// logging it triggers.
func warmUp() {
	dir, err := os.MkdirTemp("", "lessdata-tf-warmup-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	g, err := NewGraph()
	if err != nil {
		return
	}
	defer g.Close()
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{-1})
	y := s.Identity("y", x)
	if s.Err() != nil {
		return
	}
	sig := Signature{Key: DefaultSignature, Inputs: map[string]TensorInfo{"x": {Name: x.Name(), DType: Float, Shape: []int64{-1}}},
		Outputs: map[string]TensorInfo{"y": {Name: y.Name(), DType: Float, Shape: []int64{-1}}}}
	if WriteSavedModel(dir+"/m", g, nil, []Signature{sig}) != nil {
		return
	}
	m, err := LoadSavedModel(dir+"/m", nil, SessionOptions{})
	if err != nil {
		return
	}
	defer m.Close()
	in, err := NewTensor([]int64{1}, []float32{1})
	if err != nil {
		return
	}
	defer in.Close()
	xo, err1 := m.Output("x:0")
	yo, err2 := m.Output("y:0")
	if err1 != nil || err2 != nil {
		return
	}
	if out, err := m.Session.Run(map[Output]*Tensor{xo: in}, []Output{yo}, nil); err == nil {
		out[0].Close()
	}
}
