package report

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/finetune"
)

func TestCurvesWritePNGs(t *testing.T) {
	h := &finetune.History{Epochs: []finetune.Epoch{
		{Epoch: 1, Loss: 0.7, Accuracy: 0.5, ValLoss: 0.69, ValAccuracy: 0.55},
		{Epoch: 2, Loss: 0.5, Accuracy: 0.7, ValLoss: 0.52, ValAccuracy: 0.72},
		{Epoch: 3, Loss: 0.3, Accuracy: 0.9, ValLoss: 0.41, ValAccuracy: 0.86},
	}}
	dir := t.TempDir()
	c := Curves{Runs: []NamedHistory{{Name: "scratch", History: h}}}
	for name, write := range map[string]func(string) error{"loss.png": c.WriteLoss, "accuracy.png": c.WriteAccuracy} {
		path := filepath.Join(dir, name)
		require.NoError(t, write(path))
		f, err := os.Open(path)
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err)
		require.Greater(t, img.Bounds().Dx(), 400)
		// The plot is not blank: some pixels carry the first palette colour.
		found := false
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && !found; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bb, _ := img.At(x, y).RGBA()
				if r>>8 < 30 && g>>8 > 90 && g>>8 < 140 && bb>>8 > 150 {
					found = true
					break
				}
			}
		}
		require.True(t, found, "%s has no line in the run's colour", name)
	}
	require.Error(t, LinePlot(filepath.Join(dir, "bad.png"), "t", "x", "y", []Series{{X: []float64{1}, Y: nil}}))
}
