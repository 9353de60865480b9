package export

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/export/exporttest"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/models/tflite"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/tf"
)

// fixtures writes a scratch bundle (3 classes) and a transfer bundle (2 classes, sigmoid) with
// its backbone, and returns their folders and the backbone's.
func fixtures(t *testing.T) (scratch, transfer, bb string) {
	t.Helper()
	dir := t.TempDir()
	scratch, transfer, bb = filepath.Join(dir, "scratch"), filepath.Join(dir, "transfer"), filepath.Join(dir, "tiny")
	require.NoError(t, exporttest.Scratch(scratch, []string{"ant", "bee", "wasp"}, 1))
	require.NoError(t, exporttest.Backbone(bb))
	require.NoError(t, exporttest.Transfer(transfer, bb, []string{"car", "bus"}, 2))
	return scratch, transfer, bb
}

// testImages writes PNGs of assorted sizes (larger and smaller than the models' inputs, one
// with transparency, one grey) and returns their paths.
func testImages(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	var paths []string
	add := func(name string, img image.Image) {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, img))
		require.NoError(t, f.Close())
		paths = append(paths, p)
	}
	for i, sz := range [][2]int{{37, 23}, {8, 9}, {64, 64}} {
		img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for j := range img.Pix {
			img.Pix[j] = uint8(r.IntN(256))
			if j%4 == 3 {
				img.Pix[j] = 255
			}
		}
		add("rgb"+string(rune('a'+i))+".png", img)
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, 30, 41))
	for j := range nrgba.Pix {
		nrgba.Pix[j] = uint8(r.IntN(256))
	}
	add("alpha.png", nrgba)
	grey := image.NewGray(image.Rect(0, 0, 25, 19))
	for y := range 19 {
		for x := range 25 {
			grey.SetGray(x, y, color.Gray{Y: uint8(x*10 + y)})
		}
	}
	add("grey.png", grey)
	return paths
}

func TestSavedModelMatchesPredict(t *testing.T) {
	ctx := context.Background()
	scratch, transfer, bb := fixtures(t)
	paths := testImages(t)
	for _, dir := range []string{scratch, transfer} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "exported")
			md, err := SavedModel(ctx, dir, out, Options{Backbone: bb})
			require.NoError(t, err)
			require.Equal(t, FormatSavedModel, md.Format)
			labels, err := os.ReadFile(filepath.Join(out, LabelsFile))
			require.NoError(t, err)
			require.Contains(t, string(labels), md.Classes[1]+"\n")

			pm, err := predict.Open(ctx, dir, predict.Options{Backbone: bb})
			require.NoError(t, err)
			defer pm.Close()
			want, err := pm.Files(ctx, paths, nil)
			require.NoError(t, err)

			sm, err := tf.LoadSavedModel(out, nil, tf.SessionOptions{})
			require.NoError(t, err)
			defer sm.Close()
			k := len(md.Classes)

			// Encoded PNGs: the graph decodes and resizes as lessdata does.
			var files []string
			for _, p := range paths {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				files = append(files, string(b))
			}
			in, err := tf.NewStringTensor([]int64{int64(len(files))}, files)
			require.NoError(t, err)
			probs, index := run(t, sm, tf.DefaultSignature, imagesName, in)
			for i, r := range want {
				require.NoError(t, r.Err)
				for c := range k {
					require.InDeltaf(t, r.Probs[c], probs[i*k+c], 1e-4, "%s class %d (bytes)", r.Path, c)
				}
				require.EqualValues(t, r.Index, index[i])
			}

			// Pixels already resized by lessdata.
			w, h := pm.Size()
			var pix []uint8
			for _, p := range paths {
				img, err := dataset.LoadImage(p, w, h, 0, nil)
				require.NoError(t, err)
				for _, v := range img.Pix {
					pix = append(pix, uint8(v))
				}
			}
			pt, err := tf.NewTensor([]int64{int64(len(paths)), int64(h), int64(w), 3}, pix)
			require.NoError(t, err)
			probs, _ = run(t, sm, PixelsSignature, pixelsName, pt)
			maxDiff := 0.0
			for i, r := range want {
				for c := range k {
					maxDiff = math.Max(maxDiff, math.Abs(float64(r.Probs[c]-probs[i*k+c])))
				}
			}
			require.Less(t, maxDiff, 1e-6, "pixels signature against predict")
		})
	}
}

// run calls a signature of the exported model and returns its probabilities and class indices.
func run(t *testing.T, sm *tf.SavedModel, key, input string, in *tf.Tensor) ([]float32, []int64) {
	t.Helper()
	sig, err := sm.Signature(key)
	require.NoError(t, err)
	feed, err := sm.Output(sig.Inputs[input].Name)
	require.NoError(t, err)
	p, err := sm.Output(sig.Outputs[probsName].Name)
	require.NoError(t, err)
	ix, err := sm.Output(sig.Outputs[indexName].Name)
	require.NoError(t, err)
	out, err := sm.Session.Run(map[tf.Output]*tf.Tensor{feed: in}, []tf.Output{p, ix}, nil)
	require.NoError(t, err)
	probs, err := tf.Values[float32](out[0])
	require.NoError(t, err)
	index, err := tf.Values[int64](out[1])
	require.NoError(t, err)
	return probs, index
}

