package report

import (
	"image"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// bandCount counts the pixels near palette colour i in the bottom rows of img, where the legend is.
func bandCount(img image.Image, rows, i int) int {
	b := img.Bounds()
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(b.Min.X, b.Max.Y-rows, b.Max.X, b.Max.Y))
	c := palette[i]
	return countNear(sub, c.R, c.G, c.B, 30)
}

func TestWritePRAndReliability(t *testing.T) {
	m1, err := Score(binClasses, binLabels, twoClass(binP1...), 1, 0)
	require.NoError(t, err)
	m2, err := Score(binClasses, binLabels, twoClass(0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.4, 0.6), 1, 0)
	require.NoError(t, err)
	dir := t.TempDir()

	pr := filepath.Join(dir, "pr.png")
	require.NoError(t, WritePR(pr, "Precision-recall", []NamedPR{{"scratch", m1.PR[0]}, {"transfer", m2.PR[0]}}))
	rel := filepath.Join(dir, "rel.png")
	require.NoError(t, WriteReliability(rel, "Reliability", []NamedCalibration{{"scratch", m1.Calibration, m1.Brier}, {"transfer", m2.Calibration, m2.Brier}}))
	for _, path := range []string{pr, rel} {
		img := decodePNG(t, path)
		// Square axes plus a legend band below them.
		require.Equal(t, int(float64(plotSize/vg.Inch)*plotDPI), img.Bounds().Dx(), path)
		require.Greater(t, img.Bounds().Dy(), img.Bounds().Dx(), path)
		for i := range 2 {
			c := palette[i]
			require.Greater(t, countNear(img, c.R, c.G, c.B, 30), 200, "%s: no line in palette colour %d", path, i)
			// The axes are as high as wide; the rows below them are the legend's.
			require.Greater(t, bandCount(img, img.Bounds().Dy()-img.Bounds().Dx(), i), 20, "%s: no legend sample in palette colour %d below the axes", path, i)
		}
	}

	require.Error(t, WritePR(filepath.Join(dir, "x.png"), "t", nil))
	require.Error(t, WritePR(filepath.Join(dir, "x.png"), "t", []NamedPR{{"m", PRCurve{Recall: []float64{0}, Precision: []float64{1}}}}))
	require.Error(t, WriteReliability(filepath.Join(dir, "x.png"), "t", nil))
	require.Error(t, WriteReliability(filepath.Join(dir, "x.png"), "t", []NamedCalibration{{Name: "m"}}))
}

func TestWriteOneVsRestROC(t *testing.T) {
	classes := []string{"a", "b", "c", "d"}
	labels := []int{0, 1, 2, 3, 0, 1, 2, 3}
	probs := [][]float32{
		{0.7, 0.1, 0.1, 0.1}, {0.1, 0.7, 0.1, 0.1}, {0.2, 0.1, 0.6, 0.1}, {0.1, 0.3, 0.1, 0.5},
		{0.4, 0.3, 0.2, 0.1}, {0.3, 0.4, 0.2, 0.1}, {0.1, 0.1, 0.5, 0.3}, {0.25, 0.25, 0.25, 0.25},
	}
	m, err := Score(classes, labels, probs, 0, 0)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ovr.png")
	require.NoError(t, WriteOneVsRestROC(path, "one-vs-rest", m))
	img := decodePNG(t, path)
	for i := range 4 { // every class, not only the first
		c := palette[i]
		require.Greater(t, countNear(img, c.R, c.G, c.B, 30), 100, "no curve in palette colour %d", i)
	}
	require.Error(t, WriteOneVsRestROC(path, "none", Metrics{}))
}

func TestLegendLayout(t *testing.T) {
	line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	require.NoError(t, err)
	lg := &legend{}
	require.Equal(t, vg.Length(0), lg.height(4*vg.Inch))
	for _, name := range []string{"a", "bb", "a much longer entry", "d"} {
		lg.add(name, line)
	}
	cols, widths := lg.layout(100 * vg.Inch)
	require.Equal(t, 4, cols, "everything on one row when it fits")
	require.Len(t, widths, 4)
	narrow := 2.5 * vg.Inch
	cols, widths = lg.layout(narrow)
	require.Less(t, cols, 4)
	total := vg.Length(cols-1) * legendSep
	for _, w := range widths {
		total += w
	}
	require.LessOrEqual(t, total, narrow)
	require.Greater(t, lg.height(narrow), lg.height(100*vg.Inch), "more rows when narrow")
}

func TestWrapTitle(t *testing.T) {
	long := "Accuracy against training images per class (mean, 95% interval over repeats)"
	width := 3 * vg.Inch
	got := wrap(legendStyle, long, width)
	lines := strings.Split(got, "\n")
	require.Greater(t, len(lines), 1)
	for _, l := range lines {
		require.LessOrEqual(t, legendStyle.Width(l), width, l)
	}
	require.Equal(t, strings.Fields(long), strings.Fields(got), "no word lost")
	require.Equal(t, "short", wrap(legendStyle, "short", width))
}
