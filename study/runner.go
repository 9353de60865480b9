package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/lessdata/lessdata/internal/files"
)

// Cell is one experiment of a grid: a method trained on one subset (size and repeat) or one fold.
type Cell struct {
	Method string `json:"method"`
	Size   int    `json:"size,omitempty"` // images per class; 0 means all
	Repeat int    `json:"repeat"`
	Fold   int    `json:"fold,omitempty"`
}

// Key names the cell's result file.
func (c Cell) Key() string {
	return fmt.Sprintf("%s-size%d-rep%d-fold%d", c.Method, c.Size, c.Repeat, c.Fold)
}

// Result is what a cell measured.
type Result struct {
	Cell
	Accuracy float64 `json:"accuracy"`
	AUC      float64 `json:"auc"` // NaN when undefined (written as null)
	// Sensitivity and Specificity are at the threshold in use, for two classes (0 otherwise).
	Sensitivity float64 `json:"sensitivity,omitempty"`
	Specificity float64 `json:"specificity,omitempty"`
	NTrain      int     `json:"n_train"`
	NVal        int     `json:"n_val"`
	Epochs      int     `json:"epochs"`
	Seconds     float64 `json:"seconds"`
	// Chosen is what the method chose on its training images, such as fine-tuning's learning
	// rate and the inner losses behind it; nil when it chose nothing.
	Chosen json.RawMessage `json:"chosen,omitempty"`
}

type resultJSON struct {
	Cell
	Accuracy    float64         `json:"accuracy"`
	AUC         *float64        `json:"auc"`
	Sensitivity float64         `json:"sensitivity,omitempty"`
	Specificity float64         `json:"specificity,omitempty"`
	NTrain      int             `json:"n_train"`
	NVal        int             `json:"n_val"`
	Epochs      int             `json:"epochs"`
	Seconds     float64         `json:"seconds"`
	Chosen      json.RawMessage `json:"chosen,omitempty"`
}

// MarshalJSON writes a NaN AUC as null.
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{Cell: r.Cell, Accuracy: r.Accuracy, Sensitivity: r.Sensitivity, Specificity: r.Specificity, NTrain: r.NTrain, NVal: r.NVal,
		Epochs: r.Epochs, Seconds: r.Seconds, Chosen: r.Chosen}
	if r.AUC == r.AUC {
		j.AUC = &r.AUC
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a null AUC as NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{Cell: j.Cell, Accuracy: j.Accuracy, Sensitivity: j.Sensitivity, Specificity: j.Specificity, NTrain: j.NTrain, NVal: j.NVal,
		Epochs: j.Epochs, Seconds: j.Seconds, AUC: nan(), Chosen: j.Chosen}
	if j.AUC != nil {
		r.AUC = *j.AUC
	}
	return nil
}

func nan() float64 { var z float64; return z / z }

// ErrInterrupted is returned by Run when its context was cancelled: finished cells are saved and
// a rerun resumes after them.
var ErrInterrupted = errors.New("interrupted: finished cells are saved; run the same command again to resume")

// Runner runs the cells of a grid, Jobs at a time, saving each result as Dir/cells/<key>.json
// the moment it is done. Cells whose result file exists are not run again.
type Runner struct {
	Dir  string
	Jobs int
	// Progress is called after each cell, from one goroutine at a time; skipped is true for a
	// cell read from an earlier run.
	Progress func(done, total int, r *Result, skipped bool)
}

func (r *Runner) path(c Cell) string { return filepath.Join(r.Dir, "cells", c.Key()+".json") }

// Load returns the saved result of a cell, if any.
func (r *Runner) Load(c Cell) (*Result, bool) {
	b, err := os.ReadFile(r.path(c))
	if err != nil {
		return nil, false
	}
	var res Result
	if json.Unmarshal(b, &res) != nil || res.Cell != c {
		return nil, false
	}
	return &res, true
}

// Run runs every cell not yet saved with fn and returns all results in cell order. The first
// error stops the grid (cells under way finish); a cancelled ctx gives ErrInterrupted.
func (r *Runner) Run(ctx context.Context, cells []Cell, fn func(context.Context, Cell) (*Result, error)) ([]*Result, error) {
	if err := os.MkdirAll(filepath.Join(r.Dir, "cells"), 0o755); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	results := make([]*Result, len(cells))
	var todo []int
	var mu sync.Mutex
	done := 0
	report := func(res *Result, skipped bool) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if r.Progress != nil {
			r.Progress(done, len(cells), res, skipped)
		}
	}
	for i, c := range cells {
		if res, ok := r.Load(c); ok {
			results[i] = res
			report(res, true)
			continue
		}
		todo = append(todo, i)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(max(r.Jobs, 1))
	var first error
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			res, err := fn(ctx, cells[i])
			if err == nil && ctx.Err() == nil {
				err = r.save(cells[i], res)
			}
			switch {
			case err != nil && ctx.Err() == nil:
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", cells[i].Key(), err)
				}
				mu.Unlock()
				cancel()
			case err == nil && ctx.Err() == nil: // a cell cut short by the interrupt is not a result
				results[i] = res
				report(res, false)
			}
			return nil
		})
	}
	g.Wait()
	if first != nil {
		return results, first
	}
	if ctx.Err() != nil {
		return results, ErrInterrupted
	}
	return results, nil
}

func (r *Runner) save(c Cell, res *Result) error {
	if res == nil {
		return fmt.Errorf("no result")
	}
	res.Cell = c
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return files.WriteAtomic(r.path(c), b)
}
