package models

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestManifest(t *testing.T) {
	entries, err := Manifest()
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		require.Len(t, e.Model.SHA256, 64, e.Name)
		require.NotEmpty(t, e.Dir, e.Name)
		require.Equal(t, "tflite", e.Format, e.Name)
	}
	e, err := Lookup("mobilenet_v2")
	require.NoError(t, err)
	require.Equal(t, "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776", e.Model.SHA256)
	require.Contains(t, e.Model.URL, "104342d2d3480b3e66203073dac24f4e2dbb4c41")
	_, err = Lookup("vgg")
	require.ErrorContains(t, err, "known: ")
}

func TestSpecRoundTripAndValidation(t *testing.T) {
	s := &Spec{FormatVersion: SpecVersion, Name: "x", Input: InputSpec{Key: "images", Height: 8, Width: 8, Channels: 3,
		ColorOrder: "RGB", Resize: "bilinear", Mean: [3]float32{128, 128, 128}, Std: [3]float32{128, 128, 128}},
		Features: OutputSpec{Key: "features", Size: 4}}
	dir := t.TempDir()
	require.NoError(t, WriteSpec(dir, s))
	got, err := ReadSpec(dir)
	require.NoError(t, err)
	require.Equal(t, s, got)
	require.Equal(t, "serving_default", got.SignatureKey())

	bad := *s
	bad.Input.Resize = "nearest"
	require.ErrorContains(t, WriteSpec(t.TempDir(), &bad), "resize")
	require.NoError(t, os.WriteFile(filepath.Join(dir, SpecFile), []byte("{"), 0o644))
	_, err = ReadSpec(dir)
	require.Error(t, err)
	_, err = ReadSpec(t.TempDir())
	require.ErrorContains(t, err, "has no "+SpecFile)
}

func TestOHWIToHWIO(t *testing.T) {
	// A [2 out, 1, 2 wide, 3 in] filter: value = 100*out + 10*x + in.
	shape := []int64{2, 1, 2, 3}
	w := make([]float32, 12)
	for o := 0; o < 2; o++ {
		for x := 0; x < 2; x++ {
			for i := 0; i < 3; i++ {
				w[(o*2+x)*3+i] = float32(100*o + 10*x + i)
			}
		}
	}
	got, gotShape := ohwiToHWIO(w, shape)
	require.Equal(t, []int64{1, 2, 3, 2}, gotShape)
	for x := 0; x < 2; x++ {
		for i := 0; i < 3; i++ {
			for o := 0; o < 2; o++ {
				require.Equal(t, float32(100*o+10*x+i), got[(x*3+i)*2+o])
			}
		}
	}
}
