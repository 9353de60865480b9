package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
)

// evalOptions are eval's options.
type evalOptions struct {
	Model    string
	Data     string
	Backbone string
	Positive string
	JSON     bool
}

func newEvalCmd(f *factory, runF func(context.Context, *evalOptions) error) *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --model RUN --data DIR",
		Short: "Score a trained model on a labelled folder",
		Long: `Score a model on a labelled folder: DIR/<class>/* (or the validation folder of a dataset
laid out as DIR/train and DIR/validation). Its classes must be among the model's.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runEval(c.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model")
	cmd.Flags().StringVar(&o.Data, "data", "", "labelled image folder")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names)")
	cmd.Flags().StringVar(&o.Positive, "positive", "", "positive class for sensitivity and specificity (default: the model's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the metrics as JSON")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("data")
	return cmd
}

func runEval(ctx context.Context, f *factory, o *evalOptions) error {
	dir := o.Data
	for _, v := range []string{"validation", "val"} {
		if st, err := os.Stat(filepath.Join(o.Data, v)); err == nil && st.IsDir() {
			dir = filepath.Join(o.Data, v)
			break
		}
	}
	split, skipped, err := dataset.ScanSplit(dir, 0)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(f.IO.Err, "skipped %s: %s\n", s.Path, s.Reason)
	}
	m, err := predict.Open(ctx, o.Model, predict.Options{Backbone: o.Backbone, Fetch: f.fetchOptions(false)})
	if err != nil {
		return err
	}
	defer m.Close()
	classes := m.Classes()
	remap := make([]int, len(split.Classes))
	for i, c := range split.Classes {
		remap[i] = slices.Index(classes, c)
		if remap[i] < 0 {
			return fmt.Errorf("%s has class %q, which the model does not know (its classes: %v)", dir, c, classes)
		}
	}
	pos := -1
	switch {
	case o.Positive != "" && len(classes) != 2:
		return fmt.Errorf("--positive applies to two classes; the model has %v", classes)
	case o.Positive != "":
		if pos = slices.Index(classes, o.Positive); pos < 0 {
			return fmt.Errorf("--positive %q is not a class of the model (classes: %v)", o.Positive, classes)
		}
	case len(classes) == 2:
		if pos = slices.Index(classes, m.Manifest.Positive); pos < 0 {
			pos = 1
		}
	}
	paths := make([]string, len(split.Items))
	for i, it := range split.Items {
		paths[i] = it.Path
	}
	bar := newBar(f.IO, len(paths), "evaluating")
	var labels []int
	var probs [][]float32
	i := 0
	err = m.Stream(ctx, paths, 0, func(r predict.Result) error {
		if r.Err != nil {
			fmt.Fprintf(f.IO.Err, "skipped %s: %s\n", r.Path, oneLine(r.Err))
		} else {
			labels = append(labels, remap[split.Items[i].Class])
			probs = append(probs, r.Probs)
		}
		i++
		bar.Set(i)
		return nil
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if len(labels) == 0 {
		return fmt.Errorf("no image of %s could be read", dir)
	}
	met, err := report.Evaluate(classes, labels, probs, pos, 0.5)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(met)
	}
	printMetrics(f.IO, m.Manifest.Kind, met, 0)
	tw := tabwriter.NewWriter(f.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tPRECISION\tRECALL\tF1\tIMAGES")
	for _, c := range met.PerClass {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\n", c.Class, c.Precision, c.Recall, c.F1, c.Support)
	}
	return tw.Flush()
}
