package audit

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/lessdata/lessdata/audit/audittest"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/internal/shared"
)

// testCache holds the backbones converted for this package's tests.
var testCache string

func TestMain(m *testing.M) {
	shared.RunWithTempDir(m, "lessdata-audit-test-", &testCache)
}

// opened converts a named backbone from the shared mirror into the run's cache and opens it.
func opened(t testing.TB, name string) *backbone.Backbone {
	t.Helper()
	dir, err := backbone.Fetch(context.Background(), name, backbone.FetchOptions{CacheDir: testCache, Mirror: shared.Need(t, "backbones")})
	require.NoError(t, err)
	b, err := backbone.Open(dir, backbone.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// realSubset copies the first n images (by name) of each class of a shared dataset's train
// folder and the first n/3 of its validation folder into a temporary folder.
func realSubset(t *testing.T, name string, n int) string {
	t.Helper()
	src := shared.Need(t, "datasets/"+name)
	dir := t.TempDir()
	for _, split := range []string{SplitTrain, SplitValidation} {
		classes, err := os.ReadDir(filepath.Join(src, split))
		require.NoError(t, err)
		for _, c := range classes {
			files, err := os.ReadDir(filepath.Join(src, split, c.Name()))
			require.NoError(t, err)
			k := n
			if split == SplitValidation {
				k = n / 3
			}
			for _, f := range files[:k] { // ReadDir sorts by name
				copyFile(t, filepath.Join(src, split, c.Name(), f.Name()), filepath.Join(dir, split, c.Name(), f.Name()))
			}
		}
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

// On real photos (a car_vs_bus subset) with planted problems, the backbone finds the resized,
// re-encoded validation copy as a feature near-duplicate, and ranks cars filed as buses among
// the top label suspects.
func TestFeatureChecksOnPlantedSet(t *testing.T) {
	b := opened(t, "mobilenet_v1_025")
	dir := realSubset(t, "car_vs_bus", 18)
	src := shared.Need(t, "datasets/car_vs_bus")
	leakSource, leak := "train/bus/Image_12.jpg", "validation/bus/leak_copy.jpg"
	img, err := dataset.DecodeFile(filepath.Join(dir, leakSource), 0, nil)
	require.NoError(t, err)
	bb := img.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, bb.Dx()*7/10, bb.Dy()*7/10))
	draw.CatmullRom.Scale(small, small.Rect, img, bb, draw.Src, nil)
	require.NoError(t, audittest.WriteJPEG(filepath.Join(dir, leak), small, 75))
	mislabelled := []string{"train/bus/car_78.jpg", "train/bus/car_79.jpg"}
	copyFile(t, filepath.Join(src, "validation/car/Image_78.jpg"), filepath.Join(dir, mislabelled[0]))
	copyFile(t, filepath.Join(src, "validation/car/Image_79.jpg"), filepath.Join(dir, mislabelled[1]))

	cache := backbone.NewFeatureCache(t.TempDir(), b)
	r := audit(t, dir, Options{Backbone: b, FeatureCache: cache, Seed: 3})
	require.Equal(t, "mobilenet_v1_025", r.Backbone)
	require.Greater(t, r.CVAccuracy, 0.8)

	g := groupWith(r, leakSource, leak)
	require.NotNil(t, g)
	require.True(t, g.Leak)
	require.Equal(t, "phash+aligned+features", g.By, "the resized copy is a perceptual, pixel and feature near-duplicate")
	require.GreaterOrEqual(t, g.Similarity, r.Thresholds.Similarity)
	require.Len(t, r.Groups, 1, "distinct photos are not feature near-duplicates")

	var suspects []Flag
	for _, f := range r.Flags {
		if f.Kind == KindLabelSuspect {
			suspects = append(suspects, f)
		}
	}
	for _, m := range mislabelled {
		i := slices.IndexFunc(suspects, func(f Flag) bool { return f.Path == m })
		require.True(t, i >= 0 && i < 5, "%s is among the top label suspects %v", m, suspects)
		require.Equal(t, "car", suspects[i].SuggestedClass)
	}

	// A second run takes the features from the cache and finds the same.
	again := audit(t, dir, Options{Backbone: b, FeatureCache: cache, Seed: 3})
	require.Equal(t, r.Groups, again.Groups)
	require.Equal(t, r.Flags, again.Flags)
}

// The audit computes the same plain-image features as the transfer recipe, under the same
// image hash: after a transfer run without augmentation has cached its features, every one of
// them is found under the key of the audit's file hash and equals the audit's own (so the
// decoding path matches dataset.LoadImage).
func TestFeaturesSharedWithTransfer(t *testing.T) {
	b := opened(t, "mobilenet_v1_025")
	dir := t.TempDir()
	require.NoError(t, audittest.Clean(dir, 3, 5))
	ds := load(t, dir)
	w, h := b.InputSize()
	keyed := func(items []dataset.Item) finetune.Keyed {
		var k finetune.Keyed
		for _, it := range items {
			img, err := dataset.LoadImage(it.Path, w, h, 0, nil)
			require.NoError(t, err)
			hash, err := files.SHA256(it.Path)
			require.NoError(t, err)
			k.Images, k.Labels, k.Hashes = append(k.Images, img), append(k.Labels, it.Class), append(k.Hashes, hash)
		}
		return k
	}
	cache := backbone.NewFeatureCache(t.TempDir(), b)
	tr, err := finetune.Transfer(context.Background(), ds.Classes, keyed(ds.Train), keyed(ds.Val), finetune.TransferOptions{
		Backbone: b, Head: head.Default(), NoAugment: true, Cache: cache, Fit: finetune.FitOptions{Epochs: 1, BatchSize: 4}})
	require.NoError(t, err)
	tr.Net.Close()

	es := entries(t, dir, ds)
	require.NoError(t, decodeAll(context.Background(), es, b, nil, func(string) func(int, int) { return func(int, int) {} }))
	for _, e := range es {
		cached, ok := cache.Get(backbone.PlainKey(e.fileHash, w, h), b.Spec.Features.Size)
		require.True(t, ok, "%s: the transfer run's features are found under the audit's file hash", e.Path)
		require.InDeltaSlice(t, cached, e.feat, 1e-4, e.Path)
	}
}

// entries lists a dataset's items as the audit does.
func entries(t testing.TB, dir string, ds *dataset.Dataset) []*entry {
	t.Helper()
	var es []*entry
	for si, items := range [][]dataset.Item{ds.Train, ds.Val} {
		for _, it := range items {
			es = append(es, &entry{ItemRef: ItemRef{Path: rel(dir, it.Path), Split: []string{SplitTrain, SplitValidation}[si],
				Class: ds.Classes[it.Class]}, abs: it.Path, class: it.Class})
		}
	}
	return es
}
