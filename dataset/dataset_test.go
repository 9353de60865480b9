package dataset

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func countByClass(items []Item, nClasses int) []int {
	n := make([]int, nClasses)
	for _, it := range items {
		n[it.Class]++
	}
	return n
}

func TestLoadTrainVal(t *testing.T) {
	for _, valName := range []string{"validation", "val"} {
		t.Run(valName, func(t *testing.T) {
			root := t.TempDir()
			makeClasses(t, filepath.Join(root, "train"), map[string]int{"dog": 5, "cat": 4})
			makeClasses(t, filepath.Join(root, valName), map[string]int{"dog": 2, "cat": 3})
			// Ignored silently: hidden files and folders, sub-subfolders, other top-level folders.
			writeFile(t, filepath.Join(root, "train", "cat", ".DS_Store"), []byte("junk"))
			writeFile(t, filepath.Join(root, "train", "cat", "._img.png"), []byte("junk"))
			writeImage(t, filepath.Join(root, "train", "cat", "nested", "deep.png"), solid(2, 2, red))
			writeImage(t, filepath.Join(root, "train", ".hidden", "x.png"), solid(2, 2, red))
			writeImage(t, filepath.Join(root, "test", "bird", "x.png"), solid(2, 2, red))

			ds, err := Load(root, Options{})
			require.NoError(t, err)
			require.Equal(t, []string{"cat", "dog"}, ds.Classes)
			require.Equal(t, []int{4, 5}, countByClass(ds.Train, 2))
			require.Equal(t, []int{3, 2}, countByClass(ds.Val, 2))
			require.Empty(t, ds.Skipped)
			for _, it := range ds.Train {
				require.Equal(t, ds.Classes[it.Class], filepath.Base(filepath.Dir(it.Path)))
				require.True(t, strings.HasPrefix(it.Path, filepath.Join(root, "train")))
			}
			require.True(t, slices.IsSortedFunc(ds.Train, func(a, b Item) int {
				return cmpItems(a, b)
			}))
		})
	}
}

func cmpItems(a, b Item) int {
	if a.Class != b.Class {
		return a.Class - b.Class
	}
	return strings.Compare(a.Path, b.Path)
}

