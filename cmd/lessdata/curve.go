package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
)

// curveOptions are curve's options.
type curveOptions struct {
	Spec    experiment.Spec
	Methods string
	Sizes   string
	Repeats int
	Out     experiment.GridOutput
}

func newCurveCmd(f *factory, runF func(context.Context, *curveOptions) error) *cobra.Command {
	o := &curveOptions{Spec: experiment.DefaultSpec()}
	var sizes []int
	cmd := &cobra.Command{
		Use:   "curve --data DIR --backbone NAME|DIR --out RUN",
		Short: "Learning curves: accuracy and AUC against the number of training images per class",
		Long: `Measure how performance grows with data. For each size (training images per class) and each
repeat, draw a stratified random subset of the training set (each smaller subset inside the
larger ones of its repeat), train every method on it, and score it on the fixed validation
set. The validation images never enter training.

RUN receives curve.json, curve.csv (mean and 95% interval over repeats per method and size,
with how many repeats each point holds), cells.csv (every training), curve_accuracy.png and
curve_auc.png. Every finished training is saved at once: after Ctrl-C (exit status 130), the
same command resumes where it stopped.`,
		Example: `  lessdata curve --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --sizes 5,10,20,40,all --repeats 3 --out runs/curve`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if sizes, err = parseSizes(o.Sizes); err != nil {
				return err
			}
			if err := methodsSpec(c, o.Methods, &o.Spec); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCurve(c.Context(), f, o, sizes)
		},
	}
	dataFlags(cmd, &o.Spec.Data)
	fitFlags(cmd, &o.Spec.Fit)
	scratchFlags(cmd, &o.Spec.Scratch, "scratch-")
	transferFlags(cmd, &o.Spec.Transfer, "transfer-")
	finetuneFlags(cmd, &o.Spec.Finetune)
	gridFlags(cmd, &o.Out.Jobs)
	cmd.Flags().StringVar(&o.Sizes, "sizes", "5,10,20,40,all", "training images per class, comma separated and ascending; all = the whole training set")
	cmd.Flags().StringVar(&o.Methods, "methods", "scratch,transfer", "methods to train, comma separated: scratch, transfer, finetune")
	cmd.Flags().IntVar(&o.Repeats, "repeats", 5, "repetitions with different seeds and subsets")
	cmd.Flags().StringVar(&o.Out.Dir, "out", "", "run folder (a rerun with the same options resumes it)")
	cmd.Flags().BoolVar(&o.Out.Force, "force", false, "start over in an existing run folder")
	cmd.MarkFlagRequired("out")
	return cmd
}

// parseSizes reads --sizes: positive numbers and "all" (0), ascending.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			sizes = append(sizes, 0)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not a positive number or all", f)
		}
		if len(sizes) > 0 && (sizes[len(sizes)-1] == 0 || n <= sizes[len(sizes)-1]) {
			return nil, fmt.Errorf("--sizes must ascend, with all last: %s", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func runCurve(ctx context.Context, f *factory, o *curveOptions, sizes []int) error {
	o.Out.Version = version
	res, err := experiment.Curve(ctx, o.Spec, f.env(), sizes, o.Repeats, o.Out)
	if res == nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "%-9s %-5s %-7s %-26s %-26s\n", "method", "size", "repeats", "accuracy [95% CI]", "AUC [95% CI]")
	for _, pt := range res.Points {
		fmt.Fprintf(f.IO.Out, "%-9s %-5s %-7s %-26s %-26s\n", pt.Method, pt.Size, fmt.Sprintf("%d/%d", pt.Repeats, pt.Asked), pt.Accuracy.Format(false), pt.AUC.Format(false))
	}
	fmt.Fprintf(f.IO.Out, "curve: %s (%.0f s)\n", filepath.Join(o.Out.Dir, "curve_accuracy.png"), res.Seconds)
	return err
}
