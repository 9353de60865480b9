package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/export/exporttest"
	"github.com/lessdata/lessdata/internal/browsertest"
	"github.com/lessdata/lessdata/predict"
)

var classes = []string{"ant", "bee", "wasp"}

// newServer loads a tiny scratch model and returns a server for it and the model's folder.
func newServer(t *testing.T, opt Options) (*Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run", "scratch")
	require.NoError(t, exporttest.Scratch(dir, classes, 1))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(dir), reportFile), []byte("<html><body>report</body></html>"), 0o644))
	m, err := predict.Open(context.Background(), dir, predict.Options{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return New(ctx, m, opt), dir
}

// pngBytes encodes a w x h image whose colours depend on seed.
func pngBytes(t testing.TB, w, h, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8((i*seed*7 + i/4*13) % 256)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// upload builds a multipart body with the given files.
func upload(t testing.TB, files map[string][]byte, order []string) (string, *bytes.Buffer) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range order {
		fw, err := mw.CreateFormFile(FormField, name)
		require.NoError(t, err)
		fw.Write(files[name])
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), &body
}

func TestPredictAPI(t *testing.T) {
	s, dir := newServer(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()

	files := map[string][]byte{"a.png": pngBytes(t, 40, 30, 1), "b.png": pngBytes(t, 12, 50, 2),
		"c.png": pngBytes(t, 9, 9, 3), "notes.txt": []byte("not an image")}
	order := []string{"a.png", "notes.txt", "b.png", "c.png"}
	ctype, body := upload(t, files, order)
	resp, err := http.Post(ts.URL+"/api/predict", ctype, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rows []predict.Row
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rows))
	require.Len(t, rows, 4)

	// The same files through predict, as `lessdata predict --format json` would see them.
	fdir := t.TempDir()
	var paths []string
	for _, n := range order {
		p := filepath.Join(fdir, n)
		require.NoError(t, os.WriteFile(p, files[n], 0o644))
		paths = append(paths, p)
	}
	m, err := predict.Open(context.Background(), dir, predict.Options{})
	require.NoError(t, err)
	defer m.Close()
	want, err := m.Files(context.Background(), paths, nil)
	require.NoError(t, err)
	errs := 0
	for i, r := range rows {
		require.Equal(t, order[i], r.Path)
		if want[i].Err != nil {
			errs++
			require.NotEmpty(t, r.Error)
			require.NotContains(t, r.Error, os.TempDir(), "the server's temporary names stay hidden")
			require.Empty(t, r.Class)
			continue
		}
		require.Empty(t, r.Error)
		require.Equal(t, want[i].Class, r.Class)
		require.Equal(t, want[i].Probs[want[i].Index], r.Probability)
		for k, c := range classes {
			require.Equal(t, want[i].Probs[k], r.Probabilities[c])
		}
	}
	require.Equal(t, 1, errs)
}

func TestPredictAPILimits(t *testing.T) {
	s, _ := newServer(t, Options{MaxFiles: 2, MaxBytes: 4000})
	ts := httptest.NewServer(s)
	defer ts.Close()
	post := func(files map[string][]byte, order []string) (int, string) {
		ctype, body := upload(t, files, order)
		resp, err := http.Post(ts.URL+"/api/predict", ctype, body)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var e apiError
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		return resp.StatusCode, e.Error
	}
	small := pngBytes(t, 4, 4, 1)
	code, msg := post(map[string][]byte{"a": small, "b": small, "c": small}, []string{"a", "b", "c"})
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, msg, "at most 2 images")
	big := make([]byte, 10000)
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	code, msg = post(map[string][]byte{"big": big}, []string{"big"})
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, msg, "larger than 4000 bytes")
	code, msg = post(map[string][]byte{}, nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, msg, "no images")
}

func TestModelInfoAndReport(t *testing.T) {
	s, _ := newServer(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/model")
	require.NoError(t, err)
	var info Info
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	resp.Body.Close()
	require.Equal(t, classes, info.Classes)
	require.Equal(t, "report", info.Report)
	resp, err = http.Get(ts.URL + "/" + info.Report)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), "report")
}

