package report

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteBandPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curve.png")
	s := []BandSeries{
		{Name: "scratch", X: []float64{5, 10, 20, 40}, Mean: []float64{0.55, 0.6, 0.66, 0.72}, Low: []float64{0.5, 0.55, 0.6, 0.68}, High: []float64{0.6, 0.65, 0.7, 0.76}},
		{Name: "transfer", X: []float64{5, 10, 20, 40}, Mean: []float64{0.85, 0.9, 0.92, 0.94}, Low: []float64{0.8, 0.86, 0.9, 0.93}, High: []float64{0.9, 0.94, 0.94, 0.95}, Color: 1},
	}
	require.NoError(t, WriteBandPlot(path, "Accuracy vs images per class", "images per class", "accuracy", s, true))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	// Both methods' colours appear, the band as a light tint of the line's colour.
	for _, c := range palette[:2] {
		found := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bb, _ := img.At(x, y).RGBA()
				if abs(int(r>>8)-int(c.R)) < 12 && abs(int(g>>8)-int(c.G)) < 12 && abs(int(bb>>8)-int(c.B)) < 12 {
					found++
				}
			}
		}
		require.Greater(t, found, 100, "colour %v", c)
	}
	s[0].Low = s[0].Low[:2]
	require.ErrorContains(t, WriteBandPlot(path, "t", "x", "y", s, false), "mismatched")
}
