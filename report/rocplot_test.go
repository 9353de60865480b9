package report

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 300)
	require.Greater(t, img.Bounds().Dy(), 300)
	return img
}

// countNear counts the pixels within tol (per 8-bit channel) of c.
func countNear(img image.Image, r, g, b uint8, tol int) int {
	n := 0
	bb := img.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if abs(int(pr>>8)-int(r)) <= tol && abs(int(pg>>8)-int(g)) <= tol && abs(int(pb>>8)-int(b)) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestWriteROC(t *testing.T) {
	scratch, err := Score(binClasses, binLabels, twoClass(binP1...), 1, 0)
	require.NoError(t, err)
	transfer, err := Score(binClasses, binLabels, twoClass(0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.4, 0.6), 1, 0)
	require.NoError(t, err)
	require.InDelta(t, 1, transfer.AUC, eps)

	path := filepath.Join(t.TempDir(), "roc.png")
	require.NoError(t, WriteROC(path, "ROC, test set", []NamedROC{
		{Name: "scratch", Curve: scratch.ROC[0]},
		{Name: "transfer", Curve: transfer.ROC[0]},
	}))
	img := decodePNG(t, path)
	c0, c1 := palette[0], palette[1]
	require.Greater(t, countNear(img, c0.R, c0.G, c0.B, 30), 50, "no line in the first palette colour")
	require.Greater(t, countNear(img, c1.R, c1.G, c1.B, 30), 50, "no line in the second palette colour")

	require.Equal(t, "scratch: AUC 0.688 [0.252, 1.000]", rocLegend(NamedROC{Name: "scratch", Curve: scratch.ROC[0]}))
	require.Equal(t, "AUC 0.500", rocLegend(NamedROC{Curve: ROCCurve{AUC: 0.5, Low: math.NaN(), High: math.NaN()}}))
	require.Equal(t, "x: AUC n/a", rocLegend(NamedROC{Name: "x", Curve: ROCCurve{AUC: math.NaN()}}))

	dir := t.TempDir()
	require.Error(t, WriteROC(filepath.Join(dir, "none.png"), "t", nil))
	require.Error(t, WriteROC(filepath.Join(dir, "bad.png"), "t", []NamedROC{{Name: "m", Curve: ROCCurve{FPR: []float64{0, 1}, TPR: []float64{0}}}}))
}

func TestWriteConfusion(t *testing.T) {
	for _, k := range []int{2, 5, 10} {
		t.Run(fmt.Sprint(k, " classes"), func(t *testing.T) {
			classes := make([]string, k)
			m := make([][]int, k)
			for i := range k {
				classes[i] = fmt.Sprintf("class %d", i)
				m[i] = make([]int, k)
				for j := range k {
					m[i][j] = (i + 2*j) % 3 // some off-diagonal confusion
				}
				m[i][i] = 10 + i
			}
			if k == 5 {
				classes[4] = "a very long class name indeed"
				m[3] = make([]int, k) // a class with no examples
			}
			path := filepath.Join(t.TempDir(), "confusion.png")
			require.NoError(t, WriteConfusion(path, "Confusion, test set", classes, m))
			img := decodePNG(t, path)

			colours := map[[3]uint32]int{}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, _ := img.At(x, y).RGBA()
					colours[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
				}
			}
			// Cell shades: count the colours that fill a sizeable area (not text anti-aliasing).
			big := 0
			for _, n := range colours {
				if n > 400 {
					big++
				}
			}
			require.GreaterOrEqual(t, big, 3, "want several distinct cell shades")
			// The cells are shaded towards the first palette colour (blue): many bluish pixels.
			bluish := 0
			for c, n := range colours {
				if c[2] > c[0]+60 {
					bluish += n
				}
			}
			require.Greater(t, bluish, img.Bounds().Dx()*img.Bounds().Dy()/20)
		})
	}
}

func TestWriteConfusionErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.png")
	require.Error(t, WriteConfusion(p, "t", nil, nil))
	require.Error(t, WriteConfusion(p, "t", []string{"a", "b"}, [][]int{{1, 2}}))
	require.Error(t, WriteConfusion(p, "t", []string{"a", "b"}, [][]int{{1, 2}, {3}}))
	require.Error(t, WriteConfusion(p, "t", []string{"a", "b"}, [][]int{{1, 2}, {3, -1}}))
}

func TestShortName(t *testing.T) {
	require.Equal(t, "melanoma", shortName("melanoma"))
	require.Equal(t, "a very long c...", shortName("a very long class name indeed"))
	require.Len(t, []rune(shortName("ααααααααααααααααααααα")), maxTickRunes)
}