// TestFineTunedModel exports a bundle whose model takes backbone-normalised images (backbone and
// head in one graph) and checks it against the export of the same backbone and head as a
// transfer bundle.
func TestFineTunedModel(t *testing.T) {
	ctx := context.Background()
	_, transfer, bb := fixtures(t)
	fine := filepath.Join(t.TempDir(), "fine")
	require.NoError(t, exporttest.FineTuned(fine, bb, []string{"car", "bus"}, 2))
	r := rand.New(rand.NewPCG(9, 9))
	pix := make([]uint8, 3*16*20*3)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	var got [][]float32
	for _, dir := range []string{transfer, fine} {
		out := filepath.Join(t.TempDir(), "exported")
		_, err := SavedModel(ctx, dir, out, Options{Backbone: bb})
		require.NoError(t, err)
		sm, err := tf.LoadSavedModel(out, nil, tf.SessionOptions{})
		require.NoError(t, err)
		in, err := tf.NewTensor([]int64{3, 16, 20, 3}, pix)
		require.NoError(t, err)
		probs, _ := run(t, sm, PixelsSignature, pixelsName, in)
		sm.Close()
		got = append(got, probs)
	}
	require.InDeltaSlice(t, got[0], got[1], 1e-6)
	require.NotEqual(t, got[0][0], got[0][2], "different images get different probabilities")
}

// TestClassIndexFollowsThreshold checks class_index against predict's decision on a
// two-class bundle that calls its first class at a probability of 0.4.
func TestClassIndexFollowsThreshold(t *testing.T) {
	ctx := context.Background()
	_, transfer, bb := fixtures(t)
	out := filepath.Join(t.TempDir(), "exported")
	_, err := SavedModel(ctx, transfer, out, Options{Backbone: bb})
	require.NoError(t, err)
	pm, err := predict.Open(ctx, transfer, predict.Options{Backbone: bb})
	require.NoError(t, err)
	defer pm.Close()
	sm, err := tf.LoadSavedModel(out, nil, tf.SessionOptions{})
	require.NoError(t, err)
	defer sm.Close()
	const n = 200
	r := rand.New(rand.NewPCG(4, 4))
	pix := make([]uint8, n*16*20*3)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	in, err := tf.NewTensor([]int64{n, 16, 20, 3}, pix)
	require.NoError(t, err)
	probs, index := run(t, sm, PixelsSignature, pixelsName, in)
	notArgmax := 0
	for i := range n {
		p := probs[2*i : 2*i+2]
		require.EqualValues(t, pm.Decide(p), index[i], "image %d, probabilities %v", i, p)
		if p[0] < p[1] && index[i] == 0 {
			notArgmax++
		}
	}
	require.Positive(t, notArgmax, "some images are called positive below 0.5")
}

func TestSavedModelRefusesToOverwrite(t *testing.T) {
	scratch, _, _ := fixtures(t)
	out := filepath.Join(t.TempDir(), "exported")
	require.NoError(t, os.Mkdir(out, 0o755))
	_, err := SavedModel(context.Background(), scratch, out, Options{})
	require.ErrorContains(t, err, "--force")
	_, err = SavedModel(context.Background(), scratch, out, Options{Force: true})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "saved_model.pb"))
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no partial folder is left behind")

	// --force never replaces a folder lessdata did not write, nor writes into the bundle.
	docs := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(docs, "letter.txt"), []byte("keep me"), 0o644))
	_, err = SavedModel(context.Background(), scratch, docs, Options{Force: true})
	require.ErrorContains(t, err, "not a lessdata run")
	require.FileExists(t, filepath.Join(docs, "letter.txt"))
	_, err = TFLite(context.Background(), scratch, filepath.Join(scratch, "export"), Options{Force: true})
	require.ErrorContains(t, err, "inside the input")
}

// TestDecodeMatchesLoadImage compares the graph's decoded, resized pixels with
// dataset.LoadImage's: float32 against float64 filter weights may put a value on the other
// side of a rounding step, never further.
func TestDecodeMatchesLoadImage(t *testing.T) {
	scratch, _, _ := fixtures(t)
	off, total := decodeDiffs(t, scratch, testImages(t), exporttest.ScratchWidth, exporttest.ScratchHeight)
	require.Less(t, off, total/50)
}

