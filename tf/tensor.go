package tf

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// DataType is a TensorFlow element type (TF_DataType).
type DataType int

// The element types lessdata uses.
const (
	Float  DataType = C.TF_FLOAT
	Double DataType = C.TF_DOUBLE
	Int32  DataType = C.TF_INT32
	Uint8  DataType = C.TF_UINT8
	String DataType = C.TF_STRING
	Int64  DataType = C.TF_INT64
	Bool   DataType = C.TF_BOOL
)

var typeNames = map[DataType]string{Float: "float32", Double: "float64", Int32: "int32",
	Uint8: "uint8", String: "string", Int64: "int64", Bool: "bool"}

func (t DataType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("DataType(%d)", int(t))
}

// Numeric lists the Go element types a Tensor can be built from and read into.
type Numeric interface {
	~float32 | ~float64 | ~int32 | ~int64 | ~uint8
}

func typeOf[T Numeric]() DataType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float
	case float64:
		return Double
	case int32:
		return Int32
	case int64:
		return Int64
	default:
		return Uint8
	}
}

// Tensor is a TensorFlow tensor in C memory.
type Tensor struct {
	c     *C.TF_Tensor
	shape []int64
}

func numElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor shape %v has a negative dimension", shape)
		}
		n *= d
	}
	return n, nil
}

func allocTensor(dt DataType, shape []int64, bytes uintptr) *Tensor {
	var dims *C.int64_t
	if len(shape) > 0 {
		dims = (*C.int64_t)(unsafe.Pointer(&shape[0]))
	}
	c := C.ltf_AllocateTensor(C.TF_DataType(dt), dims, C.int(len(shape)), C.size_t(bytes))
	return wrapTensor(c)
}

func wrapTensor(c *C.TF_Tensor) *Tensor {
	t := &Tensor{c: c}
	n := int(C.ltf_NumDims(c))
	t.shape = make([]int64, n)
	for i := range t.shape {
		t.shape[i] = int64(C.ltf_Dim(c, C.int(i)))
	}
	runtime.SetFinalizer(t, (*Tensor).Close)
	return t
}

// NewTensor copies data into a new tensor of the given shape; len(data) must match the shape.
func NewTensor[T Numeric](shape []int64, data []T) (*Tensor, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	var z T
	size := uintptr(n) * unsafe.Sizeof(z)
	t := allocTensor(typeOf[T](), shape, size)
	if n > 0 {
		copy(unsafe.Slice((*T)(C.ltf_TensorData(t.c)), n), data)
	}
	return t, nil
}

// Scalar returns a 0-d tensor holding v.
func Scalar[T Numeric](v T) (*Tensor, error) { return NewTensor([]int64{}, []T{v}) }

// NewStringTensor returns a string tensor of the given shape.
func NewStringTensor(shape []int64, data []string) (*Tensor, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("string tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	t := allocTensor(String, shape, uintptr(n)*C.sizeof_TF_TString)
	if n == 0 {
		return t, nil
	}
	elems := unsafe.Slice((*C.TF_TString)(C.ltf_TensorData(t.c)), n)
	for i, s := range data {
		C.ltf_StringInit(&elems[i])
		if len(s) > 0 {
			cs := C.CBytes([]byte(s))
			C.ltf_StringCopy(&elems[i], (*C.char)(cs), C.size_t(len(s)))
			C.free(cs)
		}
	}
	return t, nil
}

// Close frees the tensor's C memory. It is safe to call more than once.
func (t *Tensor) Close() {
	if t == nil || t.c == nil {
		return
	}
	C.ltf_DeleteTensor(t.c)
	t.c = nil
	runtime.SetFinalizer(t, nil)
}

// DataType returns the element type.
func (t *Tensor) DataType() DataType { return DataType(C.ltf_TensorType(t.c)) }

// Shape returns the tensor's dimensions.
func (t *Tensor) Shape() []int64 { return append([]int64(nil), t.shape...) }

// NumElements returns the product of the dimensions.
func (t *Tensor) NumElements() int {
	n, _ := numElements(t.shape)
	return int(n)
}

// Values copies the tensor's elements out in row-major order. T must match the tensor's type.
func Values[T Numeric](t *Tensor) ([]T, error) {
	if t == nil || t.c == nil {
		return nil, fmt.Errorf("tensor is closed")
	}
	if want := typeOf[T](); t.DataType() != want {
		return nil, fmt.Errorf("tensor holds %v, not %v", t.DataType(), want)
	}
	n := t.NumElements()
	out := make([]T, n)
	if n > 0 {
		copy(out, unsafe.Slice((*T)(C.ltf_TensorData(t.c)), n))
	}
	runtime.KeepAlive(t)
	return out, nil
}

// Strings copies a string tensor's elements out.
func (t *Tensor) Strings() ([]string, error) {
	if t == nil || t.c == nil {
		return nil, fmt.Errorf("tensor is closed")
	}
	if t.DataType() != String {
		return nil, fmt.Errorf("tensor holds %v, not string", t.DataType())
	}
	n := t.NumElements()
	out := make([]string, n)
	if n > 0 {
		elems := unsafe.Slice((*C.TF_TString)(C.ltf_TensorData(t.c)), n)
		for i := range elems {
			p := C.ltf_StringGetDataPointer(&elems[i])
			out[i] = C.GoStringN(p, C.int(C.ltf_StringGetSize(&elems[i])))
		}
	}
	runtime.KeepAlive(t)
	return out, nil
}
