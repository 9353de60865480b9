package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/report"
	"github.com/lessdata/lessdata/study"
)

// ErrInterrupted is wrapped by the error of a job that was cancelled: what was done is kept (a
// model's best weights so far, a compare's finished methods, a grid's finished cells) and the
// same command resumes or repeats it.
var ErrInterrupted = errors.New("interrupted")

// interrupted wraps err as an interruption.
func interrupted(err error) error {
	if errors.Is(err, ErrInterrupted) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInterrupted, err)
}

// gridInterrupted turns the grid runner's interruption into ErrInterrupted.
func gridInterrupted(err error) error {
	if errors.Is(err, study.ErrInterrupted) {
		return interrupted(err)
	}
	return err
}

// Outcome is a trained and scored method, ready to be saved.
type Outcome struct {
	Method  Method
	Classes []string
	// Trained is a model trained by epochs, Linear the linear transfer head, Tuned a fine-tuned
	// backbone with its head: one is set.
	Trained  *finetune.Trained
	Linear   *finetune.LinearHead
	Tuned    *finetune.FineTuned
	Manifest *bundle.Manifest
	// Info records how the model was trained, for bundle.json.
	Info    map[string]any
	Seconds float64
	// Metrics score the final model on the validation images (files Paths), whose class
	// probabilities are Probs; Positive is the positive class's index (-1: none) and Threshold
	// the decision threshold on its probability.
	Metrics   report.Metrics
	Paths     []string
	Probs     [][]float32
	Positive  int
	Threshold float64
}

// History returns the fit's epochs, or nil for a head solved without epochs.
func (o *Outcome) History() *finetune.History {
	switch {
	case o.Trained != nil:
		return o.Trained.History
	case o.Tuned != nil:
		return o.Tuned.History
	}
	return nil
}

// Epochs returns the number of epochs trained (0 for a head solved without epochs).
func (o *Outcome) Epochs() int {
	if h := o.History(); h != nil {
		return len(h.Epochs)
	}
	return 0
}

// Stopped says how the fit ended: finetune's stop reasons, or "solved" for the linear head.
func (o *Outcome) Stopped() string {
	if h := o.History(); h != nil {
		return h.Stopped
	}
	return StopSolved
}

// StopSolved is how a head solved to convergence (no epochs) ends.
const StopSolved = "solved"

// Close frees the trained network.
func (o *Outcome) Close() {
	if o.Trained != nil && o.Trained.Net != nil {
		o.Trained.Net.Close()
	}
	if o.Tuned != nil {
		o.Tuned.Close()
	}
}

// Save writes the model bundle, history, metrics and curves into dir; common is what every
// bundle of the job records (data, seed, loop).
func (o *Outcome) Save(dir string, common map[string]any, version string) error {
	info := map[string]any{}
	for k, v := range common {
		info[k] = v
	}
	for k, v := range o.Info {
		info[k] = v
	}
	info["stopped"], info["seconds"] = o.Stopped(), o.Seconds
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	m := o.Manifest
	m.Training, m.Lessdata, m.Created = raw, version, time.Now().UTC().Format(time.RFC3339)
	model := filepath.Join(dir, bundle.ModelDir)
	switch {
	case o.Linear != nil:
		err = o.Linear.Model.Weights().Freeze(model)
	case o.Tuned != nil:
		err = o.Tuned.Model.Freeze(model)
	default:
		err = o.Trained.Net.Freeze(model)
	}
	if err != nil {
		return err
	}
	if err := bundle.Write(dir, m); err != nil {
		return err
	}
	if err := files.WriteJSON(filepath.Join(dir, "metrics.json"), o.Metrics); err != nil {
		return err
	}
	if o.Linear != nil {
		return nil
	}
	if err := o.History().Save(dir); err != nil {
		return err
	}
	c := report.Curves{Runs: []report.NamedHistory{{Name: string(o.Method), History: o.History()}}}
	if err := c.WriteLoss(filepath.Join(dir, "loss.png")); err != nil {
		return err
	}
	return c.WriteAccuracy(filepath.Join(dir, "accuracy.png"))
}

// commonInfo is what every model bundle of a job records of the data and the training loop.
func commonInfo(spec Spec, data *Data) map[string]any {
	return map[string]any{"data": spec.Data.Dir, "seed": spec.Data.Seed, "epochs": spec.Fit.Epochs, "batch": spec.Fit.Batch,
		"samples_per_epoch": spec.Fit.SamplesPerEpoch, "patience": spec.Fit.Patience, "keep_best": spec.Fit.KeepBest,
		"skipped": len(data.Skipped), "excluded": data.Excluded}
}
