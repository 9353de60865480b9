package backbone

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/models"
)

// mirror returns ../shared/backbones, which has the manifest's mirror layout.
func mirror(t testing.TB) string { return shared.Need(t, "backbones") }

// testCache is a cache folder shared by the tests of one run of this package.
var testCache string

func TestMain(m *testing.M) {
	shared.RunWithTempDir(m, "lessdata-backbone-test-", &testCache)
}

// fetched converts a named backbone from the shared mirror into the run's cache.
func fetched(t testing.TB, name string) string {
	t.Helper()
	dir, err := Fetch(context.Background(), name, FetchOptions{CacheDir: testCache, Mirror: mirror(t)})
	require.NoError(t, err)
	return dir
}

// checkImages are the ImageNet check images in ../shared/images/coral and their labels.
var checkImages = map[string]string{"cat.bmp": "Egyptian cat", "grace_hopper.bmp": "military uniform",
	"bird.bmp": "chickadee", "parrot.jpg": "macaw"}

// TestClassifyCheckImages is `backbones classify` on the check images for every zoo entry.
func TestClassifyCheckImages(t *testing.T) {
	entries, err := models.Manifest()
	require.NoError(t, err)
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			dir := fetched(t, e.Name)
			b, err := Open(dir, Options{})
			require.NoError(t, err)
			defer b.Close()
			require.Equal(t, e.Input, b.Spec.Input.Height)
			require.Equal(t, e.Features, b.Spec.Features.Size)
			require.InEpsilon(t, e.SizeMB, fileMB(t, filepath.Join(dir, "saved_model.pb")), 0.05, "manifest size_mb")
			w, h := b.InputSize()
			for _, file := range []string{"cat.bmp", "grace_hopper.bmp", "bird.bmp", "parrot.jpg"} {
				img, err := dataset.LoadImage(filepath.Join(shared.Need(t, "images/coral"), file), w, h, 0, nil)
				require.NoError(t, err)
				res, err := b.Run(context.Background(), []*dataset.Image{img}, true)
				require.NoError(t, err)
				top := b.TopK(res.Logits[0], 3)
				t.Logf("%s %s: %s %.3f (then %s %.3f)", e.Name, file, top[0].Label, top[0].Prob, top[1].Label, top[1].Prob)
				if e.Name == "mobilenet_v1_025" && file == "grace_hopper.bmp" {
					continue // the smallest MobileNet says academic gown (PROVENANCE.md)
				}
				require.Equal(t, checkImages[file], top[0].Label, file)
				if e.Name == "mobilenet_v2" && file == "cat.bmp" {
					require.InDelta(t, 0.783, top[0].Prob, 0.0005, "MobileNetV2's numbers stay as they were")
				}
			}
		})
	}
}

func fileMB(t *testing.T, path string) float64 {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return float64(st.Size()) / 1e6
}

// copyDir copies a backbone folder so a test can damage the copy.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

func editSpec(t *testing.T, dir string, edit func(*models.Spec)) {
	t.Helper()
	spec, err := models.ReadSpec(dir)
	require.NoError(t, err)
	edit(spec)
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, models.SpecFile), b, 0o644))
}

func TestOpenRefusesBadFolders(t *testing.T) {
	good := fetched(t, "mobilenet_v1_025")

	_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{})
	require.ErrorContains(t, err, "no such file")

	file := filepath.Join(t.TempDir(), "model.tflite")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err = Open(file, Options{})
	require.ErrorContains(t, err, "not a folder")

	_, err = Open(t.TempDir(), Options{})
	require.ErrorContains(t, err, "has no "+models.SpecFile)

	cases := map[string]struct {
		edit func(*models.Spec)
		want string
	}{
		"feature size":  {func(s *models.Spec) { s.Features.Size = 999 }, "features output"},
		"input size":    {func(s *models.Spec) { s.Input.Height = 224 }, "the spec says float32 [-1 224 128 3]"},
		"input key":     {func(s *models.Spec) { s.Input.Key = "pixels" }, `no input "pixels" (inputs: images)`},
		"signature":     {func(s *models.Spec) { s.Signature = "predict" }, `no signature "predict"`},
		"logits key":    {func(s *models.Spec) { s.Logits.Key = "scores" }, `no logits output "scores"`},
		"newer format":  {func(s *models.Spec) { s.FormatVersion = 7 }, "upgrade lessdata"},
		"zero std":      {func(s *models.Spec) { s.Input.Std[1] = 0 }, "std[1] is 0"},
		"label count":   {func(s *models.Spec) { s.Logits.Size = 1000 }, "logits output"},
		"colour order":  {func(s *models.Spec) { s.Input.ColorOrder = "YUV" }, "not RGB or BGR"},
		"missing label": {func(s *models.Spec) { s.Labels = "gone.txt" }, "gone.txt"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, good)
			editSpec(t, dir, tc.edit)
			_, err := Open(dir, Options{})
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("corrupt SavedModel", func(t *testing.T) {
		dir := copyDir(t, good)
		pb := filepath.Join(dir, "saved_model.pb")
		data, err := os.ReadFile(pb)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(pb, data[:len(data)/3], 0o644))
		_, err = Open(dir, Options{})
		require.Error(t, err)
	})
}

func TestNormalize(t *testing.T) {
	dir := fetched(t, "mobilenet_v1_025")
	b, err := Open(dir, Options{})
	require.NoError(t, err)
	defer b.Close()
	img := &dataset.Image{W: 128, H: 128, Pix: make([]float32, 128*128*3)}
	img.Pix[0], img.Pix[1], img.Pix[2] = 0, 128, 255
	dst := make([]float32, len(img.Pix))
	require.NoError(t, b.Normalize(dst, img))
	require.Equal(t, []float32{-1, 0, 127.0 / 128}, dst[:3])

	b.Spec.Input.ColorOrder = "BGR"
	require.NoError(t, b.Normalize(dst, img))
	require.Equal(t, []float32{127.0 / 128, 0, -1}, dst[:3])

	require.ErrorContains(t, b.Normalize(dst, &dataset.Image{W: 64, H: 64, Pix: make([]float32, 64*64*3)}), "takes 128x128")
	_, err = b.Run(context.Background(), []*dataset.Image{{W: 3, H: 3, Pix: make([]float32, 27)}}, false)
	require.ErrorContains(t, err, "image 0")
}

func TestRunBatchesAndCancels(t *testing.T) {
	dir := fetched(t, "mobilenet_v1_025")
	b, err := Open(dir, Options{})
	require.NoError(t, err)
	defer b.Close()
	imgs := make([]*dataset.Image, DefaultBatch+3)
	for i := range imgs {
		img := &dataset.Image{W: 128, H: 128, Pix: make([]float32, 128*128*3)}
		for j := range img.Pix {
			img.Pix[j] = float32((i*7 + j) % 256)
		}
		imgs[i] = img
	}
	res, err := b.Run(context.Background(), imgs, false)
	require.NoError(t, err)
	require.Len(t, res.Features, len(imgs))
	require.Nil(t, res.Logits)
	// The same image alone gives the same features as inside a batch.
	one, err := b.Run(context.Background(), imgs[DefaultBatch+1:DefaultBatch+2], false)
	require.NoError(t, err)
	require.InDeltaSlice(t, res.Features[DefaultBatch+1], one.Features[0], 1e-4)
	require.NotEqual(t, res.Features[0], res.Features[1])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Run(ctx, imgs, false)
	require.ErrorIs(t, err, context.Canceled)
}
