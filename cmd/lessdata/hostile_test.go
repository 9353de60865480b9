package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Findings of a hostile-user pass (issue 10), each reproduced through the command line.

// --out never names the data, a folder inside or above it, the current folder or nothing, and
// --force replaces only a lessdata run.
func TestOutCannotHarmInputs(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 3, "right": 3})
	file := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(file, []byte("keep me"), 0o644))
	docs := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(docs, "letter.txt"), []byte("keep me"), 0o644))
	for name, c := range map[string]struct {
		out  string
		want string
	}{
		"data itself":     {data, "is the input"},
		"inside the data": {filepath.Join(data, "run"), "is inside the input"},
		"above the data":  {filepath.Dir(data), "holds the input"},
		"empty":           {"", "no name"},
		"current folder":  {".", "current folder"},
		"a plain file":    {file, "refusing to replace it"},
		"a user's folder": {docs, "not a lessdata run"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, err := run(t, "train", "scratch", "--data", data, "--out", c.out, "--force", "--epochs", "1", "--size", "16", "--no-audit")
			require.ErrorContains(t, err, c.want)
			require.NotContains(t, stderr, "epoch 1/1", "refused before any work")
		})
	}
	for _, p := range []string{filepath.Join(data, "train", "left", "lefta.png"), file, filepath.Join(docs, "letter.txt")} {
		require.FileExists(t, p, "nothing was deleted")
	}
}

// Bad options are refused before the first epoch of the first method, naming the flag.
func TestBadOptionsFailBeforeTraining(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 3, "right": 3})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--backbone", "resnet50"}, "--backbone resnet50"},
		{[]string{"--backbone", filepath.Join(t.TempDir(), "no", "such")}, "does not exist"},
		{[]string{"--head", "mlp", "--dropout", "1"}, "--dropout 1"},
		{[]string{"--head", "mlp", "--lr", "-1"}, "--lr -1"},
		{[]string{"--head", "mlp", "--lr", "1e10"}, "--lr 1e+10"},
		{[]string{"--lr", "0.1"}, "--lr applies to the mlp head"},
		{[]string{"--transfer-augment", "heavy"}, `--transfer-augment "heavy"`},
		{[]string{"--transfer-views", "0"}, "--transfer-views 0"},
		{[]string{"--transfer-views", "-1"}, "--transfer-views -1"},
		{[]string{"--jobs", "0", "--folds", "2"}, "--jobs 0"},
		{[]string{"--jobs", "-1", "--repeats", "2"}, "--jobs -1"},
		{[]string{"--scratch-size", "4096"}, "--scratch-size 4096"},
		{[]string{"--folds", "100"}, `class "left" has 6 images, fewer than the 100 folds`},
	} {
		args := append([]string{"compare", "--data", data, "--out", filepath.Join(t.TempDir(), "c"), "--epochs", "2", "--no-audit",
			"--cache-dir", testCache, "--mirror", t.TempDir()}, c.args...)
		_, stderr, err := run(t, args...)
		require.ErrorContains(t, err, c.want, strings.Join(c.args, " "))
		require.NotContains(t, stderr, "epoch 1/", "%v: refused before training", c.args)
	}
}

// Sizes larger than a class holds are refused, naming the class.
func TestCurveRefusesSizesLargerThanTheClasses(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 4, "right": 4})
	_, _, err := run(t, withTiny(t, "curve", "--data", data, "--out", filepath.Join(t.TempDir(), "c"), "--sizes", "2,1000", "--no-audit")...)
	require.ErrorContains(t, err, `--sizes: class "left" has 4 training images, fewer than the size 1000`)
}

// One repeat has no interval: "n/a", never [x, x].
func TestOneRepeatShowsNoInterval(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 4, "right": 4})
	out := filepath.Join(t.TempDir(), "c")
	stdout, stderr, err := run(t, withTiny(t, "curve", "--data", data, "--out", out, "--sizes", "2,all", "--repeats", "1", "--epochs", "1",
		"--batch", "4", "--scratch-size", "16", "--transfer-views", "1", "--jobs", "1", "--no-audit")...)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "(n/a, 1 value)")
	require.NotRegexp(t, `\[(\d\.\d{3}), (\d\.\d{3})\]`, stdout)
}

// --patience and --keep-best act in every grid cell as in single runs.
func TestGridsStopEarly(t *testing.T) {
	data := writeDataset(t, map[string]int{"left": 5, "right": 5})
	const epochs = 40
	for _, args := range [][]string{
		{"curve", "--sizes", "all", "--repeats", "1"},
		{"compare", "--folds", "2"},
	} {
		out := filepath.Join(t.TempDir(), "g")
		// A learning rate this high makes the validation loss jump about: early stopping acts.
		all := withTiny(t, append(args, "--data", data, "--out", out, "--epochs", "40", "--patience", "1", "--keep-best", "--batch", "4",
			"--methods", "transfer", "--head", "mlp", "--lr", "0.5", "--transfer-views", "1", "--jobs", "1", "--no-audit")...)
		_, stderr, err := run(t, all...)
		require.NoError(t, err, stderr)
		cells, err := filepath.Glob(filepath.Join(out, "cells", "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, cells)
		for _, c := range cells {
			b, err := os.ReadFile(c)
			require.NoError(t, err)
			require.Regexp(t, `"epochs":([1-9]|[1-3][0-9]),`, string(b), "%s stopped before --epochs %d", c, epochs)
		}
	}
}

// Ctrl-C during training keeps the best model so far and exits with status 130, like every
// command that stops on an interrupt.
func TestInterruptExitStatusAndKeptModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	data := writeDataset(t, map[string]int{"left": 6, "right": 6})
	out := filepath.Join(t.TempDir(), "r")
	cmd := exec.Command(os.Args[0], "train", "scratch", "--data", data, "--out", out, "--epochs", "10000", "--size", "16", "--no-audit")
	cmd.Env = append(os.Environ(), "LESSDATA_TEST_SUBPROCESS=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(5*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if strings.Contains(sc.Text(), "epoch 2/10000") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exits with a status: %v", err)
	require.Equal(t, exitInterrupted, exit.ExitCode())
	require.FileExists(t, filepath.Join(out, "bundle.json"), "the model so far is kept")
}
