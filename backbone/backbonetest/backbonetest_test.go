package backbonetest_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

func TestWriteIsDeterministic(t *testing.T) {
	read := func(dir, name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return b
	}
	img := &dataset.Image{W: 16, H: 16, Pix: make([]float32, 16*16*3)}
	for i := range img.Pix {
		img.Pix[i] = float32(i * 37 % 256)
	}
	features := func(dir string) []float32 {
		b, err := backbone.Open(dir, backbone.Options{})
		require.NoError(t, err)
		defer b.Close()
		f, err := b.Features(context.Background(), []*dataset.Image{img})
		require.NoError(t, err)
		return f[0]
	}
	a := backbonetest.MustWrite(t, backbonetest.Options{Seed: 3})
	b := backbonetest.MustWrite(t, backbonetest.Options{Seed: 3})
	c := backbonetest.MustWrite(t, backbonetest.Options{Seed: 4})
	spec := func(dir string) *models.Spec {
		s, err := models.ReadSpec(dir)
		require.NoError(t, err)
		require.NoError(t, models.VerifyDigest(dir, s))
		s.Digest = "" // saved_model.pb differs in attribute order
		return s
	}
	require.Equal(t, spec(a), spec(b))
	require.Equal(t, read(a, backbonetest.LabelsFile), read(b, backbonetest.LabelsFile))
	require.Equal(t, features(a), features(b), "same seed, same weights, bit for bit")
	require.NotEqual(t, features(a), features(c), "another seed, other weights")
	require.NotEqual(t, spec(a).Source.SHA256, spec(c).Source.SHA256, "the source sha256 names the seed")
	require.Equal(t, "label_0\nlabel_1\nlabel_2\nlabel_3\nlabel_4\n", string(read(a, backbonetest.LabelsFile)))
	left, err := filepath.Glob(filepath.Join(filepath.Dir(a), ".*"))
	require.NoError(t, err)
	require.Empty(t, left, "no work folder is left behind")
}

func TestWriteOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wide")
	spec, err := backbonetest.Write(dir, backbonetest.Options{Name: "wide", Height: 12, Width: 20, Features: 6, NoLogits: true})
	require.NoError(t, err)
	require.Equal(t, "wide", spec.Name)
	require.Equal(t, [2]int{12, 20}, [2]int{spec.Input.Height, spec.Input.Width})
	require.Equal(t, models.OutputSpec{Key: "features", Size: 6}, spec.Features)
	require.Nil(t, spec.Logits)
	require.NoFileExists(t, filepath.Join(dir, backbonetest.LabelsFile))
	onDisk, err := models.ReadSpec(dir)
	require.NoError(t, err)
	require.Equal(t, spec, onDisk)
	require.Equal(t, backbonetest.Tool, onDisk.Source.Tool)

	_, err = backbonetest.Write(dir, backbonetest.Options{})
	require.ErrorContains(t, err, "already exists")
	_, err = backbonetest.Write(filepath.Join(t.TempDir(), "bad"), backbonetest.Options{Features: -1})
	require.ErrorContains(t, err, "-1 features")
}

