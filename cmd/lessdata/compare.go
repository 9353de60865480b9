package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
)

// compareOptions are compare's options.
type compareOptions struct {
	Spec    experiment.Spec
	Methods string
	Folds   int
	Repeats int
	Out     experiment.GridOutput
}

// methodFlagPrefixes name the per-method flags of commands that run several methods.
var methodFlagPrefixes = map[string]string{"size": "scratch-", "views": "transfer-", "augment": "transfer-"}

// methodsSpec completes the spec of a command that runs several methods: the methods of
// --methods, and errors that name the prefixed flags.
func methodsSpec(c *cobra.Command, methods string, spec *experiment.Spec) error {
	var err error
	if spec.Methods, err = experiment.ParseMethods(methods); err != nil {
		return fmt.Errorf("--methods: %w", err)
	}
	spec.Flags = prefixed(methodFlagPrefixes)
	return checkHeadFlags(c, spec.Transfer)
}

func newCompareCmd(f *factory, runF func(context.Context, *compareOptions) error) *cobra.Command {
	o := &compareOptions{Spec: experiment.DefaultSpec()}
	cmd := &cobra.Command{
		Use:   "compare --data DIR --backbone NAME|DIR --out RUN",
		Short: "Train several methods on the same split and report which to trust",
		Long: `Train the methods of --methods (default: the article's CNN from scratch, and the transfer
head on frozen backbone features; add finetune to fine-tune the backbone's top blocks) on the
same split and seed, then score each on the validation set.

RUN receives one folder per method (a model bundle that predict, eval and export reload),
compare.json (every validation image's probabilities, the errors), predictions.csv, report.md
and a self-contained report.html: accuracy, sensitivity and specificity with Wilson
intervals, ROC AUC with DeLong's, operating points, ROC, precision-recall and calibration
plots, confusion matrices, the misclassified images (with Grad-CAM for methods with a
backbone), the quick audit's leaks with the metrics without them, what the transfer head
chose on the training images, and each method's wall time. Ctrl-C keeps the methods that
finished and marks the run as interrupted (exit status 130); the same command resumes it.

With --folds K (stratified k-fold cross-validation over all images) and/or --repeats R
(different seeds), compare trains every method on every fold or repeat and reports each
method's mean with its 95% interval and the paired difference against the first method
(cv.json, cv.csv, report.html); no model bundle is written then. Finished trainings are saved
at once, so the same command resumes after Ctrl-C.`,
		Example: `  lessdata compare --data ../shared/datasets/car_vs_bus --backbone mobilenet_v2 --out runs/car_vs_bus`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := methodsSpec(c, o.Methods, &o.Spec); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCompare(c.Context(), f, o)
		},
	}
	dataFlags(cmd, &o.Spec.Data)
	fitFlags(cmd, &o.Spec.Fit)
	scratchFlags(cmd, &o.Spec.Scratch, "scratch-")
	transferFlags(cmd, &o.Spec.Transfer, "transfer-")
	finetuneFlags(cmd, &o.Spec.Finetune)
	outFlags(cmd, &o.Out.Output, &o.Spec.Positive)
	gridFlags(cmd, &o.Out.Jobs)
	cmd.Flags().StringVar(&o.Methods, "methods", "scratch,transfer", "methods to compare, comma separated: scratch, transfer, finetune")
	cmd.Flags().IntVar(&o.Folds, "folds", 0, "k-fold cross-validation over training and validation images pooled (0: use the given split)")
	cmd.Flags().IntVar(&o.Repeats, "repeats", 1, "repetitions with different seeds (and folds)")
	return cmd
}

func runCompare(ctx context.Context, f *factory, o *compareOptions) error {
	o.Out.Version = version
	if o.Folds != 0 || o.Repeats != 1 {
		return runCompareCV(ctx, f, o)
	}
	cmp, err := experiment.Compare(ctx, o.Spec, f.env(), o.Out.Output)
	if cmp == nil {
		return err
	}
	for _, r := range cmp.Methods {
		printMetrics(f.IO, string(r.Method), r.Metrics, r.Seconds)
	}
	if errors.Is(err, experiment.ErrInterrupted) {
		fmt.Fprintf(f.IO.Err, "interrupted: the report covers the methods that finished; run the same command to resume\n")
	}
	fmt.Fprintf(f.IO.Out, "report: %s\n", filepath.Join(o.Out.Dir, "report.html"))
	return err
}

func runCompareCV(ctx context.Context, f *factory, o *compareOptions) error {
	res, err := experiment.CrossValidate(ctx, o.Spec, f.env(), o.Folds, o.Repeats, o.Out)
	if res == nil {
		return err
	}
	what := fmt.Sprintf("%d repeats", o.Repeats)
	if o.Folds > 0 {
		what = fmt.Sprintf("%d-fold cross-validation x %d", o.Folds, o.Repeats)
	}
	fmt.Fprintf(f.IO.Out, "%s, mean [95%% CI] (%d trainings finished):\n", what, len(res.Cells))
	for _, m := range res.Methods {
		s := res.Means[m]
		fmt.Fprintf(f.IO.Out, "%-9s accuracy %-26s AUC %s\n", m, s.Accuracy.Format(false), s.AUC.Format(false))
	}
	for _, m := range res.Methods[1:] {
		key := m + " - " + res.Methods[0]
		d := res.Differences[key]
		fmt.Fprintf(f.IO.Out, "%s: accuracy %s  AUC %s (paired over %d)\n", key, d["accuracy"].Format(true), d["auc"].Format(true), d["accuracy"].N)
	}
	fmt.Fprintf(f.IO.Out, "report: %s\n", filepath.Join(o.Out.Dir, "report.html"))
	return err
}
