package gradcam

import (
	"context"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/tf"
	"github.com/lessdata/lessdata/tune"
)

var testCache string

func TestMain(m *testing.M) { shared.RunWithTempDir(m, "lessdata-gradcam-test-", &testCache) }

func randomImages(r *rand.Rand, n, w, h int) []float32 {
	x := make([]float32, n*w*h*3)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	return x
}

func TestUpsampleAndCAM(t *testing.T) {
	// Two channels: the class gradient favours channel 0 (mean +1) over channel 1 (mean -0.5).
	a := []float32{1, 0, 0, 2, 3, 1, 0, 0} // 2x2 positions x 2 channels
	g := []float32{1, -1, 1, 0, 1, -1, 1, 0}
	require.Equal(t, []float32{1, 0, 2.5, 0}, CAM(a, g, 2, 2, 2))
	// A 2x1 map stretched to 4x1: the ends keep their values, the middle interpolates.
	require.InDeltaSlice(t, []float32{0, 0.25, 0.75, 1}, upsample([]float32{0, 1}, 2, 1, evenGrid(2, 1, 4, 1), 4, 1), 1e-6)
	// Centres at 1.5 and 3.5, as a padded stride-2 stem places them: the image's last pixel is
	// the second cell's centre, and the first two pixels hold the first cell's value.
	require.InDeltaSlice(t, []float32{0, 0, 0.5, 1}, upsample([]float32{0, 1}, 2, 1, Grid{X0: 1.5, Y0: 0.5, StepX: 2, StepY: 1}, 4, 1), 1e-6)
	require.Equal(t, []float32{0.5, 1, 0}, normalise([]float32{1, 2, 0}))
	require.Equal(t, []float32{0, 0}, normalise([]float32{0, 0}))
	// The hotspot is the hottest cell's centre, here cell (2, 1) of 3x2 cells on a 30x20 image...
	grid := evenGrid(3, 2, 30, 20)
	x, y := Heatmap{W: 30, H: 20, CellsW: 3, CellsH: 2, Cells: []float32{0, 0.2, 0, 0, 0, 1}, Grid: grid}.Hotspot()
	require.Equal(t, []int{25, 15}, []int{x, y})
	// ...pulled towards a neighbour of at least half its heat, (0.6*15 + 1*25)/1.6 = 21.25, but
	// not towards a hot cell that does not touch it...
	x, y = Heatmap{W: 30, H: 20, CellsW: 3, CellsH: 2, Cells: []float32{0.9, 0, 0, 0, 0.6, 1}, Grid: grid}.Hotspot()
	require.Equal(t, []int{21, 15}, []int{x, y})
	// ...nor a neighbour below half.
	x, y = Heatmap{W: 30, H: 20, CellsW: 3, CellsH: 2, Cells: []float32{0, 0, 0.45, 0, 0.49, 1}, Grid: grid}.Hotspot()
	require.Equal(t, []int{25, 15}, []int{x, y})
	// A centre on the image's far edge is kept inside it.
	x, y = Heatmap{W: 30, H: 20, CellsW: 3, CellsH: 2, Cells: []float32{0, 0.2, 0, 0, 0, 1}, Grid: Grid{X0: 10, Y0: 10, StepX: 10, StepY: 10}}.Hotspot()
	require.Equal(t, []int{29, 19}, []int{x, y})
	require.Equal(t, color.RGBA{R: 0, G: 0, B: 128, A: 255}, Jet(0))
	require.Equal(t, color.RGBA{R: 128, G: 0, B: 0, A: 255}, Jet(1))
}

