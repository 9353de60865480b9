package files

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteAtomicAndSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "f.txt")
	require.NoError(t, WriteAtomic(p, []byte("abc")))
	require.NoError(t, WriteAtomic(p, []byte("abc")))
	sum, err := SHA256(p)
	require.NoError(t, err)
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sum)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*"))
	require.Empty(t, left, "no temporary file is left")
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	_, err = SHA256(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v.json")
	require.NoError(t, WriteJSON(p, map[string]int{"a": 1}))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1\n}\n", string(b))
	require.Error(t, WriteJSON(p, func() {}), "a value JSON cannot hold is an error")
}