func TestLoadSplit(t *testing.T) {
	root := t.TempDir()
	sizes := map[string]int{"a": 10, "b": 7, "c": 2, "d": 1}
	makeClasses(t, root, sizes)
	opt := Options{ValSplit: 0.3, Seed: 1}
	ds, err := Load(root, opt)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, ds.Classes)
	// round(n*0.3) to validation, at least one each side when n >= 2.
	require.Equal(t, []int{3, 2, 1, 0}, countByClass(ds.Val, 4))
	require.Equal(t, []int{7, 5, 1, 1}, countByClass(ds.Train, 4))

	// No overlap, union = all files, each list sorted.
	seen := map[string]bool{}
	for _, it := range slices.Concat(ds.Train, ds.Val) {
		require.False(t, seen[it.Path], "duplicate %s", it.Path)
		seen[it.Path] = true
		require.Equal(t, ds.Classes[it.Class], filepath.Base(filepath.Dir(it.Path)))
	}
	require.Len(t, seen, 20)
	require.True(t, slices.IsSortedFunc(ds.Train, cmpItems))
	require.True(t, slices.IsSortedFunc(ds.Val, cmpItems))

	// Deterministic for a seed, different for another.
	again, err := Load(root, opt)
	require.NoError(t, err)
	require.Equal(t, ds, again)
	differs := false
	for seed := int64(2); seed < 5 && !differs; seed++ {
		other, err := Load(root, Options{ValSplit: 0.3, Seed: seed})
		require.NoError(t, err)
		require.Equal(t, []int{3, 2, 1, 0}, countByClass(other.Val, 4))
		differs = !slices.Equal(other.Val, ds.Val)
	}
	require.True(t, differs, "other seeds give the same split")

	// A train/ folder without validation is split the same way.
	root2 := t.TempDir()
	makeClasses(t, filepath.Join(root2, "train"), sizes)
	ds2, err := Load(root2, opt)
	require.NoError(t, err)
	require.Equal(t, []int{3, 2, 1, 0}, countByClass(ds2.Val, 4))
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) string // returns the dir to load
		opt   Options
		want  []string
	}{
		{"missing dir", func(t *testing.T, root string) string { return filepath.Join(root, "nope") },
			Options{}, []string{"nope", "does not exist"}},
		{"file not dir", func(t *testing.T, root string) string {
			return writeImage(t, filepath.Join(root, "x.png"), solid(2, 2, red))
		}, Options{}, []string{"x.png", "not a folder"}},
		{"no class folders", func(t *testing.T, root string) string {
			writeImage(t, filepath.Join(root, "x.png"), solid(2, 2, red))
			return root
		}, Options{ValSplit: 0.3}, []string{"no class folders", "1 loose files"}},
		{"empty class folder", func(t *testing.T, root string) string {
			makeClasses(t, root, map[string]int{"a": 3})
			require.NoError(t, os.Mkdir(filepath.Join(root, "b"), 0o755))
			return root
		}, Options{ValSplit: 0.3}, []string{string(filepath.Separator) + "b has no readable images (it holds no image files)", "add images or remove the folder"}},
		{"class of non-images", func(t *testing.T, root string) string {
			makeClasses(t, root, map[string]int{"a": 3})
			for _, n := range []string{"x.jpg", "y.txt", "z.png"} {
				writeFile(t, filepath.Join(root, "b", n), []byte("not an image"))
			}
			return root
		}, Options{ValSplit: 0.3}, []string{"class folder", "has no readable images (3 files skipped: x.jpg: not a supported image",
			"add images or remove the folder"}},
		{"single class", func(t *testing.T, root string) string {
			makeClasses(t, root, map[string]int{"only": 4})
			return root
		}, Options{ValSplit: 0.3}, []string{"need at least 2 classes", "only"}},
		{"single class train/val", func(t *testing.T, root string) string {
			makeClasses(t, filepath.Join(root, "train"), map[string]int{"only": 4})
			makeClasses(t, filepath.Join(root, "validation"), map[string]int{"only": 4})
			return root
		}, Options{}, []string{"need at least 2 classes"}},
		{"mismatched classes", func(t *testing.T, root string) string {
			makeClasses(t, filepath.Join(root, "train"), map[string]int{"a": 2, "b": 2, "c": 2})
			makeClasses(t, filepath.Join(root, "validation"), map[string]int{"a": 2, "d": 2})
			return root
		}, Options{}, []string{"differ", "validation: b, c", "train: d"}},
		{"no ValSplit", func(t *testing.T, root string) string {
			makeClasses(t, root, map[string]int{"a": 2, "b": 2})
			return root
		}, Options{}, []string{"ValSplit", "e.g. 0.3"}},
		{"validation without train", func(t *testing.T, root string) string {
			makeClasses(t, filepath.Join(root, "validation"), map[string]int{"a": 2, "b": 2})
			return root
		}, Options{ValSplit: 0.3}, []string{"no train/ folder"}},
		{"both val and validation", func(t *testing.T, root string) string {
			makeClasses(t, filepath.Join(root, "train"), map[string]int{"a": 2, "b": 2})
			makeClasses(t, filepath.Join(root, "validation"), map[string]int{"a": 2, "b": 2})
			makeClasses(t, filepath.Join(root, "val"), map[string]int{"a": 2, "b": 2})
			return root
		}, Options{}, []string{"both validation/ and val/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			ds, err := Load(dir, tc.opt)
			require.Nil(t, ds)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestLoadSkips(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 3, "b": 3})
	writeImage(t, filepath.Join(root, "a", "dot.png"), solid(1, 1, red))
	writeFile(t, filepath.Join(root, "a", "empty.jpg"), nil)
	writeFile(t, filepath.Join(root, "a", "text.jpg"), []byte("hello, not a jpeg"))
	writeFile(t, filepath.Join(root, "b", "huge.png"), pngHeader(30000, 30000))
	writeImage(t, filepath.Join(root, "b", "big.png"), solid(50, 50, red)) // over the 2000-pixel limit below
	writeFile(t, filepath.Join(root, "b", "odd.jpg"), unsupportedJPEG(t, solid(16, 16, red)))
	writeFile(t, filepath.Join(root, "b", "lossless.webp"), webpLossless(3, 3, red))

	ds, err := Load(root, Options{ValSplit: 0.5, MaxPixels: 2000})
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, s := range ds.Skipped {
		reasons[filepath.Base(s.Path)] = s.Reason
	}
	require.Len(t, reasons, 4, "%v", reasons)
	require.Contains(t, reasons["empty.jpg"], "empty file")
	require.Contains(t, reasons["text.jpg"], "not a supported image")
	require.Contains(t, reasons["huge.png"], "30000x30000 = 900000000 pixels, more than the limit of 2000")
	require.Contains(t, reasons["big.png"], "2500 pixels")

	var kept []string
	for _, it := range slices.Concat(ds.Train, ds.Val) {
		kept = append(kept, filepath.Base(it.Path))
	}
	require.Contains(t, kept, "dot.png")       // 1x1 is fine
	require.Contains(t, kept, "odd.jpg")       // Go rejects it, but its SOF header is read
	require.Contains(t, kept, "lossless.webp") // WebP is registered
	require.Len(t, kept, 9)
}

func TestLoadSymlinks(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 3, "b": 3})
	ext := t.TempDir()
	img := writeImage(t, filepath.Join(ext, "linked.png"), solid(2, 2, red))
	makeClasses(t, ext, map[string]int{"c": 2})
	for _, l := range [][2]string{
		{img, filepath.Join(root, "a", "linked.png")},                        // file symlink: followed
		{filepath.Join(ext, "c"), filepath.Join(root, "c")},                  // class folder symlink: followed
		{root, filepath.Join(root, "a", "up")},                               // directory loop: ignored
		{filepath.Join(root, "b", "self"), filepath.Join(root, "b", "self")}, // self loop: skipped
		{filepath.Join(root, "gone"), filepath.Join(root, "b", "dangling.png")},
	} {
		require.NoError(t, os.Symlink(l[0], l[1]))
	}
	done := make(chan struct{})
	var ds *Dataset
	var err error
	go func() {
		defer close(done)
		ds, err = Load(root, Options{ValSplit: 0.3})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load hangs on symlinks")
	}
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, ds.Classes)
	require.Equal(t, 4+3+2, len(ds.Train)+len(ds.Val))
	require.Len(t, ds.Skipped, 2)
	for _, s := range ds.Skipped {
		require.Contains(t, s.Reason, "cannot read")
	}
}