// On the tiny backbone, whose features are the mean of the feature map, a linear head's
// Grad-CAM is exactly the class activation map ReLU(sum_k W[k,c] A_k) (Zhou et al. 2016): the
// gradient of the score with respect to A_k is W[k,c]/(h*w) everywhere.
func TestExplainMatchesClassActivationMap(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	r := rand.New(rand.NewPCG(1, 1))
	const classes = 3
	hw, hb := make([]float32, 8*classes), make([]float32, classes)
	for i := range hw {
		hw[i] = float32(r.NormFloat64())
	}
	e, err := New(dir, Options{Head: weights(hw, hb, classes)})
	require.NoError(t, err)
	defer e.Close()
	w, h := e.InputSize()
	const n = 5
	x := randomImages(r, n, w, h)
	want := []int{0, 1, 2, 1, 0}
	maps, err := e.Explain(context.Background(), x, n, want)
	require.NoError(t, err)

	sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
	require.NoError(t, err)
	defer sm.Close()
	in, err := sm.Output("images")
	require.NoError(t, err)
	fm, err := sm.Output(backbonetest.LastConv)
	require.NoError(t, err)
	xt, err := tf.NewTensor([]int64{n, int64(h), int64(w), 3}, x)
	require.NoError(t, err)
	out, err := sm.Session.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{fm}, nil)
	require.NoError(t, err)
	a, err := tf.Values[float32](out[0])
	require.NoError(t, err)
	s := out[0].Shape()
	fh, fw, k := int(s[1]), int(s[2]), int(s[3])
	nonzero := 0
	for i, m := range maps {
		require.Equal(t, want[i], m.Class)
		cam := make([]float32, fh*fw)
		for p := range cam {
			var v float32
			for c := range k {
				v += hw[c*classes+want[i]] * a[(i*fh*fw+p)*k+c]
			}
			cam[p] = max(v, 0)
		}
		require.InDeltaSlice(t, normalise(cam), m.Cells, 1e-4, "image %d", i)
		values := m.Upsampled(w, h)
		require.InDeltaSlice(t, upsample(m.Cells, fw, fh, e.grid, w, h), values, 1e-6, "image %d", i)
		if values[0] != 0 || values[len(values)-1] != 0 {
			nonzero++
		}
	}
	require.Positive(t, nonzero, "some maps are not all zero")

	// Without classes, the predicted class is explained.
	pred, err := e.Explain(context.Background(), x, n, nil)
	require.NoError(t, err)
	feats, _, err := backboneFeatures(t, dir, x, n)
	require.NoError(t, err)
	for i, m := range pred {
		z := make([]float32, classes)
		for j := range z {
			for c, v := range feats[i] {
				z[j] += v * hw[c*classes+j]
			}
		}
		require.Equal(t, predicted(z), m.Class)
		require.InDelta(t, z[m.Class], m.Score, 1e-4)
	}
	_, err = e.Explain(context.Background(), x, n, []int{0, 1, 2, 3, 0})
	require.ErrorContains(t, err, "class 3")
}

func backboneFeatures(t *testing.T, dir string, x []float32, n int) ([][]float32, [][]float32, error) {
	b, err := backbone.Open(dir, backbone.Options{})
	require.NoError(t, err)
	defer b.Close()
	return b.RunNormalized(x, n, false)
}

// weights wraps a flat [features x units] kernel and its biases as a head without
// normalisation.
func weights(kernel, bias []float32, classes int) *head.Weights {
	u := len(bias)
	w := &head.Weights{Classes: classes, W: make([][]float64, len(kernel)/u), B: make([]float64, u)}
	for j := range w.W {
		w.W[j] = make([]float64, u)
		for o := range u {
			w.W[j][o] = float64(kernel[j*u+o])
		}
	}
	for o, b := range bias {
		w.B[o] = float64(b)
	}
	return w
}

