package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
)

// CompareFile is the comparison's record in its run folder.
const CompareFile = "compare.json"

// highlightsPerClass is how many of its most confident correct predictions a report shows per
// class.
const highlightsPerClass = 3

// Comparison is compare.json: every method trained on the same split, and how each did.
type Comparison struct {
	Spec     Spec              `json:"spec"`
	Classes  []string          `json:"classes"`
	Skipped  int               `json:"skipped_files"`
	Excluded []audit.Exclusion `json:"excluded"`
	// Validation lists the validation images every method was scored on, Labels their classes.
	Validation []string `json:"validation_images"`
	Labels     []int    `json:"validation_labels"`
	// Positive is the positive class's index for two classes (-1: none).
	Positive int `json:"positive_index"`
	// Leaks are the quick audit's groups of copies that span training and validation.
	Leaks []audit.Group `json:"leaks"`
	// Ranking is how --backbone auto chose the backbone (nil otherwise).
	Ranking *Ranking `json:"backbone_ranking,omitempty"`
	// Methods holds the methods that have a model, in Spec.Methods order.
	Methods []*MethodResult `json:"methods"`
	// Complete is false when the run was interrupted before every method finished; the same
	// command resumes it.
	Complete bool   `json:"complete"`
	Created  string `json:"created"`
	Lessdata string `json:"lessdata_version"`

	histories map[Method]*finetune.History
	skipped   []dataset.Skip
	audit     *audit.Report
	cams      map[Method][]report.Thumb
}

// MethodResult is one method's part of a comparison.
type MethodResult struct {
	Method  Method         `json:"method"`
	Metrics report.Metrics `json:"metrics"`
	Seconds float64        `json:"seconds"`
	Epochs  int            `json:"epochs_run"`
	Best    int            `json:"best_epoch"`
	// Stopped says how its fit ended: completed, early stopping or interrupted.
	Stopped string `json:"stopped"`
	// Model is the method's model bundle, relative to the run folder.
	Model string `json:"model"`
	// Probs are the class probabilities of every validation image, in Comparison.Validation
	// order; Highlights its errors, worst first, and its most confident correct predictions.
	Probs      [][]float32       `json:"probabilities"`
	Highlights report.Highlights `json:"highlights"`
	// Threshold is the decision threshold on the positive class's probability (two classes).
	Threshold float64 `json:"threshold"`
	// Head is what the linear transfer head chose on the training images, and why (nil for
	// methods trained by epochs).
	Head *finetune.LinearHead `json:"head,omitempty"`
	// Finetune is what the fine-tune method chose on the inner split of the training images.
	Finetune *finetune.Choice `json:"finetune,omitempty"`
}

// finished reports whether the method's fit ran to its end (a resumed compare keeps it).
func (r *MethodResult) finished() bool { return r.Stopped != finetune.StopInterrupted }

// Result returns the named method's result, or nil (also for a nil comparison).
func (c *Comparison) Result(m Method) *MethodResult {
	if c == nil {
		return nil
	}
	for _, r := range c.Methods {
		if r.Method == m {
			return r
		}
	}
	return nil
}

