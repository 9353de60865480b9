package bundle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lessdata/lessdata/internal/files"
)

// MarkerFile is the file that marks a folder as a lessdata run; it records the command that
// made the run and when.
const MarkerFile = ".lessdata-run.json"

// StaleAfter is how long an abandoned work folder (".RUN.partial-*", left by a killed run) waits
// before a later Begin for the same run folder removes it.
const StaleAfter = time.Hour

// Mark is the content of a run's MarkerFile.
type Mark struct {
	Command string `json:"command"`
	Created string `json:"created"`
}

// legacyFiles are the files by which a run written before MarkerFile existed is recognised.
var legacyFiles = []string{File, "compare.json", "cv.json", "curve.json", "history.json", "audit.json"}

// MarkRun writes the marker file into dir (created when missing), so that dir counts as a
// lessdata run. Begin does it for the folders it makes; folders made otherwise (a resumable
// grid's) call it themselves.
func MarkRun(dir, command string) error {
	m := Mark{Command: command, Created: time.Now().UTC().Format(time.RFC3339)}
	if err := files.WriteJSON(filepath.Join(dir, MarkerFile), m); err != nil {
		return fmt.Errorf("mark %s as a lessdata run: %w", dir, err)
	}
	return nil
}

// IsRun reports whether dir is a folder lessdata wrote: it holds the marker file, or one of the
// files of runs made before the marker existed (bundle.json, compare.json, cv.json, curve.json,
// history.json, audit.json, or config.json with cells/).
func IsRun(dir string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	isFile := func(name string) bool {
		st, err := os.Lstat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	if isFile(MarkerFile) {
		return true
	}
	for _, name := range legacyFiles {
		if isFile(name) {
			return true
		}
	}
	st, err := os.Stat(filepath.Join(dir, "cells"))
	return isFile("config.json") && err == nil && st.IsDir()
}

// replaceable returns nil when the existing path dir may be replaced under --force: it is an
// empty folder or a lessdata run.
func replaceable(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w; choose another --out", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a file, not a run folder; refusing to replace it: choose another --out", dir)
	}
	if IsRun(dir) {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w; choose another --out", dir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not a lessdata run folder; refusing to replace it: choose another --out", dir)
	}
	return nil
}

// RunDir is a run folder being written: work goes into a hidden sibling folder, and Commit
// moves it into place, so the run folder appears whole, and an existing one is replaced only
// when asked and only when it is a lessdata run.
type RunDir struct {
	Final, Work string
	force       bool
	committed   bool
	kept        bool     // Commit could not put the run in place and kept it elsewhere
	lock        *os.File // the work folder, locked while this process uses it
}

