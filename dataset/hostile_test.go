package dataset

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/internal/nohang"
)

// Tests for the findings of issue 10 (a hostile-user pass) that live in this package.

// Item 2: a FIFO named like an image is refused without blocking, wherever a path is opened.
func TestFIFONeverBlocks(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 2, "b": 2})
	fifo := filepath.Join(root, "a", "x.jpg")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	nohang.Within(t, 10*time.Second, func() {
		_, err := LoadImage(fifo, 4, 4, 0, nil)
		require.ErrorContains(t, err, "x.jpg is not a regular file (a named pipe)")
		_, err = DecodeFile(fifo, 0, nil)
		require.ErrorContains(t, err, "not a regular file")
		_, err = Probe(fifo, 0)
		require.ErrorContains(t, err, "not a regular file")
		ds, err := Load(root, Options{ValSplit: 0.5})
		require.NoError(t, err)
		require.Len(t, ds.Skipped, 1)
		require.Equal(t, fifo, ds.Skipped[0].Path)
		imgs, errs := NewDecoder(4, 4, 0, nil).Images(context.Background(), []Item{{Path: fifo}}, nil)
		require.Nil(t, imgs[0])
		require.ErrorContains(t, errs[0], "not a regular file")
	})
}

// Item 7: a run or audit folder inside the data is never a class, in either layout.
func TestRunFoldersAreNotClasses(t *testing.T) {
	for _, sign := range []string{".lessdata-run.json", "bundle.json", "history.json", "compare.json", "cv.json",
		"curve.json", "audit.json", "config.json and cells/"} {
		root := t.TempDir()
		makeClasses(t, root, map[string]int{"a": 3, "b": 3})
		run := filepath.Join(root, "run")
		writeImage(t, filepath.Join(run, "loss.png"), solid(8, 8, red))
		if sign == "config.json and cells/" {
			writeFile(t, filepath.Join(run, "config.json"), []byte("{}"))
			require.NoError(t, os.MkdirAll(filepath.Join(run, "cells"), 0o755))
		} else {
			writeFile(t, filepath.Join(run, sign), []byte("{}"))
		}
		ds, err := Load(root, Options{ValSplit: 0.3})
		require.NoError(t, err, sign)
		require.Equal(t, []string{"a", "b"}, ds.Classes, sign)
		require.Len(t, ds.Warnings, 1, sign)
		require.Contains(t, ds.Warnings[0], "ignored "+run+": it is a lessdata run or audit folder (it holds "+sign+"), not a class")
	}

	root := t.TempDir()
	makeClasses(t, filepath.Join(root, "train"), map[string]int{"a": 2, "b": 2})
	makeClasses(t, filepath.Join(root, "validation"), map[string]int{"a": 2, "b": 2})
	writeFile(t, filepath.Join(root, "train", "run", "bundle.json"), []byte("{}"))
	ds, err := Load(root, Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ds.Classes)
	require.Len(t, ds.Warnings, 1)
}

// Item 7: a class whose images are all of a kind the other classes do not have is warned about.
func TestOddKindOfClassWarned(t *testing.T) {
	root := t.TempDir()
	for _, c := range []string{"cats", "dogs"} {
		for _, n := range []string{"1.jpg", "2.jpg", "3.jpg"} {
			writeFile(t, filepath.Join(root, c, n), encode(t, "jpeg", solid(8, 8, red)))
		}
	}
	ds, err := Load(root, Options{ValSplit: 0.3})
	require.NoError(t, err)
	require.Empty(t, ds.Warnings)

	makeClasses(t, root, map[string]int{"plots": 3})
	ds, err = Load(root, Options{ValSplit: 0.3})
	require.NoError(t, err)
	require.Equal(t, []string{"cats", "dogs", "plots"}, ds.Classes)
	require.Len(t, ds.Warnings, 1)
	require.Contains(t, ds.Warnings[0], filepath.Join(root, "plots")+" holds only PNG images, which no other class has (JPEG)")

	// One PNG among the photos of another class is enough to make PNG a shared kind.
	writeImage(t, filepath.Join(root, "cats", "4.png"), solid(8, 8, red))
	ds, err = Load(root, Options{ValSplit: 0.3})
	require.NoError(t, err)
	require.Empty(t, ds.Warnings)
}

