package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/models/tflite"
)

// MirrorEnv names the environment variable that may give a mirror (see FetchOptions.Mirror).
const MirrorEnv = "LESSDATA_MIRROR"

// CacheEnv names the environment variable that may move the cache folder.
const CacheEnv = "LESSDATA_CACHE"

// FetchOptions configures Fetch.
type FetchOptions struct {
	// CacheDir holds downloads and converted backbones; DefaultCacheDir when empty.
	CacheDir string
	// Mirror, when set, is a folder or an http(s) URL that holds the manifest's files as
	// <Mirror>/<entry dir>/<file>; files are then taken from it instead of their public URLs.
	Mirror string
	// Client makes the downloads; http.DefaultClient when nil.
	Client *http.Client
	// Progress, when not nil, receives a progress bar for each download.
	Progress func(total int64, desc string) io.Writer
	// Force refetches and reconverts even when the backbone is in the cache.
	Force bool
}

// DefaultCacheDir returns $LESSDATA_CACHE, or lessdata's folder in the user's cache directory.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache folder (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "lessdata"), nil
}

// CacheDirOrDefault returns the cache folder these options use.
func (o *FetchOptions) CacheDirOrDefault() (string, error) { return o.cacheDir() }

func (o *FetchOptions) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	return DefaultCacheDir()
}

// CachedDir returns where the named backbone lives once fetched, and whether it is there.
func CachedDir(name string, opt FetchOptions) (string, bool, error) {
	e, err := models.Lookup(name)
	if err != nil {
		return "", false, err
	}
	cache, err := opt.cacheDir()
	if err != nil {
		return "", false, err
	}
	dir := filepath.Join(cache, "backbones", e.Name)
	spec, err := models.ReadSpec(dir)
	return dir, err == nil && spec.Source.SHA256 == e.Model.SHA256 && spec.Source.Tool == models.ConverterTool, nil
}

// Resolve turns a backbone argument into a folder: an existing folder is used as it is, a name
// from the manifest is fetched into the cache unless it is there already.
func Resolve(ctx context.Context, nameOrDir string, opt FetchOptions) (string, error) {
	if st, err := os.Stat(nameOrDir); err == nil && st.IsDir() {
		return nameOrDir, nil
	}
	if strings.ContainsRune(nameOrDir, os.PathSeparator) {
		return "", fmt.Errorf("backbone folder %s does not exist", nameOrDir)
	}
	return Fetch(ctx, nameOrDir, opt)
}

// Fetch downloads the named backbone's files (from the mirror when one is set), checks their
// sha256, converts the model into a SavedModel with its spec, and returns the cached folder.
// A backbone already in the cache is returned at once unless opt.Force is set.
func Fetch(ctx context.Context, name string, opt FetchOptions) (string, error) {
	e, err := models.Lookup(name)
	if err != nil {
		return "", err
	}
	dir, ok, err := CachedDir(name, opt)
	if err != nil {
		return "", err
	}
	if ok && !opt.Force {
		return dir, nil
	}
	cache, _ := opt.cacheDir()
	if opt.Mirror == "" {
		opt.Mirror = os.Getenv(MirrorEnv)
	}
	modelPath, err := download(ctx, e, e.Model, cache, opt)
	if err != nil {
		return "", err
	}
	var labelsPath string
	if e.Labels != nil {
		if labelsPath, err = download(ctx, e, *e.Labels, cache, opt); err != nil {
			return "", err
		}
	}
	if e.Format != "tflite" {
		return "", fmt.Errorf("backbone %s: format %q is not supported by this lessdata", name, e.Format)
	}
	m, err := tflite.Open(modelPath)
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+name+".new-")
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, name)
	spec, err := models.ConvertTFLite(m, tmp, models.ConvertOptions{Name: e.Name,
		Source: models.SourceSpec{File: e.Model.File, SHA256: e.Model.SHA256, URL: e.Model.URL}})
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	if labelsPath != "" && spec.Logits != nil {
		if err := copyFile(labelsPath, filepath.Join(tmp, "labels.txt")); err != nil {
			return "", fmt.Errorf("backbone %s: %w", name, err)
		}
		spec.Labels = "labels.txt"
		if err := models.WriteSpec(tmp, spec); err != nil {
			return "", err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("backbone %s: replace %s: %w", name, dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	return dir, nil
}

// download returns the path of a verified copy of f in the cache, fetching it when needed.
func download(ctx context.Context, e models.Entry, f models.File, cache string, opt FetchOptions) (string, error) {
	dst := filepath.Join(cache, "downloads", f.SHA256[:16]+"-"+f.File)
	if sum, err := files.SHA256(dst); err == nil && sum == f.SHA256 {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", f.File, err)
	}
	src, err := sourceOf(e, f, opt.Mirror)
	if err != nil {
		return "", err
	}
	rc, size, err := open(ctx, src, opt.Client)
	if err != nil {
		hint := ""
		if opt.Mirror == "" {
			hint = fmt.Sprintf("; offline? put the files in a folder as DIR/%s/%s and pass --mirror DIR (or set %s)", e.Dir, f.File, MirrorEnv)
		}
		return "", fmt.Errorf("download %s: %w%s", f.File, err, hint)
	}
	defer rc.Close()
	if size <= 0 {
		size = f.Size
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-*")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", f.File, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	var w io.Writer = io.MultiWriter(tmp, h)
	if opt.Progress != nil {
		w = io.MultiWriter(w, opt.Progress(size, f.File))
	}
	_, err = io.Copy(w, ctxReader{ctx, rc})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("download %s from %s: %w", f.File, src, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return "", fmt.Errorf("download %s from %s: sha256 is %s, want %s: the file is corrupt or not the pinned version", f.File, src, sum, f.SHA256)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("download %s: %w", f.File, err)
	}
	return dst, nil
}

// sourceOf returns where to read f from: the mirror when set, else its public URL.
func sourceOf(e models.Entry, f models.File, mirror string) (string, error) {
	if mirror == "" {
		return f.URL, nil
	}
	if u, err := url.Parse(mirror); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return u.JoinPath(e.Dir, f.File).String(), nil
	}
	st, err := os.Stat(mirror)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("mirror %s is neither a folder nor an http(s) URL", mirror)
	}
	return filepath.Join(mirror, e.Dir, f.File), nil
}

// open opens a local path or an http(s) URL; size is -1 when unknown.
func open(ctx context.Context, src string, client *http.Client) (io.ReadCloser, int64, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		f, err := os.Open(src)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	}
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
