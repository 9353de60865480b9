package experiment

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/study"
)

// ConfigFile records the options a resumable grid was started with.
const ConfigFile = "config.json"

// GridOutput names a resumable grid's run folder and how many cells run at once.
type GridOutput struct {
	Output
	Jobs int
}

// grid is a started grid: its pool and its run folder.
type grid struct {
	pool *Pool
	dir  string
}

// startGrid checks the options, loads the data and checks it with fits, opens the backbone when
// a method needs it and decodes everything, and only then starts or resumes the run folder: a
// rerun with the same options resumes, other options need Force. command and extra are
// recorded in config.json.
func startGrid(ctx context.Context, command string, spec Spec, env Env, out GridOutput, extra map[string]any, fits func(*Data) error) (*grid, error) {
	if out.Jobs < 1 || out.Jobs > 64 {
		return nil, fmt.Errorf("--jobs %d must be between 1 and 64", out.Jobs)
	}
	_, pool, err := prepare(ctx, spec, env, out.Dir, out.Jobs, fits)
	if err != nil {
		return nil, err
	}
	config := map[string]any{"command": command, "spec": spec}
	for k, v := range extra {
		config[k] = v
	}
	if err := gridFolder(out.Dir, command, config, out.Force); err != nil {
		pool.Close()
		return nil, err
	}
	return &grid{pool: pool, dir: out.Dir}, nil
}

