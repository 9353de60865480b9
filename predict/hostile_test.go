package predict

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/internal/nohang"
)

// Tests for the findings of issue 10 (a hostile-user pass) that live in this package.

// Item 3: a bundle whose model does not match bundle.json is refused by Open with a clear
// error, never a panic.
func TestMismatchedBundleRefused(t *testing.T) {
	for _, c := range []struct {
		name           string
		netClasses     int
		classes        []string
		size, manifest int
		want           string
	}{
		{"more classes than outputs", 2, []string{"a", "b", "c"}, 8, 8,
			"bundle.json lists 3 classes (a, b, c), so the model should give 3 value(s) per image, but it gives 1"},
		{"fewer classes than outputs", 4, []string{"a", "b"}, 8, 8,
			"bundle.json lists 2 classes (a, b), so the model should give 1 value(s) per image, but it gives 4"},
		{"other input size", 2, []string{"a", "b"}, 8, 12,
			"bundle.json says the model reads 12x12 RGB images (12x12x3 per image), but it reads 8x8x3"},
	} {
		dir, _ := scratchBundle(t, c.size, c.netClasses, c.classes, c.manifest)
		m, err := Open(context.Background(), dir, Options{})
		require.Nil(t, m, c.name)
		require.ErrorContains(t, err, "bundle "+dir+" does not match its model: "+c.want, c.name)
		require.ErrorContains(t, err, "train the model again or restore the folder", c.name)
	}

	dir, _ := scratchBundle(t, 8, 2, []string{"a", "b"}, 8)
	m, err := bundle.Read(dir)
	require.NoError(t, err)
	m.Positive = "c"
	require.Error(t, bundle.Write(dir, m), "a positive class the bundle does not have is refused")
}

// Item 2: a FIFO named like an image never blocks predict; it is reported on its own.
func TestFIFONeverBlocks(t *testing.T) {
	dir, _ := scratchBundle(t, 8, 2, []string{"a", "b"}, 8)
	m, err := Open(context.Background(), dir, Options{})
	require.NoError(t, err)
	defer m.Close()
	imgs := t.TempDir()
	fifo := filepath.Join(imgs, "x.jpg")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	good := writePNG(t, filepath.Join(imgs, "good.png"), 8, 8, 1)

	nohang.Within(t, 20*time.Second, func() {
		paths, problems := ExpandPaths([]string{fifo, good, imgs})
		require.Equal(t, []string{good, good}, paths)
		require.Len(t, problems, 2, "the FIFO as an argument and inside the folder")
		for _, p := range problems {
			require.Equal(t, fifo, p.Path)
			require.ErrorContains(t, p.Err, fifo+" is not a regular file (a named pipe)")
		}
		res, err := m.Files(context.Background(), []string{fifo, good}, nil)
		require.NoError(t, err)
		require.ErrorContains(t, res[0].Err, "not a regular file")
		require.NoError(t, res[1].Err)
	})
}

// Items 2 and 14: folders expand to their image files; a missing argument is reported on its own
// and does not stop the others.
func TestExpandPaths(t *testing.T) {
	root := t.TempDir()
	a := writePNG(t, filepath.Join(root, "a.png"), 4, 4, 1)
	noExt := writePNG(t, filepath.Join(root, "scan0001"), 4, 4, 2)
	sub := writePNG(t, filepath.Join(root, "sub", "c.PNG"), 4, 4, 3)
	broken := filepath.Join(root, "broken.jpg")
	require.NoError(t, os.WriteFile(broken, []byte("not a jpeg"), 0o644))
	for _, junk := range []string{"notes.txt", "Thumbs.db", "desktop.ini", ".hidden.png", filepath.Join(".git", "x.png")} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, junk)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, junk), []byte("junk"), 0o644))
	}
	require.NoError(t, os.Symlink(root, filepath.Join(root, "sub", "loop")))
	require.NoError(t, os.Symlink(a, filepath.Join(root, "sub", "link.png")))
	require.NoError(t, os.Symlink(filepath.Join(root, "gone.png"), filepath.Join(root, "sub", "dangling.png")))

	missing := filepath.Join(root, "missing.jpg")
	paths, problems := ExpandPaths([]string{missing, root, a})
	require.Equal(t, []string{a, broken, noExt, sub, filepath.Join(root, "sub", "link.png"), a}, paths)
	require.Len(t, problems, 2)
	require.Equal(t, missing, problems[0].Path)
	require.ErrorContains(t, problems[0].Err, missing+" does not exist; check the path")
	require.Equal(t, filepath.Join(root, "sub", "dangling.png"), problems[1].Path)
	require.ErrorContains(t, problems[1].Err, "broken link?")
}

// Item 11: Stream holds a bounded number of decoded images, however many files there are.
func TestStreamMemoryBounded(t *testing.T) {
	const size, n, chunk = 128, 400, 16
	dir, _ := scratchBundle(t, size, 2, []string{"a", "b"}, size)
	m, err := Open(context.Background(), dir, Options{})
	require.NoError(t, err)
	defer m.Close()
	imgs := t.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = writePNG(t, filepath.Join(imgs, fmt.Sprintf("%03d.png", i)), 32, 32, i)
	}
	var peak uint64 // live heap, sampled after each chunk
	var ms runtime.MemStats
	seen := 0
	require.NoError(t, m.Stream(context.Background(), paths, chunk, func(r Result) error {
		require.NoError(t, r.Err)
		if seen++; seen%chunk == 0 {
			runtime.GC() // count what is held, not garbage not yet collected
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	}))
	require.Equal(t, n, seen)
	t.Logf("live heap peak %.1f MB", float64(peak)/(1<<20))
	all := uint64(n * size * size * 3 * 4) // 78 MB: every image decoded at once
	require.Less(t, peak, all/3, "heap peak %d MB while all images take %d MB", peak>>20, all>>20)
}

// BenchmarkStream20000 predicts 20,000 small PNGs with a scratch bundle at 224x224; run it
// under /usr/bin/time -v to see peak memory (go test -c, then ./predict.test -test.run '^$'
// -test.bench Stream20000 -test.benchtime 1x).
func BenchmarkStream20000(b *testing.B) {
	const size, n = 224, 20000
	dir := b.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = writePNG(b, filepath.Join(dir, fmt.Sprintf("%05d.png", i)), 64, 64, i)
	}
	run, _ := scratchBundle(b, size, 2, []string{"a", "b"}, size)
	m, err := Open(context.Background(), run, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ResetTimer()
	for range b.N {
		done := 0
		if err := m.Stream(context.Background(), paths, 0, func(r Result) error {
			if r.Err != nil {
				return r.Err
			}
			done++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if done != n {
			b.Fatalf("%d results for %d files", done, n)
		}
	}
}
