package bundle

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 10, item 1: --force replaces only lessdata runs; a dataset, a documents folder or a
// plain file at --out survive.
func TestForceReplacesOnlyRuns(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "cats"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "cats", "a.jpg"), []byte("x"), 0o644))
	_, err := Begin(data, true)
	require.ErrorContains(t, err, data+" is not a lessdata run folder; refusing to replace it")
	require.FileExists(t, filepath.Join(data, "cats", "a.jpg"))

	file := filepath.Join(root, "notes.txt")
	require.NoError(t, os.WriteFile(file, []byte("mine"), 0o644))
	_, err = Begin(file, true)
	require.ErrorContains(t, err, "is a file, not a run folder")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "mine", string(b))

	// A folder made by Begin is a run and can be replaced; so can an empty folder.
	run := filepath.Join(root, "run")
	r, err := Begin(run, false)
	require.NoError(t, err)
	b, err = os.ReadFile(r.Path(MarkerFile))
	require.NoError(t, err)
	var mark Mark
	require.NoError(t, json.Unmarshal(b, &mark))
	require.True(t, strings.HasPrefix(mark.Command, filepath.Base(os.Args[0])+" "), mark.Command)
	_, err = time.Parse(time.RFC3339, mark.Created)
	require.NoError(t, err)
	require.NoError(t, r.Commit())
	require.True(t, IsRun(run))
	r, err = Begin(run, true)
	require.NoError(t, err)
	require.NoError(t, r.Commit())
	empty := filepath.Join(root, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	require.False(t, IsRun(empty))
	r, err = Begin(empty, true)
	require.NoError(t, err)
	require.NoError(t, r.Commit())
	require.True(t, IsRun(empty))

	// A non-run that appears at --out while the run works is not replaced either.
	late := filepath.Join(root, "late")
	r, err = Begin(late, true)
	require.NoError(t, err)
	defer r.Abandon()
	require.NoError(t, os.MkdirAll(filepath.Join(late, "docs"), 0o755))
	err = r.Commit()
	require.ErrorContains(t, err, "refusing to replace it")
	require.DirExists(t, filepath.Join(late, "docs"))
	require.ErrorContains(t, err, "kept in "+late+"-2")
	require.FileExists(t, filepath.Join(late+"-2", MarkerFile))
}

// Issue 10, item 1: older runs without the marker, and grid folders marked with MarkRun, count
// as runs.
func TestIsRun(t *testing.T) {
	for _, files := range [][]string{{File}, {"compare.json"}, {"curve.json"}, {"cv.json"}, {"audit.json"}, {"history.json"}, {"config.json", "cells/"}} {
		dir := t.TempDir()
		for _, f := range files {
			if f == "cells/" {
				require.NoError(t, os.Mkdir(filepath.Join(dir, "cells"), 0o755))
			} else {
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644))
			}
		}
		require.True(t, IsRun(dir), "%v", files)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644))
	require.False(t, IsRun(dir), "config.json alone is any program's")
	require.NoError(t, MarkRun(dir, "lessdata curve --out x"))
	require.True(t, IsRun(dir))
	require.False(t, IsRun(filepath.Join(dir, "config.json")))
	require.False(t, IsRun(filepath.Join(dir, "missing")))
}

