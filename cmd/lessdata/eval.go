package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
)

// evalOptions are eval's options.
type evalOptions struct {
	Spec experiment.EvalSpec
	Out  experiment.Output
	JSON bool
}

func newEvalCmd(f *factory, runF func(context.Context, *evalOptions) error) *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --model RUN --data DIR [--out REPORT]",
		Short: "Score a trained model on a labelled folder (external validation)",
		Long: `Score a model on a labelled folder it never saw: DIR/<class>/* (or the validation folder of
a dataset laid out as DIR/train and DIR/validation). Its classes must be among the model's.

With --out, REPORT receives the same report as compare (accuracy, AUC, sensitivity and
specificity with intervals, operating points, ROC, precision-recall and calibration plots,
the misclassified images), eval.json and predictions.csv.`,
		Example: `  lessdata eval --model runs/car_vs_bus/transfer --data more_cars_and_buses --out runs/external`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runEval(c.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Spec.Model, "model", "", "run folder of a trained model")
	cmd.Flags().StringVar(&o.Spec.Data, "data", "", "labelled image folder")
	cmd.Flags().StringVar(&o.Spec.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names)")
	cmd.Flags().StringVar(&o.Spec.Positive, "positive", "", "positive class for sensitivity and specificity (default: the model's)")
	cmd.Flags().StringVar(&o.Out.Dir, "out", "", "write a report into this new folder")
	cmd.Flags().BoolVar(&o.Out.Force, "force", false, "replace an earlier report in --out")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the metrics as JSON")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("data")
	return cmd
}

func runEval(ctx context.Context, f *factory, o *evalOptions) error {
	o.Out.Version = version
	ev, err := experiment.Evaluate(ctx, o.Spec, f.env(), o.Out)
	if ev == nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(ev.Metrics); err == nil {
			err = jerr
		}
		return err
	}
	printMetrics(f.IO, ev.Kind, ev.Metrics, 0)
	tw := tabwriter.NewWriter(f.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tPRECISION\tRECALL\tF1\tIMAGES")
	for _, c := range ev.Metrics.PerClass {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\n", c.Class, c.Precision, c.Recall, c.F1, c.Support)
	}
	tw.Flush()
	if o.Out.Dir != "" && err == nil {
		fmt.Fprintf(f.IO.Out, "report: %s\n", filepath.Join(o.Out.Dir, "report.html"))
	}
	return err
}
