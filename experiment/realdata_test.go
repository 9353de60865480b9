package experiment

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/internal/shared"
)

// writeOrientation writes a dataset whose class is the orientation of real photos: "upright"
// (as taken) or "upside_down" (flipped vertically), each photo used once. The article's
// augmentation flips images vertically, so it destroys exactly the signal of the label.
func writeOrientation(t *testing.T, photos string, perClass, val int) string {
	t.Helper()
	var paths []string
	for _, c := range []string{"bus", "car"} {
		ps, err := filepath.Glob(filepath.Join(photos, "train", c, "*.jp*g"))
		require.NoError(t, err)
		paths = append(paths, ps...)
	}
	need := 2 * (perClass + val)
	require.GreaterOrEqual(t, len(paths), need)
	root := t.TempDir()
	n := 0
	for i, p := range paths {
		if n == need {
			break
		}
		img, err := dataset.LoadImage(p, 160, 160, 0, tfdecode.Decode)
		if err != nil {
			continue
		}
		class, split := "upright", "train"
		if n%2 == 1 {
			class = "upside_down"
		}
		if n >= 2*perClass {
			split = "validation"
		}
		out := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
		for y := 0; y < img.H; y++ {
			sy := y
			if class == "upside_down" {
				sy = img.H - 1 - y
			}
			for x := 0; x < img.W; x++ {
				q := img.Pix[(sy*img.W+x)*3:]
				o := out.PixOffset(x, y)
				out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = uint8(q[0]), uint8(q[1]), uint8(q[2]), 255
			}
		}
		dir := filepath.Join(root, split, class)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, out))
		require.NoError(t, f.Close())
		n++
	}
	return root
}

// A planted dataset where augmentation destroys the label (upright vs upside down, which the
// article's vertical flips erase): auto rejects the harmful augmentation on the training data
// and scores clearly above the article's.
func TestAutoRejectsAugmentationThatDestroysTheLabel(t *testing.T) {
	mirror := shared.Need(t, "backbones")
	photos := shared.Need(t, "datasets/car_vs_bus")
	data := writeOrientation(t, photos, 40, 20)
	env := Env{Fetch: backbone.FetchOptions{Mirror: mirror, CacheDir: t.TempDir()}}
	run := func(aug string) *Outcome {
		s := DefaultSpec(Transfer)
		s.Data.Dir, s.Data.NoAudit = data, true
		s.Transfer.Backbone, s.Transfer.Augment = "mobilenet_v1_025", aug
		o, err := Train(context.Background(), s, Transfer, env, Output{Dir: filepath.Join(t.TempDir(), aug)})
		require.NoError(t, err)
		t.Cleanup(o.Close)
		return o
	}
	auto, article := run(AugmentAuto), run(string(finetune.AugmentArticle))
	t.Logf("auto chose %s: accuracy %.3f; article: %.3f", auto.Linear.Augment, auto.Metrics.Accuracy, article.Metrics.Accuracy)
	for _, c := range auto.Linear.Choices {
		t.Logf("  inner CV %s: log-loss %.4f accuracy %.3f", c.Augment, c.Score().LogLoss, c.Score().Accuracy)
	}
	require.NotEqual(t, finetune.AugmentArticle, auto.Linear.Augment)
	require.GreaterOrEqual(t, auto.Metrics.Accuracy, article.Metrics.Accuracy+0.1)
}

// The same spec and seed give the same numbers, bit for bit.
func TestLinearTransferRepeatsBitForBit(t *testing.T) {
	spec, env := tinySpec(t, Transfer)
	var probs [][][]float32
	for i := 0; i < 2; i++ {
		o, err := Train(context.Background(), spec, Transfer, env, Output{Dir: filepath.Join(t.TempDir(), "r")})
		require.NoError(t, err)
		probs = append(probs, o.Probs)
		o.Close()
	}
	require.Equal(t, probs[0], probs[1])
}
