// Package tf is lessdata's binding over the TensorFlow C API: tensors, graphs and op building,
// gradients, sessions, and SavedModels (loading by tag, signatures, writing graph-only models).
//
// The C library is loaded at run time (see Load): a program that imports tf starts without
// TensorFlow and gets an error that says how to install it when it first needs it. Headers come
// from .deps/tensorflow/include (scripts/setup-tf.sh) or from CGO_CFLAGS.
//
// Objects that own C memory (Tensor, Graph, Session, SavedModel) have a Close method; finalizers
// free what a caller forgets to close.
package tf

/*
#cgo CFLAGS: -I${SRCDIR}/../.deps/tensorflow/include -O2
#cgo LDFLAGS: -ldl -Wl,-rpath,${SRCDIR}/../.deps/tensorflow/lib
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// LibraryEnv names the environment variable that may give the TensorFlow C library's path, as a
// file or as the folder that holds it.
const LibraryEnv = "LESSDATA_TF_LIB"

// libraryNames are the file names the dynamic loader is asked for, in order: the tensorflow-cpu
// wheel's library, then the one of TensorFlow's C tarball.
var libraryNames = []string{"libtensorflow_cc.so.2", "libtensorflow.so.2"}

// ErrNoLibrary is wrapped by the error Load returns when no TensorFlow C library can be loaded.
var ErrNoLibrary = errors.New("TensorFlow C library not found")

var (
	loadOnce sync.Once
	loadErr  error
)

// Load loads the TensorFlow C library once; later calls return the first result. It tries the
// path in $LESSDATA_TF_LIB, then the loader's search path (LD_LIBRARY_PATH, then the
// .deps/tensorflow/lib folder recorded at build time). Every function of this package calls it.
func Load() error {
	loadOnce.Do(func() {
		if os.Getenv("TF_CPP_MIN_LOG_LEVEL") == "" {
			// TensorFlow's informational logging would drown lessdata's own output.
			os.Setenv("TF_CPP_MIN_LOG_LEVEL", "2")
		}
		loadErr = load()
	})
	return loadErr
}

func load() error {
	var candidates []string
	if p := os.Getenv(LibraryEnv); p != "" {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			for _, n := range libraryNames {
				candidates = append(candidates, filepath.Join(p, n))
			}
		} else {
			candidates = append(candidates, p)
		}
	} else {
		candidates = libraryNames
	}
	var reasons []string
	for _, c := range candidates {
		cs := C.CString(c)
		msg := C.ltf_open(cs)
		C.free(unsafe.Pointer(cs))
		if msg == nil {
			return nil
		}
		reasons = append(reasons, C.GoString(msg))
		C.free(unsafe.Pointer(msg))
	}
	return fmt.Errorf("%w (%s).\nInstall it with `make setup` in the lessdata source folder "+
		"(it puts the pinned tensorflow-cpu wheel in .deps/), or set %s to your libtensorflow.so.2",
		ErrNoLibrary, strings.Join(reasons, "; "), LibraryEnv)
}

// Version returns the version of the loaded TensorFlow library.
func Version() (string, error) {
	if err := Load(); err != nil {
		return "", err
	}
	return C.GoString(C.ltf_Version()), nil
}

// status wraps a TF_Status for one call.
type status struct{ c *C.TF_Status }

func newStatus() status { return status{C.ltf_NewStatus()} }

func (s status) free() { C.ltf_DeleteStatus(s.c) }

// err converts the status into a Go error, nil when it is OK.
func (s status) err() error {
	code := C.ltf_GetCode(s.c)
	if code == C.TF_OK {
		return nil
	}
	return &Error{Code: Code(code), Message: C.GoString(C.ltf_Message(s.c))}
}

// Code is a TensorFlow status code (TF_Code).
type Code int

// Status codes that callers may want to tell apart.
const (
	CodeInvalidArgument Code = C.TF_INVALID_ARGUMENT
	CodeNotFound        Code = C.TF_NOT_FOUND
	CodeCancelled       Code = C.TF_CANCELLED
)

// Error is a failed TensorFlow status.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("tensorflow: %s (code %d)", e.Message, e.Code) }
