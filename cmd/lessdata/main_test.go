package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/tf"
)

// run executes the root command with args and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd(streams{Out: &out, Err: &errb})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// testCache is shared by this package's tests; the mirror is ../shared/backbones.
var testCache string

func TestMain(m *testing.M) {
	if os.Getenv("LESSDATA_TEST_SUBPROCESS") == "1" {
		main()
		os.Exit(0)
	}
	shared.RunWithTempDir(m, "lessdata-cli-test-", &testCache)
}

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tinyBackbone returns the folder of the tiny generated backbone (backbonetest), written once
// into the tests' cache.
func tinyBackbone(t *testing.T) string {
	t.Helper()
	tinyOnce.Do(func() {
		tinyDir = filepath.Join(testCache, "tiny-backbone")
		_, tinyErr = backbonetest.Write(tinyDir, backbonetest.Options{})
	})
	require.NoError(t, tinyErr)
	return tinyDir
}

// withTiny runs args with the tiny generated backbone and the tests' cache: the transfer path
// without ../shared.
func withTiny(t *testing.T, args ...string) []string {
	return append(args, "--backbone", tinyBackbone(t), "--cache-dir", testCache)
}

func withMirror(t *testing.T, args ...string) []string {
	return append(args, "--mirror", shared.Need(t, "backbones"), "--cache-dir", testCache)
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := run(t, "--version")
	require.NoError(t, err)
	require.Contains(t, out, "lessdata version "+version)
	out, _, err = run(t, "backbones", "--help")
	require.NoError(t, err)
	for _, sub := range []string{"list", "fetch", "inspect", "classify"} {
		require.Contains(t, out, sub)
	}
}

func TestClassifyCheckImages(t *testing.T) {
	imgs := shared.Need(t, "images/coral")
	args := withMirror(t, "backbones", "classify", "mobilenet_v2", "-k", "1")
	for _, f := range []string{"cat.bmp", "grace_hopper.bmp", "bird.bmp", "parrot.jpg"} {
		args = append(args, filepath.Join(imgs, f))
	}
	out, _, err := run(t, args...)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"Egyptian cat", "military uniform", "chickadee", "macaw"} {
		require.True(t, strings.HasSuffix(lines[i], "  "+want), "line %q", lines[i])
	}
}

func TestClassifyReportsBadImagesAndGoesOn(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "notes.jpg")
	require.NoError(t, os.WriteFile(bad, []byte("not an image"), 0o644))
	cat := filepath.Join(shared.Need(t, "images/coral"), "cat.bmp")
	out, errOut, err := run(t, withMirror(t, "backbones", "classify", "mobilenet_v2", "-k", "1", bad, cat)...)
	require.ErrorContains(t, err, "1 of 2 images could not be read")
	require.Contains(t, errOut, bad)
	require.Contains(t, out, "Egyptian cat")

	_, _, err = run(t, withMirror(t, "backbones", "classify", "mobilenet_v2", "-k", "0", cat)...)
	require.ErrorContains(t, err, "--top")
	_, _, err = run(t, "backbones", "classify", "mobilenet_v2")
	require.ErrorContains(t, err, "requires at least 2 arg")
}

func TestFetchListInspect(t *testing.T) {
	out, _, err := run(t, withMirror(t, "backbones", "fetch", "mobilenet_v1_025")...)
	require.NoError(t, err)
	dir := strings.TrimSpace(out)
	require.FileExists(t, filepath.Join(dir, "saved_model.pb"))

	out, _, err = run(t, withMirror(t, "backbones", "list")...)
	require.NoError(t, err)
	require.Regexp(t, `mobilenet_v1_025\s+128x128\s+256\s+.*yes`, out)
	require.Regexp(t, `mobilenet_v2\s+`, out)

	out, _, err = run(t, withMirror(t, "backbones", "inspect", dir)...)
	require.NoError(t, err)
	for _, want := range []string{`signature "serving_default"`, "input images", "[? 128 128 3]", "output features", "[? 256]",
		"output logits", "[? 1001]", "(x - [128 128 128]) / [128 128 128]", "check: the spec matches the SavedModel"} {
		require.Contains(t, out, want)
	}

	_, _, err = run(t, withMirror(t, "backbones", "fetch", "inception_v9")...)
	require.ErrorContains(t, err, "unknown backbone")
	_, _, err = run(t, "backbones", "inspect", filepath.Join(t.TempDir(), "missing", "dir"))
	require.ErrorContains(t, err, "does not exist")
}

// Without the TensorFlow library the command says how to install it, and exits 1 without a crash.
func TestMissingLibraryMessage(t *testing.T) {
	cat := filepath.Join(shared.Need(t, "images/coral"), "cat.bmp")
	cmd := exec.Command(os.Args[0], append([]string{"backbones", "classify"}, withMirror(t, "mobilenet_v1_025", cat)...)...)
	cmd.Env = append(os.Environ(), "LESSDATA_TEST_SUBPROCESS=1", tf.LibraryEnv+"=/nonexistent/libtensorflow.so.2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, stderr.String(), "TensorFlow C library not found")
	require.Contains(t, stderr.String(), "make setup")
}