// Begin starts writing the run folder dir. dir must pass CheckOut. It fails when dir exists,
// unless force is set and dir is an empty folder or a lessdata run (IsRun). The work folder gets
// the marker file, recording this process's command line. Work folders of earlier runs of dir
// that were killed are removed once older than StaleAfter.
func Begin(dir string, force bool) (*RunDir, error) {
	if err := CheckOut(dir); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dir); err == nil {
		if !force {
			return nil, fmt.Errorf("%s already exists: choose another --out or pass --force to replace it", dir)
		}
		if err := replaceable(dir); err != nil {
			return nil, err
		}
	}
	clean := filepath.Clean(dir)
	parent := filepath.Dir(clean)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	removeStale(parent, partialPrefix(clean))
	work, err := os.MkdirTemp(parent, partialPrefix(clean))
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	r := &RunDir{Final: dir, Work: work, force: force}
	if err := os.Chmod(work, 0o755); err != nil {
		r.Abandon()
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if r.lock, err = lockDir(work); err != nil {
		r.Abandon()
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if err := MarkRun(work, CommandLine()); err != nil {
		r.Abandon()
		return nil, err
	}
	return r, nil
}

// partialPrefix is the name prefix of dir's work folders.
func partialPrefix(dir string) string { return "." + filepath.Base(dir) + ".partial-" }

// Path returns a path inside the folder being written.
func (r *RunDir) Path(name string) string { return filepath.Join(r.Work, name) }

// Commit moves the finished folder into place, replacing an existing lessdata run under force.
// When it cannot (the folder appeared meanwhile and is not to be replaced, or a rename fails),
// the finished run is kept beside it, and the error says where.
func (r *RunDir) Commit() error {
	defer r.unlock()
	if _, err := os.Lstat(r.Final); err == nil {
		if !r.force {
			return r.keep(fmt.Sprintf("%s appeared while this run was working (did another run take the same --out?)", r.Final))
		}
		if err := replaceable(r.Final); err != nil {
			return r.keep(err.Error())
		}
		old := filepath.Join(filepath.Dir(filepath.Clean(r.Final)), partialPrefix(r.Final)+"replaced-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err := os.Rename(r.Final, old); err != nil {
			return r.keep(fmt.Sprintf("replace %s: %v", r.Final, err))
		}
		if err := os.Rename(r.Work, r.Final); err != nil {
			os.Rename(old, r.Final) // put the old run back
			return r.keep(fmt.Sprintf("replace %s: %v", r.Final, err))
		}
		os.RemoveAll(old) // what is left is hidden, and a later Begin removes it once stale
	} else if err := os.Rename(r.Work, r.Final); err != nil {
		return r.keep(fmt.Sprintf("finish %s: %v", r.Final, err))
	}
	r.committed = true
	return nil
}

// keep moves the finished work to the first free visible name RUN-2, RUN-3... beside the run
// folder and returns an error made of reason and where the run is; it never names a folder that
// does not exist.
func (r *RunDir) keep(reason string) error {
	r.kept = true
	if _, err := os.Stat(r.Work); err != nil {
		return fmt.Errorf("%s; this run's files are lost (%s is gone)", reason, r.Work)
	}
	clean := filepath.Clean(r.Final)
	for i := 2; i < 1000; i++ {
		alt := fmt.Sprintf("%s-%d", clean, i)
		if _, err := os.Lstat(alt); errors.Is(err, os.ErrNotExist) {
			if os.Rename(r.Work, alt) == nil {
				r.Work = alt
			}
			break
		}
	}
	return fmt.Errorf("%s; this run is kept in %s", reason, r.Work)
}

// Kept reports whether Commit kept the run in Work instead of Final.
func (r *RunDir) Kept() bool { return r.kept }

// Abandon removes the folder being written, unless it was committed or kept; deferring it right
// after Begin cleans up every way out.
func (r *RunDir) Abandon() {
	r.unlock()
	if !r.committed && !r.kept {
		os.RemoveAll(r.Work)
	}
}

func (r *RunDir) unlock() {
	if r.lock != nil {
		r.lock.Close() // closing the descriptor drops the lock
		r.lock = nil
	}
}

// lockDir takes an exclusive lock on the folder dir, held until the returned file is closed (or
// the process ends, however it ends). It fails at once when another process holds it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// removeStale removes the folders in parent whose names start with prefix, that no process holds
// and that have not changed for StaleAfter: work folders of killed runs.
func removeStale(parent, prefix string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < StaleAfter {
			continue
		}
		lock, err := lockDir(p)
		if err != nil {
			continue // in use
		}
		os.RemoveAll(p)
		lock.Close()
	}
}

// CommandLine returns this process's command line, quoting arguments that need it: what Begin
// records in the marker file, and what MarkRun is usually given.
func CommandLine() string {
	args := []string{filepath.Base(os.Args[0])}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			a = strconv.Quote(a)
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// OutError is CheckOut's refusal. Its message names the paths as given, without flags, so a
// caller can say which flag each came from (Index says which input).
type OutError struct {
	Out   string // the output folder, as given
	Input string // the input it collides with, as given ("" when the problem is Out itself)
	Index int    // Input's position among CheckOut's inputs, -1 when none
	msg   string
}

func (e *OutError) Error() string { return e.msg }

// CheckOut refuses an output folder that a run must not write or replace: "" or ".", the current
// folder or one of its ancestors, and a folder equal to, inside or above one of the inputs (data
// folders, exclusion lists, models; "" inputs are ignored). Paths are compared absolute and clean,
// with symbolic links resolved as far as the path exists.
func CheckOut(out string, inputs ...string) error {
	if strings.TrimSpace(out) == "" {
		return &OutError{Out: out, Index: -1, msg: fmt.Sprintf("output folder %q has no name: name a new folder for the run", out)}
	}
	o, err := resolve(out)
	if err != nil {
		return &OutError{Out: out, Index: -1, msg: fmt.Sprintf("output folder %s: %v", out, err)}
	}
	if cwd, err := os.Getwd(); err == nil {
		if c, err := resolve(cwd); err == nil {
			switch {
			case o == c:
				return &OutError{Out: out, Index: -1, msg: fmt.Sprintf("output folder %s is the current folder: name a new folder for the run", out)}
			case inside(c, o):
				return &OutError{Out: out, Index: -1, msg: fmt.Sprintf("output folder %s holds the current folder: name a new folder for the run", out)}
			}
		}
	}
	for i, in := range inputs {
		if in == "" {
			continue
		}
		p, err := resolve(in)
		if err != nil {
			continue
		}
		var how string
		switch {
		case o == p:
			how = "is the input"
		case inside(o, p):
			how = "is inside the input"
		case inside(p, o):
			how = "holds the input"
		default:
			continue
		}
		return &OutError{Out: out, Input: in, Index: i,
			msg: fmt.Sprintf("output folder %s %s %s: choose an output folder outside the inputs", out, how, in)}
	}
	return nil
}

// resolve returns p absolute and clean, with symbolic links resolved in its longest existing
// prefix.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// inside reports whether path p lies strictly inside folder dir; both are absolute and clean.
func inside(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
