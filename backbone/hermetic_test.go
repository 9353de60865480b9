package backbone

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/models"
)

// The tests in this file run on the tiny generated backbone of package backbonetest, without
// ../shared; backbone_test.go runs the same checks on the real converted backbones.

// openTiny writes a tiny backbone with opt, resolves its folder and opens it.
func openTiny(t *testing.T, opt backbonetest.Options) *Backbone {
	t.Helper()
	dir := backbonetest.MustWrite(t, opt)
	got, err := Resolve(context.Background(), dir, FetchOptions{})
	require.NoError(t, err)
	require.Equal(t, dir, got, "a folder resolves to itself")
	b, err := Open(dir, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// patterned returns n different 16x16 images: gradients whose direction and colour vary with i.
func patterned(n int) []*dataset.Image {
	imgs := make([]*dataset.Image, n)
	for i := range imgs {
		img := &dataset.Image{W: 16, H: 16, Pix: make([]float32, 16*16*3)}
		for y := range 16 {
			for x := range 16 {
				for c := range 3 {
					v := 128 + 120*math.Sin(float64(x*(i%5+1)+y*(i%3+1)+c*i)/7)
					img.Pix[(y*16+x)*3+c] = float32(math.Round(v))
				}
			}
		}
		imgs[i] = img
	}
	return imgs
}

func TestTinyOpen(t *testing.T) {
	b := openTiny(t, backbonetest.Options{Name: "tiny_test"})
	require.Equal(t, "tiny_test", b.Spec.Name)
	w, h := b.InputSize()
	require.Equal(t, [2]int{16, 16}, [2]int{w, h})
	require.Equal(t, models.OutputSpec{Key: "features", Size: 8}, b.Spec.Features)
	require.True(t, b.HasLogits())
	require.Equal(t, backbonetest.Labels(5), b.Labels)
	require.Len(t, b.Digest(), 64)

	again, err := Open(b.Dir, Options{})
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, b.Digest(), again.Digest(), "the digest is the folder's content")
}

func TestTinyWithoutLogits(t *testing.T) {
	b := openTiny(t, backbonetest.Options{NoLogits: true, Features: 5})
	require.False(t, b.HasLogits())
	require.Nil(t, b.Labels)
	_, err := b.Run(context.Background(), patterned(1), true)
	require.ErrorContains(t, err, "has no logits")
	f, err := b.Features(context.Background(), patterned(2))
	require.NoError(t, err)
	require.Len(t, f, 2)
	require.Len(t, f[0], 5)
}

func TestTinyFeaturesDeterministicAndBatchIndependent(t *testing.T) {
	b := openTiny(t, backbonetest.Options{})
	imgs := patterned(DefaultBatch + 3)
	ctx := context.Background()
	first, err := b.Run(ctx, imgs, true)
	require.NoError(t, err)
	require.Len(t, first.Features, len(imgs))
	require.Len(t, first.Logits, len(imgs))
	second, err := b.Run(ctx, imgs, true)
	require.NoError(t, err)
	require.Equal(t, first, second, "the same images give the same outputs, bit for bit")

	// Each image alone gives what it gave inside a batch of DefaultBatch.
	for i, img := range imgs {
		one, err := b.Run(ctx, []*dataset.Image{img}, true)
		require.NoError(t, err)
		require.InDeltaSlice(t, first.Features[i], one.Features[0], 1e-6, "image %d", i)
		require.InDeltaSlice(t, first.Logits[i], one.Logits[0], 1e-6, "image %d", i)
	}

	// Different images give clearly different features.
	for i := 1; i < len(imgs); i++ {
		var d float64
		for j, v := range first.Features[i] {
			d += math.Abs(float64(v - first.Features[i-1][j]))
		}
		require.Greater(t, d, 0.05, "images %d and %d", i-1, i)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.Run(cancelled, imgs, false)
	require.ErrorIs(t, err, context.Canceled)
}

func TestTinyTopK(t *testing.T) {
	b := openTiny(t, backbonetest.Options{})
	res, err := b.Run(context.Background(), patterned(4), true)
	require.NoError(t, err)
	for _, logits := range res.Logits {
		require.Len(t, logits, 5)
		probs := Softmax(logits)
		top := b.TopK(logits, 3)
		require.Len(t, top, 3)
		for i, p := range top {
			require.Equal(t, b.Labels[p.Index], p.Label)
			require.InDelta(t, probs[p.Index], p.Prob, 1e-12)
			if i > 0 {
				require.GreaterOrEqual(t, top[i-1].Prob, p.Prob)
			}
		}
		for j, v := range logits {
			require.LessOrEqual(t, v, logits[top[0].Index], "the top class has the largest logit (class %d)", j)
		}
		all := b.TopK(logits, 10)
		require.Len(t, all, 5, "k is capped at the number of classes")
		var sum float64
		for _, p := range all {
			sum += p.Prob
		}
		require.InDelta(t, 1, sum, 1e-9)
	}
}

func TestTinyNormalize(t *testing.T) {
	b := openTiny(t, backbonetest.Options{})
	img := &dataset.Image{W: 16, H: 16, Pix: make([]float32, 16*16*3)}
	img.Pix[0], img.Pix[1], img.Pix[2] = 0, 128, 255
	dst := make([]float32, len(img.Pix))
	require.NoError(t, b.Normalize(dst, img))
	require.Equal(t, []float32{-1, 0, 127.0 / 128}, dst[:3])

	b.Spec.Input.ColorOrder = "BGR"
	require.NoError(t, b.Normalize(dst, img))
	require.Equal(t, []float32{127.0 / 128, 0, -1}, dst[:3])

	require.ErrorContains(t, b.Normalize(dst, &dataset.Image{W: 8, H: 8, Pix: make([]float32, 8*8*3)}), "takes 16x16")
	_, err := b.Run(context.Background(), []*dataset.Image{{W: 3, H: 3, Pix: make([]float32, 27)}}, false)
	require.ErrorContains(t, err, "image 0")
}

func TestTinyOpenRefusesBadFolders(t *testing.T) {
	good := backbonetest.MustWrite(t, backbonetest.Options{})

	_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{})
	require.ErrorContains(t, err, "no such file")
	file := filepath.Join(t.TempDir(), "model.tflite")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err = Open(file, Options{})
	require.ErrorContains(t, err, "not a folder")

	cases := map[string]struct {
		edit func(*models.Spec)
		want string
	}{
		"feature size":  {func(s *models.Spec) { s.Features.Size = 9 }, `features output "features" is float32 [-1 8], the spec says float32 [-1 9]`},
		"input size":    {func(s *models.Spec) { s.Input.Height = 224 }, "the spec says float32 [-1 224 16 3]"},
		"input key":     {func(s *models.Spec) { s.Input.Key = "pixels" }, `no input "pixels" (inputs: images)`},
		"features key":  {func(s *models.Spec) { s.Features.Key = "embedding" }, `no features output "embedding" (outputs: features, logits)`},
		"signature":     {func(s *models.Spec) { s.Signature = "predict" }, `no signature "predict"`},
		"logits key":    {func(s *models.Spec) { s.Logits.Key = "scores" }, `no logits output "scores"`},
		"logits size":   {func(s *models.Spec) { s.Logits.Size = 1000 }, "the spec says float32 [-1 1000]"},
		"newer format":  {func(s *models.Spec) { s.FormatVersion = 7 }, "upgrade lessdata"},
		"zero std":      {func(s *models.Spec) { s.Input.Std[1] = 0 }, "std[1] is 0"},
		"colour order":  {func(s *models.Spec) { s.Input.ColorOrder = "YUV" }, "not RGB or BGR"},
		"resize":        {func(s *models.Spec) { s.Input.Resize = "nearest" }, `resize "nearest" is not supported`},
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

	// A damaged folder is refused with an error that names it.
	damage := map[string]struct {
		damage func(t *testing.T, dir string)
		want   []string // besides the folder
	}{
		"missing spec": {func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, models.SpecFile))) },
			[]string{"has no " + models.SpecFile}},
		"missing SavedModel": {func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, "saved_model.pb"))) },
			[]string{"saved_model.pb"}},
		"corrupt SavedModel": {func(t *testing.T, dir string) {
			pb := filepath.Join(dir, "saved_model.pb")
			data, err := os.ReadFile(pb)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(pb, data[:len(data)/3], 0o644))
		}, nil},
	}
	for name, tc := range damage {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, good)
			tc.damage(t, dir)
			_, err := Open(dir, Options{})
			require.ErrorContains(t, err, dir)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	t.Run("too few labels", func(t *testing.T) {
		dir := copyDir(t, good)
		require.NoError(t, os.WriteFile(filepath.Join(dir, backbonetest.LabelsFile), []byte("a\nb\nc\nd\n"), 0o644))
		_, err := Open(dir, Options{})
		require.ErrorContains(t, err, backbonetest.LabelsFile+" has 4 labels but the logits have 5 classes")
	})
}