// TestServeShutsDown checks that Serve stops when its context is cancelled.
func TestServeShutsDown(t *testing.T) {
	s, _ := newServer(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, "127.0.0.1:0", s, func(a string) { addrc <- a }) }()
	addr := <-addrc
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// TestLoad sends 200 concurrent one-image requests to a server on loopback and reports the
// latency percentiles and the process's peak resident memory. It serves the tiny model, or the
// bundle in $LESSDATA_LOAD_MODEL (its backbone found as predict finds it).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	var s *Server
	if dir := os.Getenv("LESSDATA_LOAD_MODEL"); dir != "" {
		m, err := predict.Open(context.Background(), dir, predict.Options{})
		require.NoError(t, err)
		t.Cleanup(m.Close)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		s = New(ctx, m, Options{})
	} else {
		s, _ = newServer(t, Options{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, "127.0.0.1:0", s, func(a string) { addrc <- a }) }()
	url := "http://" + <-addrc + "/api/predict"
	const n = 200
	img := pngBytes(t, 64, 48, 3)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctype, body := upload(t, map[string][]byte{fmt.Sprintf("%d.png", i): img}, []string{fmt.Sprintf("%d.png", i)})
			t0 := time.Now()
			resp, err := client.Post(url, ctype, body)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var rows []predict.Row
			if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil || len(rows) != 1 || rows[0].Class == "" {
				errs[i] = fmt.Errorf("status %d, rows %v, decode error %v", resp.StatusCode, rows, err)
				return
			}
			lat[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	total := time.Since(start)
	for i, err := range errs {
		require.NoErrorf(t, err, "request %d", i)
	}
	slices.Sort(lat)
	t.Logf("%s: %d requests in %v: p50 %v, p95 %v, max %v; peak RSS %s", s.model.Dir, n, total.Round(time.Millisecond),
		lat[n/2].Round(time.Millisecond), lat[n*95/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond), peakRSS())
	client.CloseIdleConnections()
	cancel()
	require.NoError(t, <-errc)
}

// peakRSS reads the process's peak resident set size from /proc (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// TestPageInChromium opens the served page in headless Chromium, uploads an image through the
// file picker and reads the predicted label from the page.
func TestPageInChromium(t *testing.T) {
	browsertest.Require(t)
	s, dir := newServer(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	img := filepath.Join(t.TempDir(), "photo.png")
	require.NoError(t, os.WriteFile(img, pngBytes(t, 80, 60, 4), 0o644))
	m, err := predict.Open(context.Background(), dir, predict.Options{})
	require.NoError(t, err)
	want, err := m.Files(context.Background(), []string{img}, nil)
	m.Close()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browsertest.ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("files")),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{img}),
		chromedp.WaitVisible(chromedp.CSS(".result .label")),
	))
	label, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".result .label")))
	require.NoError(t, err)
	info, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("info")))
	require.NoError(t, err)
	require.Equal(t, want[0].Class, label)
	require.Contains(t, info, "report")
}

// With ?explain=1 a model with a backbone returns each image's Grad-CAM overlay; a scratch
// model refuses with a JSON error.
func TestExplainOverlays(t *testing.T) {
	data := t.TempDir()
	require.NoError(t, backbonetest.WriteDataset(data, backbonetest.DatasetOptions{Classes: []string{"a", "b"}, Train: 5, Validation: 3, Seed: 1}))
	spec := experiment.DefaultSpec(experiment.Transfer)
	spec.Data.Dir, spec.Data.NoAudit = data, true
	spec.Transfer.Backbone = backbonetest.MustWrite(t, backbonetest.Options{})
	dir := filepath.Join(t.TempDir(), "transfer")
	o, err := experiment.Train(context.Background(), spec, experiment.Transfer, experiment.Env{Fetch: backbone.FetchOptions{CacheDir: t.TempDir()}},
		experiment.Output{Dir: dir})
	require.NoError(t, err)
	o.Close()
	m, err := predict.Open(context.Background(), dir, predict.Options{Backbone: spec.Transfer.Backbone})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ts := httptest.NewServer(New(ctx, m, Options{}))
	t.Cleanup(ts.Close)
	ctype, body := upload(t, map[string][]byte{"a.png": pngBytes(t, 40, 30, 3), "notes.txt": []byte("not an image")}, []string{"a.png", "notes.txt"})
	resp, err := http.Post(ts.URL+"/api/predict?explain=1", ctype, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var rows []predict.Row
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rows))
	require.Len(t, rows, 2)
	require.True(t, strings.HasPrefix(rows[0].Overlay, "data:image/png;base64,"), "an overlay for the image")
	require.Empty(t, rows[1].Overlay, "none for the file that is not an image")

	s, _ := newServer(t, Options{})
	ts2 := httptest.NewServer(s)
	t.Cleanup(ts2.Close)
	ctype, body = upload(t, map[string][]byte{"a.png": pngBytes(t, 40, 30, 3)}, []string{"a.png"})
	resp2, err := http.Post(ts2.URL+"/api/predict?explain=1", ctype, body)
	require.NoError(t, err)
	defer resp2.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp2.StatusCode)
}
