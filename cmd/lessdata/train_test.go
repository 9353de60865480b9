package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/finetune"
)

// writeDataset writes a tiny dataset of PNGs. The classes differ in colour (left reddish, right
// bluish, up and middle greenish), which survives flips, rotations and brightness changes; every
// image has its own noise, so no two are copies.
func writeDataset(t *testing.T, perClass map[string]int) string {
	t.Helper()
	root := t.TempDir()
	for _, split := range []string{"train", "validation"} {
		for class, n := range perClass {
			dir := filepath.Join(root, split, class)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for i := 0; i < n; i++ {
				img := image.NewRGBA(image.Rect(0, 0, 32, 32))
				hue := map[string]int{"left": 0, "right": 2, "up": 1, "middle": 1}[class]
				r := rand.New(rand.NewPCG(uint64(i), uint64(len(class)*7+len(split)*131+int(class[0]))))
				for y := 0; y < 32; y++ {
					for x := 0; x < 32; x++ {
						v := uint8(60 + r.IntN(50))
						px := [3]uint8{v, v, v}
						px[hue] += 120
						img.Set(x, y, color.RGBA{px[0], px[1], px[2], 255})
					}
				}
				f, err := os.Create(filepath.Join(dir, class+string(rune('a'+i))+".png"))
				require.NoError(t, err)
				require.NoError(t, png.Encode(f, img))
				require.NoError(t, f.Close())
			}
		}
	}
	return root
}

func TestTrainScratchWritesARun(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 6, "right": 6})
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "scratch", "--data", data, "--out", out, "--epochs", "3", "--batch", "4", "--size", "24"}
	stdout, stderr, err := run(t, args...)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "model: "+out)
	require.Regexp(t, `scratch +accuracy 1\.000`, stdout, "colours are easy to tell apart")
	require.Contains(t, stderr, "scratch epoch 3/3")
	require.Contains(t, stderr, "classes [left right], train [6 6], validation [6 6]")
	for _, f := range []string{"bundle.json", "model/saved_model.pb", "history.json", "history.csv", "loss.png", "accuracy.png"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	m, err := bundle.Read(out)
	require.NoError(t, err)
	require.Equal(t, bundle.KindScratch, m.Kind)
	require.Equal(t, []string{"left", "right"}, m.Classes)
	require.Equal(t, bundle.Size{Width: 24, Height: 24}, m.Input)
	require.True(t, m.Preprocess.Featurewise)
	var info map[string]any
	require.NoError(t, json.Unmarshal(m.Training, &info))
	require.Equal(t, "completed", info["stopped"])
	h, err := finetune.LoadHistory(out)
	require.NoError(t, err)
	require.Len(t, h.Epochs, 3)

	// An existing run is never replaced without --force.
	_, _, err = run(t, args...)
	require.ErrorContains(t, err, "already exists")
	_, _, err = run(t, append(args, "--force", "--epochs", "1")...)
	require.NoError(t, err)
	h, err = finetune.LoadHistory(out)
	require.NoError(t, err)
	require.Len(t, h.Epochs, 1)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".run.partial-*"))
	require.Empty(t, left, "no partial folder is left behind")
}

func TestTrainScratchBadInputs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	single := writeDataset(t, map[string]int{"left": 3})
	cases := map[string]struct {
		args []string
		want string
	}{
		"no data flag":  {[]string{"train", "scratch", "--out", out}, `required flag(s) "data" not set`},
		"missing data":  {[]string{"train", "scratch", "--data", filepath.Join(out, "nope"), "--out", out}, "nope"},
		"single class":  {[]string{"train", "scratch", "--data", single, "--out", out}, "at least 2 classes"},
		"tiny size":     {[]string{"train", "scratch", "--data", single, "--out", out, "--size", "4"}, "--size 4"},
		"zero epochs":   {[]string{"train", "scratch", "--data", single, "--out", out, "--epochs", "0"}, "--epochs"},
		"bad fill mode": {[]string{"augment", "preview", single, "--out", filepath.Join(out, "g.png"), "--fill-mode", "mirror"}, "mirror"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	require.NoDirExists(t, out)
}

func TestTrainScratchEmptyClassFolder(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 3, "right": 3})
	empty := filepath.Join(data, "train", "right")
	entries, _ := os.ReadDir(empty)
	for _, e := range entries {
		require.NoError(t, os.Remove(filepath.Join(empty, e.Name())))
	}
	_, _, err := run(t, "train", "scratch", "--data", data, "--out", filepath.Join(t.TempDir(), "r"))
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "right"), err.Error())
}

func TestAugmentPreview(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 2, "right": 2})
	out := filepath.Join(t.TempDir(), "grid.png")
	stdout, _, err := run(t, "augment", "preview", data, "--out", out, "--rows", "3", "--variants", "2", "--size", "16")
	require.NoError(t, err)
	require.Contains(t, stdout, "3 images x 2 variants")
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	require.Equal(t, 3*16+4*4, cfg.Width, "3 tiles per row with padding")
	require.Equal(t, 3*16+4*4, cfg.Height, "3 rows")

	// An existing file is replaced only with --force; a grid is a PNG; a huge grid is refused.
	_, _, err = run(t, "augment", "preview", data, "--out", out, "--size", "16")
	require.ErrorContains(t, err, "already exists")
	_, _, err = run(t, "augment", "preview", data, "--out", out, "--size", "16", "--force")
	require.NoError(t, err)
	_, _, err = run(t, "augment", "preview", data, "--out", filepath.Join(t.TempDir(), "g.jpg"))
	require.ErrorContains(t, err, "name the file .png")
	_, _, err = run(t, "augment", "preview", data, "--out", filepath.Join(t.TempDir(), "big.png"), "--rows", "1000", "--variants", "1000", "--size", "512")
	require.ErrorContains(t, err, "lower --rows, --variants or --size")
}
