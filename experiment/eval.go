package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
)

// EvalSpec says which model to score on which labelled folder.
type EvalSpec struct {
	// Model is a model bundle (a run folder with bundle.json).
	Model string
	// Data is DIR/<class>/*, or a dataset whose DIR/validation (or DIR/val) is used.
	Data string
	// Backbone replaces the backbone a transfer model names ("": the one it names).
	Backbone string
	// Positive overrides the model's positive class ("": the model's).
	Positive string
}

// Evaluation is a model scored on a labelled folder it never saw (eval.json).
type Evaluation struct {
	Model   string         `json:"model"`
	Kind    string         `json:"kind"`
	Data    string         `json:"data"`
	Classes []string       `json:"classes"`
	Metrics report.Metrics `json:"metrics"`
	// Skipped lists the files that could not be read.
	Skipped []dataset.Skip `json:"skipped"`
	// Images, Labels and Probs are every scored image with its class and the model's
	// probabilities.
	Images []string    `json:"images"`
	Labels []int       `json:"labels"`
	Probs  [][]float32 `json:"probabilities"`
}

// Evaluate scores a model on a labelled folder: its classes must be among the model's. With
// out.Dir set, it writes the same report as compare (metrics with intervals, operating points,
// ROC, precision-recall and calibration, the misclassified images) into a fresh run folder:
// external validation.
func Evaluate(ctx context.Context, es EvalSpec, env Env, out Output) (*Evaluation, error) {
	if out.Dir != "" {
		if err := bundle.CheckOut(out.Dir, es.Model, es.Data); err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
	}
	dir := es.Data
	for _, v := range []string{"validation", "val"} {
		if st, err := os.Stat(filepath.Join(es.Data, v)); err == nil && st.IsDir() {
			dir = filepath.Join(es.Data, v)
			break
		}
	}
	split, skipped, err := dataset.ScanSplitContext(ctx, dir, 0)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	for _, s := range skipped {
		env.UI.logf("skipped %s: %s", s.Path, s.Reason)
	}
	m, err := predict.Open(ctx, es.Model, predict.Options{Backbone: es.Backbone, Fetch: env.Fetch})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	classes := m.Classes()
	remap := make([]int, len(split.Classes))
	for i, c := range split.Classes {
		if remap[i] = slices.Index(classes, c); remap[i] < 0 {
			return nil, fmt.Errorf("%s has class %q, which the model does not know (its classes: %v)", dir, c, classes)
		}
	}
	positive := es.Positive
	if positive == "" {
		positive = m.Manifest.Positive // valid: bundle.Read checks it
	}
	pos, err := positiveIndex(classes, positive)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(split.Items))
	for i, it := range split.Items {
		paths[i] = it.Path
	}
	ev := &Evaluation{Model: es.Model, Kind: m.Manifest.Kind, Data: dir, Classes: classes, Skipped: skipped}
	bar := env.UI.bar(len(paths), "evaluating")
	i := 0
	err = m.Stream(ctx, paths, 0, func(r predict.Result) error {
		if r.Err != nil {
			ev.Skipped = append(ev.Skipped, dataset.Skip{Path: r.Path, Reason: r.Err.Error()})
			env.UI.logf("skipped %s: %v", r.Path, r.Err)
		} else {
			ev.Images, ev.Labels, ev.Probs = append(ev.Images, r.Path), append(ev.Labels, remap[split.Items[i].Class]), append(ev.Probs, r.Probs)
		}
		i++
		bar.Set(i)
		return nil
	})
	bar.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return nil, interrupted(err)
		}
		return nil, err
	}
	if len(ev.Labels) == 0 {
		return nil, fmt.Errorf("no image of %s could be read", dir)
	}
	if ev.Metrics, err = report.Score(classes, ev.Labels, ev.Probs, pos, 0.5); err != nil {
		return nil, err
	}
	if out.Dir == "" {
		return ev, nil
	}
	return ev, ev.write(ctx, out, pos)
}

// write puts the evaluation's report into a fresh run folder.
func (ev *Evaluation) write(ctx context.Context, out Output, pos int) error {
	rd, err := bundle.Begin(out.Dir, out.Force)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer rd.Abandon()
	hl, err := report.Highlight(ev.Classes, ev.Images, ev.Labels, ev.Probs, pos, 0.5, highlightsPerClass)
	if err != nil {
		return err
	}
	method := Method(ev.Kind)
	cmp := &Comparison{Spec: Spec{Data: DataSpec{Dir: ev.Data}, Methods: []Method{method}}, Classes: ev.Classes, Skipped: len(ev.Skipped),
		Validation: ev.Images, Labels: ev.Labels, Positive: pos, Complete: true, Created: time.Now().UTC().Format(time.RFC3339), Lessdata: out.Version,
		Methods: []*MethodResult{{Method: method, Metrics: ev.Metrics, Probs: ev.Probs, Highlights: hl, Model: ev.Model, Stopped: "completed"}},
		skipped: ev.Skipped}
	if err := files.WriteJSON(rd.Path("eval.json"), ev); err != nil {
		return err
	}
	doc := &report.Document{
		Title: "lessdata: external validation of " + filepath.Base(filepath.Clean(ev.Model)) + " on " + filepath.Base(filepath.Clean(ev.Data)),
		Lead: fmt.Sprintf("The %s model %s, scored on %d labelled images it never saw (%s). Classes: %v.",
			ev.Kind, ev.Model, len(ev.Labels), ev.Data, ev.Classes),
	}
	if err := writeReport(ctx, rd.Work, cmp, doc); err != nil {
		return err
	}
	return rd.Commit()
}