// gridFolder starts or resumes a grid's run folder.
func gridFolder(dir, command string, config any, force bool) error {
	want, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ConfigFile)
	have, readErr := os.ReadFile(path)
	if readErr == nil && bytes.Equal(have, want) {
		return nil // the same run: resume it
	}
	if _, err := os.Lstat(dir); err == nil {
		switch {
		case !bundle.IsRun(dir):
			return fmt.Errorf("--out %s exists and is not a lessdata run folder: choose another --out", dir)
		case !force && readErr == nil:
			return fmt.Errorf("--out %s was started with other options (see its %s): rerun with those, or pass --force to start over", dir, ConfigFile)
		case !force:
			return fmt.Errorf("--out %s exists and is not a run of this command: choose another --out or pass --force", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if err := bundle.MarkRun(dir, command); err != nil {
		return err
	}
	return files.WriteAtomic(path, want)
}

// cellResult runs one cell and reduces its outcome to a study result.
func (g *grid) cellResult(ctx context.Context, m Method, train, val []int, seed uint64) (*study.Result, error) {
	o, err := g.pool.Run(ctx, m, train, val, seed, RunHooks{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	r := &study.Result{Accuracy: o.Metrics.Accuracy, AUC: o.Metrics.AUC, Sensitivity: o.Metrics.Sensitivity, Specificity: o.Metrics.Specificity,
		NTrain: len(train), NVal: len(val), Epochs: o.Epochs(), Seconds: o.Seconds}
	if o.Tuned != nil {
		if r.Chosen, err = json.Marshal(o.Tuned.Choice); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (g *grid) progress(ui UI, total int) func(done, total int, r *study.Result, skipped bool) {
	bar := ui.bar(total, "cells")
	return func(done, total int, r *study.Result, skipped bool) {
		bar.Set(done)
		if done == total {
			bar.Finish()
		}
		if skipped || ui.Bar != nil {
			return
		}
		ui.logf("cell %d/%d %s: accuracy %.3f (%d training images, %d epochs, %.1fs)", done, total, r.Key(), r.Accuracy, r.NTrain, r.Epochs, r.Seconds)
	}
}

// labelsOf returns the classes of the items of every list, in order.
func labelsOf(lists ...[]dataset.Item) []int {
	var l []int
	for _, items := range lists {
		for _, it := range items {
			l = append(l, it.Class)
		}
	}
	return l
}

func methodNames(ms []Method) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return s
}

// CVResult is a cross-validation's outcome (cv.json).
type CVResult struct {
	*study.CVSummary
	Data    string  `json:"data"`
	Folds   int     `json:"folds"`
	Repeats int     `json:"repeats"`
	Seconds float64 `json:"seconds"`
	// Complete is false when the run was interrupted: Cells holds what finished.
	Complete bool `json:"complete"`
}

// CrossValidate compares the spec's methods by stratified k-fold cross-validation over the
// training and validation images pooled (folds >= 2) and/or repeats with seeds Seed, Seed+1...
// on the given split (folds 0). Every cell trains with the same options as Compare; finished
// cells are saved at once, so an interrupted run (its error wraps ErrInterrupted) resumes.
func CrossValidate(ctx context.Context, spec Spec, env Env, folds, repeats int, out GridOutput) (*CVResult, error) {
	if repeats < 1 || repeats > 1000 {
		return nil, fmt.Errorf("--repeats %d must be between 1 and 1000", repeats)
	}
	if folds < 0 || folds == 1 {
		return nil, fmt.Errorf("--folds %d must be 0 (the given split) or at least 2", folds)
	}
	start := time.Now()
	g, err := startGrid(ctx, "compare", spec, env, out, map[string]any{"folds": folds, "repeats": repeats}, func(d *Data) error {
		if folds == 0 {
			return nil
		}
		if err := study.FoldsFit(labelsOf(d.Train, d.Val), d.Classes, folds); err != nil {
			return fmt.Errorf("--folds %d: %w", folds, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer g.pool.Close()
	p := g.pool
	type split struct{ train, val []int }
	splits := map[[2]int]split{} // (repeat, fold) -> indices into the pool
	var cells []study.Cell
	var seeds []uint64
	for r := 0; r < repeats; r++ {
		seed := spec.Data.Seed + uint64(r)
		seeds = append(seeds, seed)
		if folds == 0 {
			splits[[2]int{r, 0}] = split{p.TrainIndex(), p.ValIndex()}
		} else {
			fs, err := study.StratifiedFolds(p.Labels, len(p.Classes), folds, seed)
			if err != nil {
				return nil, fmt.Errorf("--folds %d: %w", folds, err)
			}
			for f, fold := range fs {
				splits[[2]int{r, f + 1}] = split{study.Complement(len(p.Labels), fold), fold}
			}
		}
		for f := 0; f <= folds; f++ {
			if folds > 0 && f == 0 {
				continue
			}
			for _, m := range spec.Methods {
				cells = append(cells, study.Cell{Method: string(m), Repeat: r, Fold: f})
			}
		}
	}
	if err := p.Warm(ctx, seeds); err != nil {
		return nil, err
	}
	runner := &study.Runner{Dir: g.dir, Jobs: out.Jobs, Progress: g.progress(env.UI, len(cells))}
	results, runErr := runner.Run(ctx, cells, func(ctx context.Context, c study.Cell) (*study.Result, error) {
		s := splits[[2]int{c.Repeat, c.Fold}]
		return g.cellResult(ctx, Method(c.Method), s.train, s.val, spec.Data.Seed+uint64(c.Repeat))
	})
	if runErr != nil && !errors.Is(runErr, study.ErrInterrupted) {
		return nil, runErr
	}
	res := &CVResult{CVSummary: study.SummarizeCV(results, methodNames(spec.Methods)), Data: spec.Data.Dir, Folds: folds, Repeats: repeats,
		Seconds: time.Since(start).Seconds(), Complete: runErr == nil}
	if err := writeCV(g.dir, res, len(cells), out.Version); err != nil {
		return nil, err
	}
	return res, gridInterrupted(runErr)
}

// CurveResult is a learning curve's outcome (curve.json).
type CurveResult struct {
	Points  []study.CurvePoint `json:"points"`
	Cells   []*study.Result    `json:"cells"`
	Seconds float64            `json:"seconds"`
	// Complete is false when the run was interrupted.
	Complete bool `json:"complete"`
}

// Curve trains the spec's methods on nested stratified subsets of the training images (sizes in
// images per class, 0 for all; each smaller subset inside the larger ones of its repeat) and
// scores each on the fixed validation images. Finished cells are saved at once, so an
// interrupted run (its error wraps ErrInterrupted) resumes.
func Curve(ctx context.Context, spec Spec, env Env, sizes []int, repeats int, out GridOutput) (*CurveResult, error) {
	if repeats < 1 || repeats > 1000 {
		return nil, fmt.Errorf("--repeats %d must be between 1 and 1000", repeats)
	}
	start := time.Now()
	g, err := startGrid(ctx, "curve", spec, env, out, map[string]any{"sizes": sizes, "repeats": repeats}, func(d *Data) error {
		if err := study.SubsetsFit(labelsOf(d.Train), d.Classes, sizes); err != nil {
			return fmt.Errorf("--sizes: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer g.pool.Close()
	p := g.pool
	trainLabels := p.Labels[:p.NTrain]
	subsets := make([][][]int, repeats) // [repeat][size]
	var seeds []uint64
	for r := range subsets {
		if subsets[r], err = study.NestedSubsets(trainLabels, len(p.Classes), sizes, spec.Data.Seed+uint64(r)); err != nil {
			return nil, fmt.Errorf("--sizes: %w", err)
		}
		seeds = append(seeds, spec.Data.Seed+uint64(r))
	}
	// Every training image appears in the largest subset: warm the cache for all of them.
	if err := p.Warm(ctx, seeds); err != nil {
		return nil, err
	}
	var cells []study.Cell
	for r := 0; r < repeats; r++ {
		for _, size := range sizes {
			for _, m := range spec.Methods {
				cells = append(cells, study.Cell{Method: string(m), Size: size, Repeat: r})
			}
		}
	}
	sizeIndex := map[int]int{}
	for i, s := range sizes {
		sizeIndex[s] = i
	}
	val := p.ValIndex()
	runner := &study.Runner{Dir: g.dir, Jobs: out.Jobs, Progress: g.progress(env.UI, len(cells))}
	results, runErr := runner.Run(ctx, cells, func(ctx context.Context, c study.Cell) (*study.Result, error) {
		return g.cellResult(ctx, Method(c.Method), subsets[c.Repeat][sizeIndex[c.Size]], val, spec.Data.Seed+uint64(c.Repeat))
	})
	if runErr != nil && !errors.Is(runErr, study.ErrInterrupted) {
		return nil, runErr
	}
	res := &CurveResult{Points: study.AggregateCurve(results, methodNames(spec.Methods), sizes, len(p.Classes), repeats),
		Seconds: time.Since(start).Seconds(), Complete: runErr == nil}
	for _, r := range results {
		if r != nil {
			res.Cells = append(res.Cells, r)
		}
	}
	if err := writeCurve(g.dir, res, methodNames(spec.Methods)); err != nil {
		return nil, err
	}
	return res, gridInterrupted(runErr)
}

func writeCSV(path string, rows [][]string) error {
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(rows); err != nil {
		return err
	}
	return files.WriteAtomic(path, buf.Bytes())
}

func f4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
