package serve

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/predict"
)

// DefaultAddr is where Serve listens unless told otherwise: loopback only.
const DefaultAddr = "127.0.0.1:8080"

// Defaults of Options.
const (
	DefaultMaxFiles    = 32
	DefaultMaxBytes    = 64 << 20
	DefaultMaxBatch    = 32
	DefaultMaxPixels   = 40_000_000
	FormField          = "images"
	reportFile         = "report.html"
	shutdownGrace      = 5 * time.Second
	readHeaderDeadline = 10 * time.Second
)

//go:embed page.html
var page []byte

// Options bounds what one request may ask.
type Options struct {
	// MaxFiles is the most images one request may hold (DefaultMaxFiles when 0).
	MaxFiles int
	// MaxBytes is the largest request body accepted (DefaultMaxBytes when 0).
	MaxBytes int64
	// MaxPixels is the largest image accepted, in pixels (DefaultMaxPixels when 0).
	MaxPixels int64
	// MaxBatch is the most images given to the model at once (DefaultMaxBatch when 0).
	MaxBatch int
}

func (o *Options) defaults() {
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
}

// Info describes the served model (GET /api/model).
type Info struct {
	Kind     string   `json:"kind"`
	Classes  []string `json:"classes"`
	Width    int      `json:"width"`
	Height   int      `json:"height"`
	Backbone string   `json:"backbone,omitempty"`
	// Report is the URL of the run's report relative to the page, "" when the run has none.
	Report   string `json:"report,omitempty"`
	MaxFiles int    `json:"max_files"`
	MaxBytes int64  `json:"max_bytes"`
}

// Server answers predictions of one loaded model: GET / is a page to try it, POST
// /api/predict takes multipart images (field "images") and returns one Row per file, GET
// /api/model describes the model, and GET /report serves the run's report.html (from the
// model's folder or its parent) when there is one. Requests are served concurrently; their
// images are gathered into batches for the model.
type Server struct {
	model   *predict.Model
	opt     Options
	report  string // the run's report.html, "" when there is none
	jobs    chan *job
	stopped <-chan struct{}
	mux     *http.ServeMux
	// explainMu lets one Grad-CAM computation run at a time (each builds its own graph).
	explainMu sync.Mutex
}

// job is one request's decoded images waiting for the model.
type job struct {
	ctx   context.Context
	imgs  []*dataset.Image
	probs [][]float32
	err   error
	done  chan struct{}
}

// New returns a server for m; its batcher runs until ctx is done.
func New(ctx context.Context, m *predict.Model, opt Options) *Server {
	opt.defaults()
	s := &Server{model: m, opt: opt, jobs: make(chan *job), stopped: ctx.Done(), mux: http.NewServeMux()}
	for _, d := range []string{m.Dir, filepath.Dir(filepath.Clean(m.Dir))} {
		if st, err := os.Stat(filepath.Join(d, reportFile)); err == nil && st.Mode().IsRegular() {
			s.report = filepath.Join(d, reportFile)
			break
		}
	}
	s.mux.HandleFunc("GET /{$}", s.handlePage)
	s.mux.HandleFunc("GET /api/model", s.handleModel)
	s.mux.HandleFunc("POST /api/predict", s.handlePredict)
	if s.report != "" {
		s.mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, s.report) })
	}
	go s.batch(ctx)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve listens on addr (DefaultAddr when "") and serves until ctx is done, then shuts down,
// letting requests in flight finish for a few seconds before it closes what is left. ready, when not nil, receives the
// address it listens on.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(addr string)) error {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w (choose another --addr)", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderDeadline}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running after the grace period (or connections a browser opened and
		// never used) are cut.
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func (s *Server) handlePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

func (s *Server) handleModel(w http.ResponseWriter, _ *http.Request) {
	m := s.model.Manifest
	info := Info{Kind: m.Kind, Classes: m.Classes, Width: m.Input.Width, Height: m.Input.Height,
		MaxFiles: s.opt.MaxFiles, MaxBytes: s.opt.MaxBytes}
	if m.Backbone != nil {
		info.Backbone = m.Backbone.Name
	}
	if s.report != "" {
		info.Report = "report"
	}
	writeJSON(w, http.StatusOK, info)
}