// TestDecodeMatchesLoadImageRealImages does the same at 224x224 on the shared check images and
// the PNGs of car_vs_bus (large, some with an alpha channel).
func TestDecodeMatchesLoadImageRealImages(t *testing.T) {
	dir := shared.Need(t, "images/coral")
	data := shared.Need(t, "datasets/car_vs_bus/validation")
	var paths []string
	for _, name := range []string{"bird.bmp", "cat.bmp", "dragonfly.bmp", "grace_hopper.bmp", "sunflower.bmp"} {
		paths = append(paths, filepath.Join(dir, name))
	}
	for _, name := range []string{"bus/Image_79.png", "car/Image_82.png", "car/Image_88.png", "car/Image_89.png"} {
		paths = append(paths, filepath.Join(data, name))
	}
	bundleDir := filepath.Join(t.TempDir(), "scratch")
	require.NoError(t, exporttest.ScratchSized(bundleDir, []string{"a", "b"}, 1, 224, 224))
	off, total := decodeDiffs(t, bundleDir, paths, 224, 224)
	require.Less(t, off, total/1000)
}

// decodeDiffs exports the bundle and compares the pixels its decoder gives each image with
// dataset.LoadImage's; it returns how many values differ (by one step at most) of how many.
func decodeDiffs(t *testing.T, bundleDir string, paths []string, w, h int) (off, total int) {
	off, total, worst := pixelDiffs(t, bundleDir, paths, w, h)
	require.LessOrEqual(t, worst, 1.0)
	return off, total
}

// pixelDiffs returns how many values of the exported decoder's pixels differ from
// dataset.LoadImage's, of how many, and the largest difference.
func pixelDiffs(t *testing.T, bundleDir string, paths []string, w, h int) (off, total int, worst float64) {
	out := filepath.Join(t.TempDir(), "exported")
	_, err := SavedModel(context.Background(), bundleDir, out, Options{})
	require.NoError(t, err)
	sm, err := tf.LoadSavedModel(out, nil, tf.SessionOptions{})
	require.NoError(t, err)
	defer sm.Close()
	dec, err := sm.Output(decodeName + ":0")
	require.NoError(t, err)
	feed, err := sm.Output(imagesName + ":0")
	require.NoError(t, err)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		in, err := tf.NewStringTensor([]int64{1}, []string{string(b)})
		require.NoError(t, err)
		res, err := sm.Session.Run(map[tf.Output]*tf.Tensor{feed: in}, []tf.Output{dec}, nil)
		require.NoError(t, err)
		got, err := tf.Values[uint8](res[0])
		require.NoError(t, err)
		want, err := dataset.LoadImage(p, w, h, 0, nil)
		require.NoError(t, err)
		require.Len(t, got, len(want.Pix))
		n, sum, most := 0, 0.0, 0.0
		for i, v := range want.Pix {
			d := math.Abs(float64(got[i]) - float64(v))
			if d > 0 {
				n++
			}
			sum, most = sum+d, math.Max(most, d)
		}
		t.Logf("%s: %d of %d values differ, by %.3f on average, %.0f at most", filepath.Base(p), n, len(want.Pix), sum/float64(len(want.Pix)), most)
		off, total, worst = off+n, total+len(want.Pix), math.Max(worst, most)
	}
	return off, total, worst
}

// TestDecodeJPEG measures how far TensorFlow's JPEG decoder (libjpeg-turbo, no chroma
// smoothing, accurate integer IDCT) lands from Go's image/jpeg on the shared JPEGs, resized.
func TestDecodeJPEG(t *testing.T) {
	dir := shared.Need(t, "images/coral")
	data := shared.Need(t, "datasets/car_vs_bus/validation")
	paths := []string{filepath.Join(dir, "hot_dog.jpg"), filepath.Join(dir, "owl.jpg"), filepath.Join(dir, "parrot.jpg"),
		filepath.Join(data, "bus/Image_93.jpeg")}
	bundleDir := filepath.Join(t.TempDir(), "scratch")
	require.NoError(t, exporttest.ScratchSized(bundleDir, []string{"a", "b"}, 1, 224, 224))
	_, _, worst := pixelDiffs(t, bundleDir, paths, 224, 224)
	require.LessOrEqual(t, worst, 2.0)
}

func TestTFLiteStructure(t *testing.T) {
	scratch, transfer, bb := fixtures(t)
	for _, dir := range []string{scratch, transfer} {
		out := filepath.Join(t.TempDir(), "lite")
		md, err := TFLite(context.Background(), dir, out, Options{Backbone: bb})
		require.NoError(t, err)
		m, err := tflite.Open(filepath.Join(out, TFLiteFile))
		require.NoError(t, err)
		require.Len(t, m.Subgraphs, 1)
		sg := m.Subgraphs[0]
		in, o := sg.Tensors[sg.Inputs[0]], sg.Tensors[sg.Outputs[0]]
		require.Equal(t, tflite.TypeUint8, in.Type)
		require.Equal(t, []int32{1, int32(md.Height), int32(md.Width), 3}, in.Shape)
		require.Equal(t, tflite.TypeFloat32, o.Type)
		require.Equal(t, []int32{1, int32(len(md.Classes))}, o.Shape)
		var ops []string
		for i := range sg.Operators {
			ops = append(ops, m.Op(&sg, &sg.Operators[i]).String())
		}
		t.Logf("%s: %v", filepath.Base(dir), ops)
		require.Contains(t, ops, "CAST")
		require.Contains(t, ops, "FULLY_CONNECTED")
	}
}
