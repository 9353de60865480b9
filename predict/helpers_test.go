package predict

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// tinyArch is a small convolutional body for test bundles.
func tinyArch(b *nn.Builder, x tf.Output) tf.Output {
	return b.Flatten(b.MaxPool(b.Conv2D(x, 2, 3, "relu"), 2))
}

// scratchBundle writes a scratch-kind bundle into a new folder: a tiny net for size x size RGB
// images and netClasses classes, frozen, with a manifest that lists classes and declares input
// size manifestSize. It returns the folder and the (still open) net.
func scratchBundle(t testing.TB, size, netClasses int, classes []string, manifestSize int) (string, *nn.Net) {
	t.Helper()
	net, err := nn.New([]int64{int64(size), int64(size), 3}, tinyArch, nn.Config{Classes: netClasses}, 5)
	require.NoError(t, err)
	t.Cleanup(net.Close)
	dir := filepath.Join(t.TempDir(), "run")
	require.NoError(t, net.Freeze(filepath.Join(dir, bundle.ModelDir)))
	m := &bundle.Manifest{Kind: bundle.KindScratch, Classes: classes, Input: bundle.Size{Width: manifestSize, Height: manifestSize},
		Preprocess: bundle.Preprocess{Rescale: 1.0 / 255}}
	require.NoError(t, bundle.Write(dir, m))
	return dir, net
}

// writePNG writes a w x h PNG whose pixels depend on seed, and returns its path.
func writePNG(t testing.TB, path string, w, h, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x*13 + seed*7), uint8(y*29 + seed), uint8((x + y) * seed), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}
