package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/internal/browsertest"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/report"
)

// trainedRun trains a tiny model of the given kind on a synthetic dataset and returns the run
// folder and the data folder.
func trainedRun(t *testing.T, kind string) (string, string) {
	t.Helper()
	data := writeDataset(t, map[string]int{"left": 6, "right": 6})
	out := filepath.Join(t.TempDir(), kind)
	args := []string{"train", kind, "--data", data, "--out", out, "--epochs", "3", "--batch", "4"}
	if kind == "scratch" {
		args = append(args, "--size", "24")
	} else {
		args = withTiny(t, append(args, "--views", "2")...)
	}
	_, stderr, err := run(t, args...)
	require.NoError(t, err, stderr)
	return out, data
}

// modelArgs adds, for a transfer model, the tiny backbone it was trained on.
func modelArgs(t *testing.T, kind string, args ...string) []string {
	if kind == "transfer" {
		return withTiny(t, args...)
	}
	return args
}

// predict's labels on a folder agree with eval's metrics on the same folder.
func TestPredictAgreesWithEval(t *testing.T) {
	for _, kind := range []string{"scratch", "transfer"} {
		t.Run(kind, func(t *testing.T) {
			model, data := trainedRun(t, kind)
			val := filepath.Join(data, "validation")
			out, stderr, err := run(t, modelArgs(t, kind, "predict", "--model", model, val, "--format", "json")...)
			require.NoError(t, err, stderr)
			var rows []struct {
				Path          string             `json:"path"`
				Class         string             `json:"class"`
				Probabilities map[string]float32 `json:"probabilities"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &rows))
			require.Len(t, rows, 12)
			correct := 0
			for _, r := range rows {
				truth := filepath.Base(filepath.Dir(r.Path))
				if r.Class == truth {
					correct++
				}
				require.InDelta(t, 1, r.Probabilities["left"]+r.Probabilities["right"], 1e-5)
			}
			out, stderr, err = run(t, modelArgs(t, kind, "eval", "--model", model, "--data", data, "--json")...)
			require.NoError(t, err, stderr)
			var m report.Metrics
			require.NoError(t, json.Unmarshal([]byte(out), &m))
			require.Equal(t, 12, m.N)
			require.Equal(t, correct, m.Correct, "eval counts what predict labels")
		})
	}
}

func TestPredictReportsBadImagesAndGoesOn(t *testing.T) {
	model, data := trainedRun(t, "scratch")
	bad := filepath.Join(t.TempDir(), "broken.png")
	require.NoError(t, os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\n garbage"), 0o644))
	good := filepath.Join(data, "validation", "left", "lefta.png")
	out, _, err := run(t, "predict", "--model", model, bad, good)
	require.ErrorContains(t, err, "1 of 2 images could not be read")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[1], "broken.png")
	require.Contains(t, lines[1], "error")
	require.Contains(t, lines[2], "lefta.png")

	out, _, _ = run(t, "predict", "--model", model, bad, good, "--format", "csv")
	require.Contains(t, out, "path,class,probability,p_left,p_right,error")
	_, _, err = run(t, "predict", "--model", model, good, "--format", "xml")
	require.ErrorContains(t, err, "--format")
	_, _, err = run(t, "predict", "--model", model, good, "--explain", t.TempDir())
	require.ErrorContains(t, err, "Grad-CAM needs a transfer or fine-tuned model")
}

func TestModelBundleRefusals(t *testing.T) {
	model, data := trainedRun(t, "transfer")
	good := filepath.Join(data, "validation", "left", "lefta.png")

	// A backbone other than the model's is refused (here: other weights).
	other := backbonetest.MustWrite(t, backbonetest.Options{Seed: 7})
	_, _, err := run(t, "predict", "--model", model, "--backbone", other, good)
	require.ErrorContains(t, err, "is not the one the model was trained with")

	// A backbone whose input size differs from the bundle's is refused.
	b, err := os.ReadFile(filepath.Join(model, "bundle.json"))
	require.NoError(t, err)
	resized := strings.Replace(strings.Replace(string(b), `"width": 16`, `"width": 24`, 1), `"height": 16`, `"height": 24`, 1)
	require.NotEqual(t, string(b), resized)
	require.NoError(t, os.WriteFile(filepath.Join(model, "bundle.json"), []byte(resized), 0o644))
	_, _, err = run(t, modelArgs(t, "transfer", "predict", "--model", model, good)...)
	require.ErrorContains(t, err, "takes 16x16 images, the model was trained on 24x24")

	// A bundle from a newer lessdata is refused with a clear message.
	newer := strings.Replace(string(b), `"format_version": 1`, `"format_version": 99`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(model, "bundle.json"), []byte(newer), 0o644))
	_, _, err = run(t, modelArgs(t, "transfer", "predict", "--model", model, good)...)
	require.ErrorContains(t, err, "upgrade lessdata")

	_, _, err = run(t, "predict", "--model", t.TempDir(), good)
	require.ErrorContains(t, err, "not a lessdata model")
}

func TestEvalRefusesUnknownClass(t *testing.T) {
	model, _ := trainedRun(t, "scratch")
	other := writeDataset(t, map[string]int{"left": 2, "up": 2})
	_, _, err := run(t, "eval", "--model", model, "--data", other)
	require.ErrorContains(t, err, `class "up", which the model does not know`)
}

func TestClassOnlyInValidationIsRefused(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 3, "right": 3})
	extra := filepath.Join(data, "validation", "middle")
	require.NoError(t, os.MkdirAll(extra, 0o755))
	src, err := os.ReadFile(filepath.Join(data, "validation", "left", "lefta.png"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(extra, "m.png"), src, 0o644))
	_, _, err = run(t, "train", "scratch", "--data", data, "--out", filepath.Join(t.TempDir(), "r"), "--epochs", "1")
	require.ErrorContains(t, err, "middle")
}

func TestCompareWritesReport(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 6, "right": 6})
	out := filepath.Join(t.TempDir(), "cmp")
	stdout, stderr, err := run(t, withTiny(t, "compare", "--data", data, "--out", out, "--epochs", "2", "--batch", "4",
		"--scratch-size", "24", "--transfer-views", "2", "--positive", "left")...)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "report: "+filepath.Join(out, "report.html"))
	for _, f := range []string{"compare.json", "report.md", "report.html", "loss.png", "accuracy.png", "roc.png",
		"confusion_scratch.png", "confusion_transfer.png", "scratch/bundle.json", "transfer/bundle.json", "scratch/history.json",
		"transfer/metrics.json", "predictions.csv", "pr.png", "calibration.png"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	var cmp experiment.Comparison
	b, err := os.ReadFile(filepath.Join(out, "compare.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cmp))
	require.Len(t, cmp.Methods, 2)
	require.Equal(t, "left", cmp.Result(experiment.Transfer).Metrics.Positive)
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| scratch |")
	require.Contains(t, string(md), "| transfer |")
}

// The compare report opens in headless Chromium and every plot renders.
func TestCompareReportRendersInChromium(t *testing.T) {
	browsertest.Require(t)
	data := writeDataset(t, map[string]int{"left": 4, "right": 4})
	out := filepath.Join(t.TempDir(), "cmp")
	_, stderr, err := run(t, withTiny(t, "compare", "--data", data, "--out", out, "--epochs", "2", "--batch", "4",
		"--scratch-size", "24", "--transfer-views", "1")...)
	require.NoError(t, err, stderr)
	shot := browsertest.CheckPage(t, filepath.Join(out, "report.html"))
	require.FileExists(t, shot)
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	require.NoError(t, err)
	// loss, accuracy, ROC, precision-recall, calibration, two confusion matrices, and the
	// thumbnails of the galleries (errors and confident predictions): every one loaded.
	require.Greater(t, browsertest.CheckWellFormed(t, page)["img"], 7)
	require.True(t, strings.Contains(string(page), "<h2>Errors of transfer</h2>"), "the report has an error gallery per method")
}

// The report of a real compare on car_vs_bus (whose 4 train/validation copies the quick audit
// finds) shows the leaks with their thumbnails and the metrics without them, and every image of
// it loads in Chromium.
func TestRealCompareReportShowsLeaks(t *testing.T) {
	data := shared.Need(t, "datasets/car_vs_bus")
	browsertest.Require(t)
	out := filepath.Join(t.TempDir(), "cmp")
	_, stderr, err := run(t, withMirror(t, "compare", "--data", data, "--out", out, "--methods", "transfer", "--backbone", "mobilenet_v1_025")...)
	require.NoError(t, err, stderr)
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	for _, want := range []string{"## Data checks", "4 train/validation leaks", "and on the 54 without a copy in training", "group 1 (validation)"} {
		require.Contains(t, string(md), want)
	}
	browsertest.CheckPage(t, filepath.Join(out, "report.html"))
}