// Item 12: a split that gives no validation image is reported at load time with the counts
// and the fixes; classes of one image are warned about.
func TestSplitRoundingToZero(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 1, "b": 1, "c": 1})
	_, err := Load(root, Options{ValSplit: 0.3})
	require.ErrorContains(t, err, "gives no validation image: each class has a single image (a, b, c)")
	require.ErrorContains(t, err, "add images, or lay out "+filepath.Join(root, "train", "<class>"))

	many := map[string]int{}
	for i := range 6 {
		many[string(rune('a'+i))] = 1
	}
	root = t.TempDir()
	makeClasses(t, root, many)
	_, err = Load(root, Options{ValSplit: 0.3})
	require.ErrorContains(t, err, "single image (a, b, c, d and 2 more)")

	root = t.TempDir()
	makeClasses(t, root, map[string]int{"a": 4, "b": 1})
	ds, err := Load(root, Options{ValSplit: 0.3})
	require.NoError(t, err)
	_, val := ds.Counts()
	require.Equal(t, []int{1, 0}, val)
	require.Equal(t, []string{"1 classes have a single image (b): it is used for training, so validation does not test them; add images to them"}, ds.Warnings)
}

// Item 12: capitalised split folders and nested class folders say what was expected and found.
func TestLayoutMessages(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, filepath.Join(root, "Train"), map[string]int{"a": 2, "b": 2})
	makeClasses(t, filepath.Join(root, "Validation"), map[string]int{"a": 2, "b": 2})
	_, err := Load(root, Options{ValSplit: 0.3})
	require.ErrorContains(t, err, "has Train/ holding folders (a, b): lessdata expects lowercase train/ and validation/ (or val/), each with one subfolder per class; rename Train/ to train/")

	// A class that is called Train and holds images is a class.
	root = t.TempDir()
	makeClasses(t, root, map[string]int{"Train": 2, "Car": 2})
	ds, err := Load(root, Options{ValSplit: 0.5})
	require.NoError(t, err)
	require.Equal(t, []string{"Car", "Train"}, ds.Classes)

	root = t.TempDir()
	makeClasses(t, filepath.Join(root, "photos"), map[string]int{"cats": 2, "dogs": 2})
	_, err = Load(root, Options{ValSplit: 0.3})
	nested := filepath.Join(root, "photos")
	require.ErrorContains(t, err, "class folder "+nested+" holds folders (cats, dogs) but no images: lessdata expects "+
		filepath.Join(root, "<class>", "<image>"))
	require.ErrorContains(t, err, "if those folders are the classes, pass "+nested)
}

// Item 13: a truncated or corrupt JPEG is refused with one line naming the file, and never
// reaches the fallback decoder (libjpeg, which prints to stderr).
func TestTruncatedJPEG(t *testing.T) {
	dir := t.TempDir()
	whole := encode(t, "jpeg", gradient(160, 120))
	calls := 0
	fb := func([]byte) (image.Image, error) { calls++; return solid(160, 120, red), nil }
	for n := 3; n < len(whole)-1; n += 97 {
		p := writeFile(t, filepath.Join(dir, "cut.jpg"), whole[:n])
		_, err := LoadImage(p, 8, 8, 0, fb)
		require.Error(t, err, "cut at %d", n)
		require.Contains(t, err.Error(), "cut.jpg")
		require.NotContains(t, err.Error(), "\n")
	}
	require.Zero(t, calls, "a truncated JPEG reached the fallback decoder")
	p := writeFile(t, filepath.Join(dir, "cut.jpg"), whole[:len(whole)/2])
	_, err := LoadImage(p, 8, 8, 0, fb)
	require.ErrorContains(t, err, "decode "+p+": truncated or corrupt JPEG (the file ends before the end-of-image marker)")

	// A marker no JPEG uses, inside the image data.
	bad := append([]byte(nil), whole...)
	sos := strings.LastIndex(string(bad), "\xff\xda")
	bad[sos+40], bad[sos+41] = 0xFF, 0xAE
	p = writeFile(t, filepath.Join(dir, "bad.jpg"), bad)
	_, err = LoadImage(p, 8, 8, 0, fb)
	require.ErrorContains(t, err, "truncated or corrupt JPEG (invalid marker 0xae")
	require.Zero(t, calls)

	// Whole files pass the check, with restart markers, trailing bytes, and Go-refused ones.
	require.NoError(t, checkJPEGStructure(whole))
	require.NoError(t, checkJPEGStructure(append(append([]byte(nil), whole...), "trailing"...)))
	require.NoError(t, checkJPEGStructure(unsupportedJPEG(t, solid(40, 24, red))))
	require.NoError(t, checkJPEGStructure([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 1, 0xFF, 0x00, 2, 0xFF, 0xD0, 3, 0xFF, 0xD9}))
	p = writeFile(t, filepath.Join(dir, "odd.jpg"), unsupportedJPEG(t, solid(40, 24, red)))
	_, err = LoadImage(p, 8, 8, 0, fb)
	require.NoError(t, err)
	require.Equal(t, 1, calls)
}

