package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/experiment"
)

func curveArgs(t *testing.T, data, out string) []string {
	return withTiny(t, "curve", "--data", data, "--out", out, "--sizes", "2,all", "--repeats", "2", "--epochs", "2",
		"--batch", "4", "--scratch-size", "24", "--transfer-views", "2", "--jobs", "2")
}

// A rerun after an interruption finishes the grid without redoing finished cells; here the
// interruption is simulated by removing one finished cell, as if it had been cut short.
func TestCurveResumesWithoutRedoingCells(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 5, "right": 5})
	out := filepath.Join(t.TempDir(), "curve")
	stdout, stderr, err := run(t, curveArgs(t, data, out)...)
	require.NoError(t, err, stderr)
	require.Equal(t, 8, strings.Count(stderr, "cell "), "2 methods x 2 sizes x 2 repeats")
	for _, f := range []string{"curve.json", "curve.csv", "cells.csv", "curve_accuracy.png", "curve_auc.png", "config.json"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	require.Regexp(t, `transfer\s+all\s+2/2\s+\d\.\d{3} \[`, stdout)

	cells, err := filepath.Glob(filepath.Join(out, "cells", "*.json"))
	require.NoError(t, err)
	require.Len(t, cells, 8)
	mtimes := map[string]time.Time{}
	for _, c := range cells {
		st, _ := os.Stat(c)
		mtimes[c] = st.ModTime()
	}
	removed := filepath.Join(out, "cells", "scratch-size2-rep1-fold0.json")
	require.NoError(t, os.Remove(removed))

	_, stderr, err = run(t, curveArgs(t, data, out)...)
	require.NoError(t, err, stderr)
	require.Equal(t, 1, strings.Count(stderr, "cell "), "only the missing cell runs: %s", stderr)
	require.Contains(t, stderr, "scratch-size2-rep1-fold0")
	for c, m := range mtimes {
		st, err := os.Stat(c)
		require.NoError(t, err)
		if c != removed {
			require.Equal(t, m, st.ModTime(), "%s was rewritten", c)
		}
	}
	var curve experiment.CurveResult
	b, err := os.ReadFile(filepath.Join(out, "curve.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &curve))
	require.Len(t, curve.Points, 4)
	for _, p := range curve.Points {
		require.Equal(t, 2, p.Accuracy.N, "%s %s has both repeats", p.Method, p.Size)
		if p.Size == "2" {
			require.Equal(t, 4, p.NTrain, "2 images per class")
		}
	}

	// Other options on the same folder are refused rather than mixed in.
	args := curveArgs(t, data, out)
	args[len(args)-1] = "1"
	_, _, err = run(t, append(args, "--epochs", "3")...)
	require.ErrorContains(t, err, "started with other options")
}

func TestCompareFolds(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 5, "right": 5})
	out := filepath.Join(t.TempDir(), "cv")
	stdout, stderr, err := run(t, withTiny(t, "compare", "--data", data, "--out", out, "--folds", "3", "--epochs", "2",
		"--batch", "4", "--scratch-size", "24", "--transfer-views", "2")...)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "3-fold cross-validation x 1")
	require.Contains(t, stdout, "transfer - scratch: accuracy")
	var sum experiment.CVResult
	b, err := os.ReadFile(filepath.Join(out, "cv.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	require.Len(t, sum.Cells, 6)
	require.Equal(t, 3, sum.Differences["transfer - scratch"]["accuracy"].N)
	total := 0
	for _, c := range sum.Cells {
		if c.Method == "scratch" {
			total += c.NVal
			require.Equal(t, 20, c.NTrain+c.NVal, "every image is in training or validation")
		}
	}
	require.Equal(t, 20, total, "each image is validated once")
	for _, f := range []string{"cv.csv", "cv_accuracy.png", "report.html", "report.md"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	_, _, err = run(t, "compare", "--data", data, "--out", filepath.Join(t.TempDir(), "x"), "--folds", "1")
	require.ErrorContains(t, err, "--folds")
}

func TestParseSizes(t *testing.T) {
	s, err := parseSizes("5, 10,all")
	require.NoError(t, err)
	require.Equal(t, []int{5, 10, 0}, s)
	for _, bad := range []string{"10,5", "all,5", "0", "x", "5,5"} {
		_, err := parseSizes(bad)
		require.Error(t, err, bad)
	}
}