// loadTiny loads the default tiny backbone's SavedModel directly.
func loadTiny(t *testing.T) *tf.SavedModel {
	t.Helper()
	m, err := tf.LoadSavedModel(backbonetest.MustWrite(t, backbonetest.Options{}), nil, tf.SessionOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func TestGraphUsesBackboneOps(t *testing.T) {
	m := loadTiny(t)
	types := map[string]int{}
	var consts []tf.Output
	for _, op := range m.Graph.Operations() {
		types[op.Type()]++
		if op.Type() == "Const" && op.Output(0).DataType() == tf.Float {
			consts = append(consts, op.Output(0))
		}
	}
	for _, typ := range []string{"Pad", "Conv2D", "DepthwiseConv2dNative", "BiasAdd", "Relu6", "AddV2", "Mean", "Reshape", "MatMul"} {
		require.Positive(t, types[typ], typ)
	}
	require.Equal(t, 3, types["Conv2D"], "stem, projection, head")

	out, err := m.Session.Run(nil, consts, nil)
	require.NoError(t, err)
	n := 0
	for _, o := range out {
		n += o.NumElements()
		o.Close()
	}
	require.Equal(t, 493, n, "weights and biases of the documented architecture")

	last, err := m.Output(backbonetest.LastConv)
	require.NoError(t, err)
	require.Equal(t, "Relu6", last.Op.Type())
	shape, ok := last.Shape()
	require.True(t, ok)
	require.Equal(t, []int64{-1, 8, 8, 8}, shape)
}

// TestGradientsReachTheImage takes the gradient of a class logit with respect to the image and
// to the last convolutional activation, as saliency maps and Grad-CAM do.
func TestGradientsReachTheImage(t *testing.T) {
	m := loadTiny(t)
	sig, err := m.Signature(tf.DefaultSignature)
	require.NoError(t, err)
	images, err := m.Output(sig.Inputs["images"].Name)
	require.NoError(t, err)
	logits, err := m.Output(sig.Outputs["logits"].Name)
	require.NoError(t, err)
	last, err := m.Output(backbonetest.LastConv)
	require.NoError(t, err)
	s := tf.NewScope(m.Graph).Sub("probe")
	class := s.Out("Sum", nil, s.Out("Slice", nil, logits, s.ConstInt32("begin", []int64{2}, []int32{0, 1}),
		s.ConstInt32("size", []int64{2}, []int32{-1, 1})), s.ConstInt32("axes", []int64{2}, []int32{0, 1}))
	require.NoError(t, s.Err())
	grads, err := m.Graph.AddGradients("probe_grad", []tf.Output{class}, []tf.Output{images, last})
	require.NoError(t, err)

	in := make([]float32, 2*16*16*3)
	for i := range in {
		in[i] = float32(math.Sin(float64(i) * 0.37))
	}
	x, err := tf.NewTensor([]int64{2, 16, 16, 3}, in)
	require.NoError(t, err)
	defer x.Close()
	out, err := m.Session.Run(map[tf.Output]*tf.Tensor{images: x}, grads, nil)
	require.NoError(t, err)
	for i, o := range out {
		v, err := tf.Values[float32](o)
		require.NoError(t, err)
		o.Close()
		nonzero := 0
		for _, g := range v {
			require.False(t, math.IsNaN(float64(g)) || math.IsInf(float64(g), 0))
			if g != 0 {
				nonzero++
			}
		}
		require.Greater(t, nonzero, len(v)/4, "gradient %d is mostly zero", i)
	}
}

func TestFeaturesTellDatasetClassesApart(t *testing.T) {
	data := t.TempDir()
	classes := []string{"amber", "cobalt", "jade"}
	require.NoError(t, backbonetest.WriteDataset(data, backbonetest.DatasetOptions{Classes: classes, Train: 6, Validation: 3, Seed: 7}))
	ds, err := dataset.Load(data, dataset.Options{})
	require.NoError(t, err)
	require.Equal(t, classes, ds.Classes)
	require.Len(t, ds.Train, 18)
	require.Len(t, ds.Val, 9)
	require.Empty(t, ds.Skipped)

	b, err := backbone.Open(backbonetest.MustWrite(t, backbonetest.Options{}), backbone.Options{})
	require.NoError(t, err)
	defer b.Close()
	features := func(items []dataset.Item) [][]float32 {
		imgs := make([]*dataset.Image, len(items))
		for i, it := range items {
			img, err := dataset.LoadImage(it.Path, 16, 16, 0, nil)
			require.NoError(t, err)
			imgs[i] = img
		}
		f, err := b.Features(context.Background(), imgs)
		require.NoError(t, err)
		return f
	}
	train, val := features(ds.Train), features(ds.Val)
	require.NotEqual(t, train[0], train[1], "images of one class differ")

	// Nearest class mean of the training features labels every validation image.
	means := make([][]float64, len(classes))
	for i, f := range train {
		k := ds.Train[i].Class
		if means[k] == nil {
			means[k] = make([]float64, len(f))
		}
		for j, v := range f {
			means[k][j] += float64(v) / 6
		}
	}
	for i, f := range val {
		best, bestDist := -1, math.Inf(1)
		for k, m := range means {
			var d float64
			for j, v := range f {
				d += (float64(v) - m[j]) * (float64(v) - m[j])
			}
			if d < bestDist {
				best, bestDist = k, d
			}
		}
		require.Equal(t, ds.Val[i].Class, best, ds.Val[i].Path)
	}
}

func TestWriteDatasetOptions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, backbonetest.WriteDataset(dir, backbonetest.DatasetOptions{Classes: []string{"x", "y"}, Train: 2, Size: 10}))
	require.NoDirExists(t, filepath.Join(dir, "validation"))
	img, err := dataset.LoadImage(filepath.Join(dir, "train", "y", "y_001.png"), 10, 10, 0, nil)
	require.NoError(t, err)
	require.Equal(t, [2]int{10, 10}, [2]int{img.W, img.H})

	again := t.TempDir()
	require.NoError(t, backbonetest.WriteDataset(again, backbonetest.DatasetOptions{Classes: []string{"x", "y"}, Train: 2, Size: 10}))
	a, err := os.ReadFile(filepath.Join(dir, "train", "x", "x_000.png"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(again, "train", "x", "x_000.png"))
	require.NoError(t, err)
	require.Equal(t, a, b, "same options, same files")

	require.ErrorContains(t, backbonetest.WriteDataset(dir, backbonetest.DatasetOptions{Train: 2}), "at least one class")
}
