package dataset

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Real data: the datasets in ../shared (see its README.md for the counts).

func TestRealLoad(t *testing.T) {
	root := sharedDatasets(t)
	tests := []struct {
		name       string
		classes    []string
		train, val []int
	}{
		{"car_vs_bus", []string{"bus", "car"}, []int{68, 69}, []int{29, 29}},
		{"hymenoptera", []string{"ants", "bees"}, []int{124, 121}, []int{70, 83}},
		{"chest_xray_pneumonia_small", []string{"normal", "pneumonia"}, []int{100, 100}, []int{50, 50}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Load(filepath.Join(root, tc.name), Options{})
			require.NoError(t, err)
			require.Equal(t, tc.classes, ds.Classes)
			require.Equal(t, tc.train, countByClass(ds.Train, 2))
			require.Equal(t, tc.val, countByClass(ds.Val, 2))
			require.Empty(t, ds.Skipped)
		})
	}
}

func TestRealJPEGFallback(t *testing.T) {
	root := filepath.Join(sharedDatasets(t), "car_vs_bus")
	ds, err := Load(root, Options{})
	require.NoError(t, err)
	var cars []Item
	for _, it := range ds.Train {
		if ds.Classes[it.Class] == "car" {
			cars = append(cars, it)
		}
	}
	require.Len(t, cars, 69)

	odd := filepath.Join(root, "train", "car", "Image_35.jpg")
	want, err := os.ReadFile(odd)
	require.NoError(t, err)
	var mu sync.Mutex
	var got [][]byte
	fake := func(data []byte) (image.Image, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, data)
		return image.NewRGBA(image.Rect(0, 0, 560, 373)), nil
	}
	imgs, errs := NewDecoder(32, 32, 0, fake).Images(context.Background(), cars, nil)
	for i := range cars {
		require.NoError(t, errs[i])
		require.NotNil(t, imgs[i])
	}
	require.Len(t, got, 1, "fallback should be called for Image_35.jpg only")
	require.True(t, bytes.Equal(want, got[0]), "fallback got another file")

	_, err = LoadImage(odd, 32, 32, 0, nil)
	require.ErrorContains(t, err, "TensorFlow")
	require.ErrorContains(t, err, "subsampling")
}

func benchmarkReal(b *testing.B, size int) {
	ds, err := Load(filepath.Join(sharedDatasets(b), "hymenoptera"), Options{})
	require.NoError(b, err)
	for b.Loop() {
		_, errs := NewDecoder(size, size, 0, nil).Images(context.Background(), ds.Train, nil)
		for _, err := range errs {
			require.NoError(b, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/245imgs")
}

// BenchmarkRealHymenopteraTrain64 decodes hymenoptera/train (245 images) at 64x64.
func BenchmarkRealHymenopteraTrain64(b *testing.B) { benchmarkReal(b, 64) }

// BenchmarkRealHymenopteraTrain224 decodes hymenoptera/train (245 images) at 224x224.
func BenchmarkRealHymenopteraTrain224(b *testing.B) { benchmarkReal(b, 224) }