// apiError is the body of a refused request.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		s.fail(w, http.StatusBadRequest, "send the images as multipart/form-data in the field %q: %v", FormField, err)
		return
	}
	dir, err := os.MkdirTemp("", "lessdata-serve-")
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	defer os.RemoveAll(dir)
	var names, paths []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.readError(w, err)
			return
		}
		if part.FormName() != FormField || part.FileName() == "" {
			part.Close()
			continue
		}
		if len(names) == s.opt.MaxFiles {
			part.Close()
			s.fail(w, http.StatusRequestEntityTooLarge, "too many files: at most %d images per request", s.opt.MaxFiles)
			return
		}
		p := filepath.Join(dir, fmt.Sprint(len(paths)))
		if err := save(p, part); err != nil {
			s.readError(w, err)
			return
		}
		names, paths = append(names, part.FileName()), append(paths, p)
	}
	if len(paths) == 0 {
		s.fail(w, http.StatusBadRequest, "no images: send files in the multipart field %q", FormField)
		return
	}
	rows, err := s.predict(r.Context(), names, paths)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "predict: %v", err)
		return
	}
	if r.URL.Query().Get("explain") != "" {
		if err := s.explain(r.Context(), rows, paths, filepath.Join(dir, "gradcam")); err != nil {
			s.fail(w, http.StatusBadRequest, "explain: %v", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, rows)
}

// explain adds to each predicted row its Grad-CAM overlay (a PNG data URL) of the predicted
// class; the model needs a backbone (transfer or fine-tuned).
func (s *Server) explain(ctx context.Context, rows []predict.Row, paths []string, dir string) error {
	classes := s.model.Classes()
	results := make([]predict.Result, len(rows))
	for i, row := range rows {
		results[i] = predict.Result{Path: paths[i], Index: slices.Index(classes, row.Class), Probs: []float32{row.Probability}}
		if row.Error != "" {
			results[i].Err = errors.New(row.Error)
		}
	}
	s.explainMu.Lock()
	files, err := s.model.Explain(ctx, results, dir)
	s.explainMu.Unlock()
	if err != nil {
		return err
	}
	for i, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		rows[i].Overlay = "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)
	}
	return nil
}

func (s *Server) readError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(w, http.StatusRequestEntityTooLarge, "upload larger than %d bytes: send fewer or smaller images", tooBig.Limit)
		return
	}
	s.fail(w, http.StatusBadRequest, "read the upload: %v", err)
}

func save(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// predict decodes the files as predict does and has the batcher run the model on those that
// could be read.
func (s *Server) predict(ctx context.Context, names, paths []string) ([]predict.Row, error) {
	w, h := s.model.Size()
	rows := make([]predict.Row, len(paths))
	j := &job{ctx: ctx, done: make(chan struct{})}
	var ok []int
	for i, p := range paths {
		rows[i].Path = names[i]
		img, err := dataset.LoadImage(p, w, h, s.opt.MaxPixels, tfdecode.Decode)
		if err != nil {
			rows[i].Error = fmt.Sprintf("%s: %v", names[i], unwrapPath(err, p))
			continue
		}
		j.imgs = append(j.imgs, img)
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return rows, nil
	}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stopped:
		return nil, errors.New("the server is shutting down")
	}
	<-j.done
	if j.err != nil {
		return nil, j.err
	}
	classes := s.model.Classes()
	for k, i := range ok {
		best := s.model.Decide(j.probs[k])
		rows[i] = predict.NewRow(predict.Result{Path: names[i], Class: classes[best], Index: best, Probs: j.probs[k]}, classes)
	}
	return rows, nil
}

// unwrapPath hides the server's temporary file name in a decoding error.
func unwrapPath(err error, path string) string {
	return strings.ReplaceAll(err.Error(), path, "upload")
}

// batch runs the model: it takes the waiting jobs, up to MaxBatch images, runs them in one call
// and hands each job its rows, one batch at a time.
func (s *Server) batch(ctx context.Context) {
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-ctx.Done():
			return
		}
		jobs, n := []*job{first}, len(first.imgs)
	gather:
		for n < s.opt.MaxBatch {
			select {
			case j := <-s.jobs:
				jobs, n = append(jobs, j), n+len(j.imgs)
			default:
				break gather
			}
		}
		var imgs []*dataset.Image
		var live []*job
		for _, j := range jobs {
			if j.ctx.Err() != nil {
				j.err = j.ctx.Err()
				close(j.done)
				continue
			}
			imgs = append(imgs, j.imgs...)
			live = append(live, j)
		}
		if len(imgs) == 0 {
			continue
		}
		probs, err := s.model.Probabilities(ctx, imgs)
		for _, j := range live {
			if err != nil {
				j.err = err
			} else {
				j.probs, probs = probs[:len(j.imgs)], probs[len(j.imgs):]
			}
			close(j.done)
		}
	}
}
