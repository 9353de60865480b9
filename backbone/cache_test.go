package backbone

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A cached feature file overwritten with zeros of the same size (or truncated, or of an older
// format) is refused and counted, never served: the caller recomputes it.
func TestFeatureCacheRefusesDamagedFiles(t *testing.T) {
	root := t.TempDir()
	put := newFeatureCache(root, "0123456789abcdef0123")
	key := PlainKey("deadbeef", 16, 16)
	v := []float32{1.5, -2, 3.25, 0}
	put.Put(key, v)
	got, ok := newFeatureCache(root, "0123456789abcdef0123").Get(key, len(v))
	require.True(t, ok)
	require.Equal(t, v, got)

	path := put.path(key)
	for name, damage := range map[string]func([]byte) []byte{
		"zeros":     func(b []byte) []byte { return make([]byte, len(b)) },
		"one bit":   func(b []byte) []byte { b[6] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-3] },
		"old raw":   func(b []byte) []byte { return b[4 : len(b)-4] },
	} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, damage(append([]byte(nil), b...)), 0o644))
		c := newFeatureCache(root, "0123456789abcdef0123")
		_, ok := c.Get(key, len(v))
		require.False(t, ok, name)
		require.Equal(t, 1, c.Repaired(), name)
		c.Put(key, v) // the recomputed vector replaces it
		_, ok = newFeatureCache(root, "0123456789abcdef0123").Get(key, len(v))
		require.True(t, ok, name)
	}
}

// A read-only cache folder turns the disk cache off with a reason, and features still flow.
func TestFeatureCacheReadOnlyGoesOnInMemory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only folders")
	}
	root := t.TempDir()
	require.NoError(t, os.Chmod(root, 0o555))
	t.Cleanup(func() { os.Chmod(root, 0o755) })
	c := newFeatureCache(root, "0123456789abcdef")
	c.Put("aa11", []float32{1})
	require.Error(t, c.Unwritable())
	got, ok := c.Get("aa11", 1)
	require.True(t, ok)
	require.Equal(t, []float32{1}, got)
	_, err := os.Stat(filepath.Join(root, "features"))
	require.True(t, os.IsNotExist(err))
}

// A cache folder that is a file (so nothing can be written under it) behaves the same, as root
// too.
func TestFeatureCacheUnwritableFolder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(root, []byte("x"), 0o644))
	c := newFeatureCache(root, "0123456789abcdef")
	c.Put("aa11", []float32{1, 2})
	require.ErrorContains(t, c.Unwritable(), "feature cache")
	got, ok := c.Get("aa11", 2)
	require.True(t, ok)
	require.Equal(t, []float32{1, 2}, got)
}

// A file given as a backbone is called a file, not a missing folder.
func TestResolveNamesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	_, err := Resolve(context.Background(), f, FetchOptions{CacheDir: t.TempDir()})
	require.ErrorContains(t, err, "is a file, not a backbone folder")
}