// Item 14: Thumbs.db and desktop.ini are ignored like .DS_Store.
func TestWindowsLeftoversIgnored(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 2, "b": 2})
	for _, n := range []string{"Thumbs.db", "thumbs.db", "desktop.ini", "Desktop.ini", ".DS_Store"} {
		writeFile(t, filepath.Join(root, "a", n), []byte("junk"))
		writeFile(t, filepath.Join(root, n), []byte("junk"))
	}
	ds, err := Load(root, Options{ValSplit: 0.5})
	require.NoError(t, err)
	require.Empty(t, ds.Skipped)
	require.True(t, Ignored("THUMBS.DB"))
	require.False(t, Ignored("thumbs.jpg"))
}

// Item 14: files that fail to decode later move to Skipped and leave the counts.
func TestDropRecounts(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 4, "b": 4})
	// A JPEG whose header is fine and whose data is cut: the scan accepts it, decoding does not.
	cut := encode(t, "jpeg", gradient(160, 120))
	writeFile(t, filepath.Join(root, "b", "cut.jpg"), cut[:len(cut)/2])
	ds, err := Load(root, Options{ValSplit: 0.25})
	require.NoError(t, err)
	require.Empty(t, ds.Skipped)
	train, val := ds.Counts()
	require.Equal(t, 9, slicesSum(train)+slicesSum(val))

	items := slices.Concat(ds.Train, ds.Val)
	_, errs := NewDecoder(4, 4, 0, nil).Images(context.Background(), items, nil)
	var failed []Skip
	for i, err := range errs {
		if err != nil {
			failed = append(failed, Skip{items[i].Path, err.Error()})
		}
	}
	require.Len(t, failed, 1)
	require.Equal(t, 1, ds.Drop(failed...))
	require.Len(t, ds.Skipped, 1)
	require.Contains(t, ds.Skipped[0].Reason, "truncated or corrupt JPEG")
	train, val = ds.Counts()
	require.Equal(t, []int{4, 4}, []int{train[0] + val[0], train[1] + val[1]})
	require.Zero(t, ds.Drop(failed...), "dropping twice removes nothing more")
}

// gradient returns a w x h image whose colours change from pixel to pixel, so that most of its
// JPEG is image data.
func gradient(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i*7 + i*i/13)
	}
	return m
}

func slicesSum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// Item 11: the memory estimate of decoded images.
func TestDecodedBytes(t *testing.T) {
	require.Equal(t, int64(2*10*5*3*4), DecodedBytes(2, 10, 5))
	require.Equal(t, int64(20000)*1024*1024*12, DecodedBytes(20000, 1024, 1024), "no int overflow")
}

// Item 2: scanning stops when the context is cancelled.
func TestLoadCancelled(t *testing.T) {
	root := t.TempDir()
	makeClasses(t, root, map[string]int{"a": 3, "b": 3})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadContext(ctx, root, Options{ValSplit: 0.3})
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = ScanSplitContext(ctx, root, 0)
	require.ErrorIs(t, err, context.Canceled)
	_, err = LoadContext(context.Background(), root, Options{ValSplit: 0.3})
	require.NoError(t, err)
}
