package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/internal/files"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/report"
)

type compareOptions struct {
	dataOptions
	fitFlags
	gridFlags
	Folds    int
	scratch  scratchFlags
	transfer transferFlags
	outFlags
}

func newCompareCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare --data DIR --backbone NAME|DIR --out RUN",
		Short: "Train scratch and transfer on the same split and budget, and report which to trust",
		Long: `Train the article's CNN from scratch and a head on frozen backbone features, on the same
split, seed, augmentation and number of epochs, then score both on the validation set.

RUN receives scratch/ and transfer/ (each a model bundle that predict and eval reload),
compare.json, report.md and a self-contained report.html with the validation loss and
accuracy curves of both methods, a metrics table (accuracy with its 95% Wilson interval, ROC
AUC, per-class precision, recall and F1, sensitivity and specificity), both confusion
matrices, both ROC curves and each method's wall time.

With --folds K (stratified k-fold cross-validation over all images) and/or --repeats R
(different seeds), compare trains both methods on every fold or repeat and reports each
method's mean with its 95% interval and the paired difference transfer minus scratch with
its interval (cv.json, cv.csv, report.html); no model bundle is written then. Finished
trainings are saved at once, so the same command resumes after Ctrl-C.`,
		Example: `  lessdata compare --data ../shared/datasets/car_vs_bus --backbone mobilenet_v2 --out runs/car_vs_bus`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCompare(c.Context(), ios, g, o)
		},
	}
	o.dataOptions.flags(cmd)
	o.fitFlags.flags(cmd)
	o.scratch.flags(cmd, "scratch-")
	o.transfer.flags(cmd, "transfer-")
	o.outFlags.flags(cmd)
	o.gridFlags.flags(cmd, 1)
	cmd.Flags().IntVar(&o.Folds, "folds", 0, "k-fold cross-validation over training and validation images pooled (0: use the given split)")
	return cmd
}

// comparison is compare.json.
type comparison struct {
	Data     string             `json:"data"`
	Classes  []string           `json:"classes"`
	Seed     uint64             `json:"seed"`
	Epochs   int                `json:"epochs"`
	Skipped  int                `json:"skipped_files"`
	Excluded []audit.Exclusion  `json:"excluded"`
	Methods  map[string]*method `json:"methods"`
	Created  string             `json:"created"`
	Lessdata string             `json:"lessdata_version"`
}

type method struct {
	Metrics report.Metrics `json:"metrics"`
	Seconds float64        `json:"seconds"`
	Epochs  int            `json:"epochs_run"`
	Best    int            `json:"best_epoch"`
	Stopped string         `json:"stopped"`
	Model   string         `json:"model"`
}

func runCompare(ctx context.Context, ios streams, g *globalOptions, o *compareOptions) error {
	if err := o.scratch.validate(); err != nil {
		return err
	}
	if o.Folds != 0 || o.Repeats != 1 {
		return runCompareCV(ctx, ios, g, o)
	}
	fit, ds, rd, err := beginRun(ctx, ios, o.dataOptions, o.fitFlags, o.outFlags)
	if err != nil {
		return err
	}
	defer rd.Abandon()
	common := runInfo(o.dataOptions, o.fitFlags, ds)
	var outcomes []*outcome
	defer func() {
		for _, oc := range outcomes {
			oc.Close()
		}
	}()
	type recipe struct {
		name string
		run  func(finetune.FitOptions) (*outcome, error)
	}
	recipes := []recipe{
		{bundle.KindScratch, func(f finetune.FitOptions) (*outcome, error) {
			return runScratch(ctx, ios, ds.Dataset, o.dataOptions, o.scratch, f)
		}},
		{bundle.KindTransfer, func(f finetune.FitOptions) (*outcome, error) {
			return runTransfer(ctx, ios, g, ds.Dataset, o.transfer, f)
		}},
	}
	for _, r := range recipes {
		if ctx.Err() != nil {
			break
		}
		dir := rd.Path(r.name)
		f := fit
		f.OnEpoch = func(h *finetune.History) error {
			return saveHistoryIn(dir, h)
		}
		oc, err := r.run(f)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		outcomes = append(outcomes, oc)
		if len(oc.Trained.History.Epochs) == 0 {
			return fmt.Errorf("%s stopped before its first epoch ended: nothing to compare", r.name)
		}
		if err := oc.score(ds.Classes, o.Positive); err != nil {
			return err
		}
		if err := oc.save(dir, common); err != nil {
			return err
		}
		summarize(ios, oc.Trained.History)
	}
	cmp := &comparison{Data: o.Data, Classes: ds.Classes, Seed: o.Seed, Epochs: o.Epochs, Skipped: len(ds.Skipped), Excluded: ds.Excluded,
		Methods: map[string]*method{}, Created: time.Now().UTC().Format(time.RFC3339), Lessdata: version}
	for _, oc := range outcomes {
		h := oc.Trained.History
		cmp.Methods[oc.Kind] = &method{Metrics: oc.Metrics, Seconds: oc.Seconds, Epochs: len(h.Epochs), Best: h.BestEpoch, Stopped: h.Stopped, Model: oc.Kind}
	}
	if err := files.WriteJSON(rd.Path("compare.json"), cmp); err != nil {
		return err
	}
	if err := writeCompareReport(rd.Work, cmp, outcomes, ds.Skipped); err != nil {
		return err
	}
	if err := rd.Commit(); err != nil {
		return err
	}
	for _, oc := range outcomes {
		printMetrics(ios, oc.Kind, oc)
	}
	if len(outcomes) < len(recipes) {
		fmt.Fprintln(ios.Err, "interrupted: the report covers the methods that finished")
	}
	fmt.Fprintf(ios.Out, "report: %s\n", filepath.Join(o.Out, "report.html"))
	return nil
}

// saveHistoryIn saves the history so far into a method's folder (created on first use).
func saveHistoryIn(dir string, h *finetune.History) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return h.Save(dir)
}