// A fine-tuned network frozen by package tune explains as the backbone with the same head when
// nothing was trained, and so does the head frozen on its own (head.Weights.Freeze, HeadDir).
func TestOpenFineTunedAndHeadDir(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	r := rand.New(rand.NewPCG(2, 2))
	hw := make([]float32, 8)
	for i := range hw {
		hw[i] = float32(r.NormFloat64())
	}
	w8 := weights(hw, []float32{0.3}, 2)
	w8.Normalization = head.NormL2
	m, err := tune.Open(dir, tune.Options{Unfreeze: 1, Classes: 2, Head: w8})
	require.NoError(t, err)
	tuned := filepath.Join(t.TempDir(), "tuned")
	require.NoError(t, m.Freeze(tuned))
	m.Close()
	headDir := filepath.Join(t.TempDir(), "head")
	require.NoError(t, w8.Freeze(headDir))

	ref, err := New(dir, Options{Head: w8})
	require.NoError(t, err)
	defer ref.Close()
	ft, err := Open(tuned, tf.SessionOptions{})
	require.NoError(t, err)
	defer ft.Close()
	hd, err := New(dir, Options{HeadDir: headDir})
	require.NoError(t, err)
	defer hd.Close()
	require.Equal(t, 2, ft.Classes())
	w, h := ref.InputSize()
	x := randomImages(r, 4, w, h)
	want, err := ref.Explain(context.Background(), x, 4, nil)
	require.NoError(t, err)
	for _, e := range []*Explainer{ft, hd} {
		got, err := e.Explain(context.Background(), x, 4, nil)
		require.NoError(t, err)
		for i := range want {
			require.Equal(t, want[i].Class, got[i].Class)
			require.InDelta(t, want[i].Score, got[i].Score, 1e-5)
			require.InDeltaSlice(t, want[i].Upsampled(want[i].W, want[i].H), got[i].Upsampled(got[i].W, got[i].H), 1e-4)
		}
	}
	_, err = Open(dir, tf.SessionOptions{})
	require.ErrorContains(t, err, "tune.Model.Freeze")
}

func TestWriteOverlay(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	h := Heatmap{W: 2, H: 1, Cells: []float32{0, 1}, CellsW: 2, CellsH: 1, Grid: evenGrid(2, 1, 2, 1)}
	path := filepath.Join(t.TempDir(), "o.png")
	require.NoError(t, WriteOverlay(path, img, h))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, _, err := image.Decode(f)
	require.NoError(t, err)
	require.Equal(t, img.Bounds(), got.Bounds())
	left := color.RGBAModel.Convert(got.At(0, 0)).(color.RGBA)
	right := color.RGBAModel.Convert(got.At(7, 0)).(color.RGBA)
	require.Greater(t, left.B, left.R, "cold side is blue")
	require.Greater(t, right.R, right.B, "hot side is red")
}

// real converts a named backbone from ../shared into the run's cache (skipping without it).
func real(t testing.TB, name string) string {
	t.Helper()
	dir, err := backbone.Fetch(context.Background(), name, backbone.FetchOptions{CacheDir: testCache, Mirror: shared.Need(t, "backbones")})
	require.NoError(t, err)
	return dir
}

// The check images' heatmaps for MobileNetV2's own top-1 ImageNet class; the overlays are kept
// with go test -artifacts.
func TestCheckImageOverlays(t *testing.T) {
	dir := real(t, "mobilenet_v2")
	images := shared.Need(t, "images/coral")
	e, err := New(dir, Options{})
	require.NoError(t, err)
	defer e.Close()
	b, err := backbone.Open(dir, backbone.Options{})
	require.NoError(t, err)
	defer b.Close()
	w, h := e.InputSize()
	out := t.ArtifactDir()
	// Where the animal is, as a fraction of the image (by eye); the hotspot must fall inside.
	boxes := map[string][4]float64{"cat.bmp": {0.1, 0.1, 0.75, 1}, "parrot.jpg": {0.2, 0.1, 0.92, 0.96}}
	for file, box := range boxes {
		path := filepath.Join(images, file)
		img, err := dataset.LoadImage(path, w, h, 0, nil)
		require.NoError(t, err)
		x := make([]float32, w*h*3)
		require.NoError(t, b.Normalize(x, img))
		maps, err := e.Explain(context.Background(), x, 1, nil)
		require.NoError(t, err)
		orig, err := dataset.DecodeFile(path, 0, nil)
		require.NoError(t, err)
		name := filepath.Join(out, "gradcam_"+file[:len(file)-len(filepath.Ext(file))]+".png")
		require.NoError(t, WriteOverlay(name, orig, maps[0]))
		px, py := maps[0].Hotspot()
		t.Logf("%s: class %d (%s), logit %.2f, hotspot at (%d, %d) of %dx%d; overlay %s", file, maps[0].Class, b.Labels[maps[0].Class], maps[0].Score, px, py, w, h, name)
		fx, fy := (float64(px)+0.5)/float64(w), (float64(py)+0.5)/float64(h)
		require.True(t, fx >= box[0] && fy >= box[1] && fx <= box[2] && fy <= box[3], "%s: hotspot (%.2f, %.2f) outside the animal %v", file, fx, fy, box)
	}
}
