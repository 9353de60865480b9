package predict

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// transferBundle writes a transfer-kind bundle over the tiny backbone in bbDir: a head for
// netFeatures features and the classes, with a manifest declaring features.
func transferBundle(t *testing.T, bb *backbone.Backbone, netFeatures, features int, classes []string) (string, *nn.Net) {
	t.Helper()
	net, err := nn.New([]int64{int64(netFeatures)}, func(_ *nn.Builder, x tf.Output) tf.Output { return x },
		nn.Config{Classes: len(classes)}, 9)
	require.NoError(t, err)
	t.Cleanup(net.Close)
	dir := filepath.Join(t.TempDir(), "run")
	require.NoError(t, net.Freeze(filepath.Join(dir, bundle.ModelDir)))
	w, h := bb.InputSize()
	m := &bundle.Manifest{Kind: bundle.KindTransfer, Classes: classes, Input: bundle.Size{Width: w, Height: h},
		Backbone: &bundle.Backbone{Name: bb.Spec.Name, SHA256: BackboneID(bb), Features: features}}
	require.NoError(t, bundle.Write(dir, m))
	return dir, net
}

// A transfer bundle predicts its head's output on its backbone's features; a manifest that
// declares another feature size than its head reads is refused (issue 10, item 3).
func TestTransferBundle(t *testing.T) {
	bbDir := backbonetest.MustWrite(t, backbonetest.Options{})
	bb, err := backbone.Open(bbDir, backbone.Options{})
	require.NoError(t, err)
	defer bb.Close()
	f := bb.Spec.Features.Size
	classes := []string{"a", "b", "c"}
	dir, net := transferBundle(t, bb, f, f, classes)
	m, err := Open(context.Background(), dir, Options{Backbone: bbDir})
	require.NoError(t, err)
	defer m.Close()

	w, h := bb.InputSize()
	var paths []string
	var imgs []*dataset.Image
	for i := range 4 {
		p := writePNG(t, filepath.Join(t.TempDir(), fmt.Sprintf("%d.png", i)), 20, 20, i+3)
		im, err := dataset.LoadImage(p, w, h, 0, tfdecode.Decode)
		require.NoError(t, err)
		paths, imgs = append(paths, p), append(imgs, im)
	}
	feats, err := bb.Features(context.Background(), imgs)
	require.NoError(t, err)
	var x []float32
	for _, v := range feats {
		x = append(x, v...)
	}
	want, err := net.Predict(nn.Batch{X: x, Count: len(imgs)})
	require.NoError(t, err)
	got, err := m.Files(context.Background(), paths, nil)
	require.NoError(t, err)
	for i, r := range got {
		require.NoError(t, r.Err)
		require.InDeltaSlice(t, want[i], r.Probs, 1e-5)
	}

	bad, _ := transferBundle(t, bb, f, f+1, classes)
	_, err = Open(context.Background(), bad, Options{Backbone: bbDir})
	require.ErrorContains(t, err, fmt.Sprintf("bundle.json says the model reads %d backbone features (%d per image), but it reads %d", f+1, f+1, f))
}