// Issue 10, item 1: --out "", ".", the current folder's ancestors, and --out equal to, inside or
// above an input are refused.
func TestCheckOut(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	link := filepath.Join(root, "link")
	require.NoError(t, os.Symlink(data, link))
	t.Chdir(data)

	for _, c := range []struct{ out, want string }{
		{"", `output folder "" has no name`},
		{" ", `has no name`},
		{".", "output folder . is the current folder"},
		{root, "holds the current folder"},
		{"/", "holds the current folder"},
	} {
		err := CheckOut(c.out)
		require.ErrorContains(t, err, c.want, "out %q", c.out)
		var oe *OutError
		require.True(t, errors.As(err, &oe))
		require.Equal(t, -1, oe.Index)
	}
	t.Chdir(root)
	require.NoError(t, os.WriteFile(filepath.Join(root, "exclude.txt"), []byte("a.jpg\n"), 0o644))
	excl := filepath.Join(root, "exclude.txt")
	for _, c := range []struct{ out, want string }{
		{data, "output folder " + data + " is the input " + data},
		{filepath.Join(data, "run"), "is inside the input " + data},
		{filepath.Join(link, "run", "deeper"), "is inside the input " + data},
		{"data/run", "output folder data/run is inside the input " + data},
		{excl, "is the input " + excl},
	} {
		err := CheckOut(c.out, "", data, excl)
		require.ErrorContains(t, err, c.want, "out %q", c.out)
	}
	t.Chdir(t.TempDir())
	err := CheckOut(root, "", filepath.Join(root, "data"))
	var oe *OutError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, 1, oe.Index)
	require.Equal(t, root, oe.Out)
	require.Contains(t, err.Error(), "holds the input")

	require.NoError(t, CheckOut(filepath.Join(root, "runs", "a"), data, excl))
	require.NoError(t, CheckOut("runs/a", data, excl))
	require.NoError(t, CheckOut(filepath.Join(root, "data2"), data), "a name that shares a prefix is not inside")

	_, err = Begin(".", true)
	require.ErrorContains(t, err, "is the current folder")
	_, err = Begin("", true)
	require.ErrorContains(t, err, "has no name")
}

// Issue 10, item 5: Commit says a run is kept somewhere only when it is, and a concurrent run
// that took --out does not cost this run's work.
func TestCommitMessagesAreTrue(t *testing.T) {
	final := filepath.Join(t.TempDir(), "run")
	r, err := Begin(final, false)
	require.NoError(t, err)
	defer r.Abandon()
	require.NoError(t, os.WriteFile(r.Path("model.txt"), []byte("mine"), 0o644))
	other, err := Begin(final, false)
	require.NoError(t, err)
	require.NoError(t, other.Commit())

	err = r.Commit()
	require.ErrorContains(t, err, "appeared while this run was working")
	require.ErrorContains(t, err, "this run is kept in "+final+"-2")
	require.True(t, r.Kept())
	r.Abandon()
	require.FileExists(t, filepath.Join(final+"-2", "model.txt"), "Abandon leaves a kept run alone")
	require.FileExists(t, filepath.Join(final, MarkerFile), "the other run is untouched")

	gone, err := Begin(filepath.Join(t.TempDir(), "gone"), false)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(gone.Work))
	require.NoError(t, os.Mkdir(gone.Final, 0o755))
	err = gone.Commit()
	require.ErrorContains(t, err, "files are lost")
	require.NotContains(t, err.Error(), "kept in")
}

// Issue 10, item 14: a killed run's work folder is removed by a later Begin once stale, unless a
// running process holds it.
func TestStalePartialsRemoved(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "run")
	old := filepath.Join(parent, ".run.partial-123")
	fresh := filepath.Join(parent, ".run.partial-456")
	busy := filepath.Join(parent, ".run.partial-789")
	otherRun := filepath.Join(parent, ".other.partial-123")
	long := time.Now().Add(-2 * StaleAfter)
	for _, d := range []string{old, fresh, busy, otherRun} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "model"), 0o755))
		if d != fresh {
			require.NoError(t, os.Chtimes(d, long, long))
		}
	}
	lock, err := lockDir(busy)
	require.NoError(t, err)
	defer lock.Close()

	r, err := Begin(final, false)
	require.NoError(t, err)
	defer r.Abandon()
	require.NoDirExists(t, old)
	require.DirExists(t, fresh, "younger than StaleAfter: may still be in use")
	require.DirExists(t, busy, "locked by a running process")
	require.DirExists(t, otherRun, "another run's folder is not this Begin's business")
	require.DirExists(t, r.Work)
}

// Issue 10, item 2: a FIFO in place of bundle.json or the model never blocks Read.
func TestReadRefusesFIFOs(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ModelDir), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, ModelDir, "saved_model.pb"), 0o644))
	require.NoError(t, Write(dir, manifest()))
	done := make(chan error)
	go func() {
		_, err := Read(dir)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "saved_model.pb is not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocks on a FIFO")
	}
	require.NoError(t, os.Remove(filepath.Join(dir, File)))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, File), 0o644))
	go func() {
		_, err := Read(dir)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "bundle.json is not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocks on a FIFO")
	}
}
