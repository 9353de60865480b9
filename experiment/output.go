package experiment

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lessdata/lessdata/bundle"
)

// Output names a job's run folder.
type Output struct {
	// Dir is the run folder; it must not exist unless Force (or, for resumable jobs, unless it
	// holds an unfinished run of the same spec).
	Dir   string
	Force bool
	// Version is the lessdata version the run records.
	Version string
}

// prepare checks the spec and the run folder out, loads the data (with the quick audit's
// warnings), checks it with fits (nil: no more checks), then resolves the backbone and decodes
// everything into a pool for jobs trainings at once (0: a single run): the common start of every
// job, so that nothing slow begins before every input is known to be usable. The caller closes
// the pool.
func prepare(ctx context.Context, spec Spec, env Env, out string, jobs int, fits func(*Data) error) (*Data, *Pool, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	if err := checkOut(out, spec.Data); err != nil {
		return nil, nil, err
	}
	data, err := LoadData(ctx, spec.Data, true, env.UI)
	if err != nil {
		return nil, nil, err
	}
	if fits != nil {
		if err := fits(data); err != nil {
			return nil, nil, err
		}
	}
	pool, err := NewPool(ctx, data, spec, env, jobs)
	if err != nil {
		return nil, nil, err
	}
	return data, pool, nil
}

// checkOut refuses a run folder that would overwrite or sit in the job's inputs (--data,
// --exclude), before any work.
func checkOut(out string, d DataSpec) error {
	err := bundle.CheckOut(out, d.Dir, d.Exclude)
	var oe *bundle.OutError
	if errors.As(err, &oe) {
		flag := [...]string{"--data", "--exclude"}
		if oe.Index >= 0 && oe.Index < len(flag) {
			return fmt.Errorf("--out: %w (%s)", err, flag[oe.Index])
		}
		return fmt.Errorf("--out: %w", err)
	}
	return err
}

// copyTree copies the folder src into dst (which must not exist), files and folders only.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}
