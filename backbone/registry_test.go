package backbone

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/models"
)

// countingServer serves the shared backbones folder over HTTP and counts requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	fs := http.FileServer(http.Dir(mirror(t)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestFetchFromHTTPMirror(t *testing.T) {
	srv, hits := countingServer(t)
	cache := t.TempDir()
	var progress bytes.Buffer
	var totals []int64
	opt := FetchOptions{CacheDir: cache, Mirror: srv.URL, Progress: func(total int64, desc string) io.Writer {
		totals = append(totals, total)
		return &progress
	}}
	dir, err := Fetch(context.Background(), "mobilenet_v1_025", opt)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "backbones", "mobilenet_v1_025"), dir)
	require.Equal(t, int32(2), hits.Load(), "model and labels")
	require.Equal(t, []int64{525598, 21686}, totals)
	require.Equal(t, 525598+21686, progress.Len(), "every byte reported to the progress bar")

	spec, err := models.ReadSpec(dir)
	require.NoError(t, err)
	require.Equal(t, "cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785", spec.Source.SHA256)
	require.Equal(t, 128, spec.Input.Height)
	require.Equal(t, 256, spec.Features.Size)
	require.Equal(t, "labels.txt", spec.Labels)

	// Cached: no request the second time; Force downloads and converts again.
	_, err = Fetch(context.Background(), "mobilenet_v1_025", opt)
	require.NoError(t, err)
	require.Equal(t, int32(2), hits.Load())
	opt.Force = true
	_, err = Fetch(context.Background(), "mobilenet_v1_025", opt)
	require.NoError(t, err)
	require.Equal(t, int32(4), hits.Load(), "--force downloads again")

	b, err := Open(dir, Options{})
	require.NoError(t, err)
	defer b.Close()
	require.Len(t, b.Labels, 1001)
}

// fakeTransport answers requests for the public URLs from the shared folder, so the default
// (no mirror) path is tested without contacting any host.
type fakeTransport struct {
	urls []string
	fail error
}

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.urls = append(f.urls, r.URL.String())
	if f.fail != nil {
		return nil, f.fail
	}
	entries, _ := models.Manifest()
	for _, e := range entries {
		for _, file := range []*models.File{&e.Model, e.Labels} {
			if file != nil && file.URL == r.URL.String() {
				data, err := os.ReadFile(filepath.Join(sharedBackbones, mirrorDir(e, *file), file.File))
				if err != nil {
					return nil, err
				}
				return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(data)),
					ContentLength: int64(len(data)), Request: r}, nil
			}
		}
	}
	return &http.Response{StatusCode: 404, Status: "404 Not Found", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

var sharedBackbones string

func TestFetchUsesPinnedPublicURLs(t *testing.T) {
	sharedBackbones = mirror(t)
	t.Setenv(MirrorEnv, "")
	ft := &fakeTransport{}
	dir, err := Fetch(context.Background(), "mobilenet_v1_025", FetchOptions{CacheDir: t.TempDir(), Client: &http.Client{Transport: ft}})
	require.NoError(t, err)
	require.DirExists(t, dir)
	require.Equal(t, []string{
		"https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41/mobilenet_v1_0.25_128_quant.tflite",
		"https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41/imagenet_labels.txt",
	}, ft.urls)
}

func TestFetchOfflineSaysWhatToDo(t *testing.T) {
	t.Setenv(MirrorEnv, "")
	ft := &fakeTransport{fail: errors.New("dial tcp: lookup raw.githubusercontent.com: no such host")}
	_, err := Fetch(context.Background(), "mobilenet_v2", FetchOptions{CacheDir: t.TempDir(), Client: &http.Client{Transport: ft}})
	require.ErrorContains(t, err, "no such host")
	require.ErrorContains(t, err, "--mirror DIR")
	require.ErrorContains(t, err, "coral_mobilenet_v2_1.0_224_quant/mobilenet_v2_1.0_224_quant.tflite")
}

func TestFetchRejectsWrongChecksum(t *testing.T) {
	m := t.TempDir()
	d := filepath.Join(m, "coral_mobilenet_v1_0.25_128_quant")
	require.NoError(t, os.MkdirAll(d, 0o755))
	data, err := os.ReadFile(filepath.Join(mirror(t), "coral_mobilenet_v1_0.25_128_quant", "mobilenet_v1_0.25_128_quant.tflite"))
	require.NoError(t, err)
	data[1000] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(d, "mobilenet_v1_0.25_128_quant.tflite"), data, 0o644))
	cache := t.TempDir()
	_, err = Fetch(context.Background(), "mobilenet_v1_025", FetchOptions{CacheDir: cache, Mirror: m})
	require.ErrorContains(t, err, "sha256")
	require.NoDirExists(t, filepath.Join(cache, "backbones", "mobilenet_v1_025"))
	left, _ := filepath.Glob(filepath.Join(cache, "downloads", "*"))
	require.Empty(t, left, "a corrupt download is not kept")
}

func TestFetchErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := Fetch(context.Background(), "mobilenet_v1_025", FetchOptions{CacheDir: t.TempDir(), Mirror: srv.URL})
	require.ErrorContains(t, err, "404")

	_, err = Fetch(context.Background(), "no_such_net", FetchOptions{CacheDir: t.TempDir()})
	require.ErrorContains(t, err, "known: efficientnet_lite0, efficientnet_lite2, mobilenet_v1_025, mobilenet_v2, mobilenet_v2_tf2")

	_, err = Fetch(context.Background(), "mobilenet_v1_025", FetchOptions{CacheDir: t.TempDir(), Mirror: filepath.Join(t.TempDir(), "absent")})
	require.ErrorContains(t, err, "neither a folder nor an http(s) URL")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv2, _ := countingServer(t)
	_, err = Fetch(ctx, "mobilenet_v1_025", FetchOptions{CacheDir: t.TempDir(), Mirror: srv2.URL})
	require.ErrorIs(t, err, context.Canceled)
}

func TestResolve(t *testing.T) {
	d := t.TempDir()
	got, err := Resolve(context.Background(), d, FetchOptions{})
	require.NoError(t, err)
	require.Equal(t, d, got)
	_, err = Resolve(context.Background(), filepath.Join(d, "missing"), FetchOptions{})
	require.ErrorContains(t, err, "does not exist")
	_, err = Resolve(context.Background(), "resnet9000", FetchOptions{CacheDir: d})
	require.ErrorContains(t, err, "unknown backbone")
}