// Compare trains every method of the spec on the same split, seed and epochs, scores each on the
// validation images, and writes the run folder: one model bundle per method, compare.json and
// report.html. When ctx is cancelled, the methods trained so far are kept, the comparison is
// marked incomplete (in compare.json and the report) and the error wraps ErrInterrupted; the
// same call then resumes it, training only what is missing.
func Compare(ctx context.Context, spec Spec, env Env, out Output) (*Comparison, error) {
	prev, resume := resumable(out.Dir, spec)
	data, pool, err := prepare(ctx, spec, env, out.Dir, 0, nil)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	rd, err := bundle.Begin(out.Dir, out.Force || resume)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	defer rd.Abandon()
	cmp := &Comparison{Spec: spec, Classes: data.Classes, Skipped: len(data.Skipped), Excluded: data.Excluded,
		Positive: pool.positive, Ranking: pool.Ranking, Lessdata: out.Version, histories: map[Method]*finetune.History{}, skipped: data.Skipped, audit: data.Audit,
		cams: map[Method][]report.Thumb{}}
	for _, i := range pool.ValIndex() {
		cmp.Validation, cmp.Labels = append(cmp.Validation, pool.Paths[i]), append(cmp.Labels, pool.Labels[i])
	}
	if data.Audit != nil {
		for _, g := range data.Audit.Groups {
			if g.Leak {
				cmp.Leaks = append(cmp.Leaks, g)
			}
		}
	}
	common := commonInfo(spec, data)
	var runErr error
	for _, m := range spec.Methods {
		dir := rd.Path(string(m))
		if r := prev.Result(m); resume && r != nil && r.finished() {
			if err := keepMethod(out.Dir, dir, r, cmp); err != nil {
				return nil, err
			}
			env.UI.logf("%s: kept from the interrupted run", m)
			continue
		}
		if ctx.Err() != nil {
			runErr = interrupted(ctx.Err())
			break
		}
		o, err := pool.Run(ctx, m, pool.TrainIndex(), pool.ValIndex(), spec.Data.Seed, RunHooks{Label: string(m),
			OnEpoch: func(h *finetune.History) error {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				return h.Save(dir)
			}})
		if err != nil {
			if errors.Is(err, ErrInterrupted) {
				os.RemoveAll(dir)
				runErr = err
				break
			}
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		err = o.Save(dir, common, out.Version)
		o.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		hl, err := report.Highlight(cmp.Classes, o.Paths, cmp.Labels, o.Probs, o.Positive, o.Threshold, highlightsPerClass)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		r := &MethodResult{Method: m, Metrics: o.Metrics, Seconds: o.Seconds, Epochs: o.Epochs(), Stopped: o.Stopped(), Model: string(m),
			Probs: o.Probs, Threshold: o.Threshold, Highlights: hl, Head: o.Linear}
		if o.Tuned != nil {
			r.Finetune = &o.Tuned.Choice
		}
		cmp.Methods = append(cmp.Methods, r)
		if h := o.History(); h != nil {
			r.Best, cmp.histories[m] = h.BestEpoch, h
		}
		if m.NeedsBackbone() && len(hl.Errors) > 0 {
			thumbs, err := explainErrors(ctx, dir, pool.b.Dir, cmp.Classes, hl.Errors[:min(len(hl.Errors), galleryErrors)], rd.Path(filepath.Join("gradcam", string(m))))
			if err != nil && ctx.Err() == nil {
				env.UI.warnf("%s: Grad-CAM of the errors failed: %v", m, err)
			}
			cmp.cams[m] = thumbs
		}
		if r.Stopped == finetune.StopInterrupted {
			runErr = interrupted(fmt.Errorf("%s stopped after %d epochs", m, r.Epochs))
			break
		}
	}
	if len(cmp.Methods) == 0 {
		if runErr != nil {
			return nil, runErr
		}
		return nil, fmt.Errorf("no method finished")
	}
	cmp.Complete = runErr == nil && len(cmp.Methods) == len(spec.Methods)
	cmp.Created = time.Now().UTC().Format(time.RFC3339)
	if err := files.WriteJSON(rd.Path(CompareFile), cmp); err != nil {
		return nil, err
	}
	// The report is written even after an interrupt: it is what keeps the finished work readable.
	if err := writeCompareReport(context.WithoutCancel(ctx), rd.Work, cmp); err != nil {
		return nil, err
	}
	if err := rd.Commit(); err != nil {
		return nil, err
	}
	return cmp, runErr
}

// resumable reads the comparison in dir and reports whether it is an unfinished one of the same
// spec, which Compare then resumes.
func resumable(dir string, spec Spec) (*Comparison, bool) {
	b, err := os.ReadFile(filepath.Join(dir, CompareFile))
	if err != nil {
		return nil, false
	}
	var prev Comparison
	if json.Unmarshal(b, &prev) != nil || prev.Complete {
		return nil, false
	}
	want, err1 := json.Marshal(spec)
	have, err2 := json.Marshal(prev.Spec)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(want, have) {
		return nil, false
	}
	return &prev, true
}

// keepMethod copies a finished method of the interrupted run in oldRun into the new run folder.
func keepMethod(oldRun, dir string, r *MethodResult, cmp *Comparison) error {
	src := filepath.Join(oldRun, r.Model)
	if r.Stopped != StopSolved {
		h, err := finetune.LoadHistory(src)
		if err != nil {
			return fmt.Errorf("resume %s: %w", oldRun, err)
		}
		cmp.histories[r.Method] = h
	}
	if err := copyTree(src, dir); err != nil {
		return fmt.Errorf("resume %s: %w", oldRun, err)
	}
	cmp.Methods = append(cmp.Methods, r)
	return nil
}

// explainErrors writes Grad-CAM overlays of a method's misclassified images (its bundle in dir,
// its backbone in backboneDir) into out, and returns them captioned for the report.
func explainErrors(ctx context.Context, dir, backboneDir string, classes []string, errs []report.Example, out string) ([]report.Thumb, error) {
	m, err := predict.Open(ctx, dir, predict.Options{Backbone: backboneDir})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	results := make([]predict.Result, len(errs))
	for i, e := range errs {
		results[i] = predict.Result{Path: e.Path, Index: slices.Index(classes, e.Predicted), Probs: []float32{}}
	}
	files, err := m.Explain(ctx, results, out)
	var thumbs []report.Thumb
	for i, f := range files {
		if f != "" {
			e := errs[i]
			thumbs = append(thumbs, report.Thumb{Path: f, Lines: []string{"true: " + e.True, fmt.Sprintf("predicted: %s (%.2f)", e.Predicted, e.Probability), filepath.Base(e.Path)}})
		}
	}
	return thumbs, err
}
