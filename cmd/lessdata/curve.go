package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/report"
	"github.com/lessdata/lessdata/study"
)

type curveOptions struct {
	dataOptions
	fitFlags
	gridFlags
	scratch  scratchFlags
	transfer transferFlags
	Sizes    string
	Methods  string
	Out      string
	Force    bool
}

func newCurveCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &curveOptions{}
	cmd := &cobra.Command{
		Use:   "curve --data DIR --backbone NAME|DIR --out RUN",
		Short: "Learning curves: accuracy and AUC against the number of training images per class",
		Long: `Measure how performance grows with data. For each size (training images per class) and each
repeat, draw a stratified random subset of the training set (each smaller subset inside the
larger ones of its repeat), train scratch and transfer on it, and score both on the fixed
validation set. The validation images never enter training.

RUN receives curve.json, curve.csv (mean and 95% interval over repeats per method and size),
cells.csv (every training), curve_accuracy.png and curve_auc.png. Every finished training
is saved at once: after Ctrl-C, the same command resumes where it stopped.`,
		Example: `  lessdata curve --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --sizes 5,10,20,40,all --repeats 3 --out runs/curve`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCurve(c.Context(), ios, g, o)
		},
	}
	o.dataOptions.flags(cmd)
	o.fitFlags.flags(cmd)
	o.gridFlags.flags(cmd, 5)
	o.scratch.flags(cmd, "scratch-")
	o.transfer.flags(cmd, "transfer-")
	cmd.Flags().StringVar(&o.Sizes, "sizes", "5,10,20,40,all", "training images per class, comma separated; all = the whole training set")
	cmd.Flags().StringVar(&o.Methods, "methods", "scratch,transfer", "methods to train: scratch, transfer or both")
	cmd.Flags().StringVar(&o.Out, "out", "", "run folder (a rerun with the same options resumes it)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "start over in an existing run folder")
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

func parseMethods(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		if m != "scratch" && m != "transfer" {
			return nil, fmt.Errorf("--methods: %q is not scratch or transfer", m)
		}
		out = append(out, m)
	}
	return out, nil
}

// curvePoint is one method at one size, over repeats.
type curvePoint struct {
	Method        string         `json:"method"`
	Size          string         `json:"size"`
	ImagesPerCls  float64        `json:"images_per_class"`
	Accuracy      study.Interval `json:"accuracy"`
	AUC           study.Interval `json:"auc"`
	MeanSeconds   float64        `json:"mean_seconds"`
	TrainingCount int            `json:"n_train"`
}

func runCurve(ctx context.Context, ios streams, g *globalOptions, o *curveOptions) error {
	sizes, err := parseSizes(o.Sizes)
	if err != nil {
		return err
	}
	methods, err := parseMethods(o.Methods)
	if err != nil {
		return err
	}
	if o.Repeats < 1 || o.Jobs < 1 {
		return fmt.Errorf("--repeats and --jobs must be at least 1")
	}
	start := time.Now()
	p, err := startGrid(ctx, ios, g, gridSpec{Command: "curve", Out: o.Out, Force: o.Force, Data: o.dataOptions, Fit: o.fitFlags,
		Scratch: o.scratch, Transfer: o.transfer, Jobs: o.Jobs, Extra: map[string]any{"sizes": sizes, "methods": methods, "repeats": o.Repeats}})
	if err != nil {
		return err
	}
	defer p.Close()
	trainLabels := p.labels[:p.nTrain]
	valIdx := make([]int, 0, len(p.labels)-p.nTrain)
	for i := p.nTrain; i < len(p.labels); i++ {
		valIdx = append(valIdx, i)
	}
	subsets := make([][][]int, o.Repeats) // [repeat][size]
	var seeds []uint64
	for r := range subsets {
		if subsets[r], err = study.NestedSubsets(trainLabels, len(p.classes), sizes, o.Seed+uint64(r)); err != nil {
			return err
		}
		seeds = append(seeds, o.Seed+uint64(r))
	}
	if contains(methods, "transfer") {
		// Every training image appears in the largest subset: warm the cache for all of them.
		if err := p.warm(ctx, ios, seeds); err != nil {
			return err
		}
	}
	var cells []study.Cell
	for r := 0; r < o.Repeats; r++ {
		for _, size := range sizes {
			for _, m := range methods {
				cells = append(cells, study.Cell{Method: m, Size: size, Repeat: r})
			}
		}
	}
	sizeIndex := map[int]int{}
	for i, s := range sizes {
		sizeIndex[s] = i
	}
	runner := &study.Runner{Dir: o.Out, Jobs: o.Jobs, Progress: gridProgress(ios, len(cells))}
	results, runErr := runner.Run(ctx, cells, func(ctx context.Context, c study.Cell) (*study.Result, error) {
		return p.train(ctx, c.Method, subsets[c.Repeat][sizeIndex[c.Size]], valIdx, o.Seed+uint64(c.Repeat))
	})
	if runErr != nil && !errors.Is(runErr, study.ErrInterrupted) {
		return runErr
	}
	points := aggregateCurve(results, methods, sizes, len(p.classes))
	if err := writeCurve(o.Out, points, results, methods, time.Since(start).Seconds()); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "%-9s %-5s %-22s %-22s\n", "method", "size", "accuracy [95% CI]", "AUC [95% CI]")
	for _, pt := range points {
		fmt.Fprintf(ios.Out, "%-9s %-5s %-22s %-22s\n", pt.Method, pt.Size, fmtInterval(pt.Accuracy), fmtInterval(pt.AUC))
	}
	fmt.Fprintf(ios.Out, "curve: %s (%.0f s)\n", filepath.Join(o.Out, "curve_accuracy.png"), time.Since(start).Seconds())
	return runErr
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func fmtInterval(iv study.Interval) string {
	if math.IsNaN(iv.Mean) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", iv.Mean, iv.Low, iv.High)
}

// aggregateCurve summarises finished cells per method and size.
func aggregateCurve(results []*study.Result, methods []string, sizes []int, classes int) []curvePoint {
	var points []curvePoint
	for _, m := range methods {
		for _, size := range sizes {
			var acc, auc, secs []float64
			n := 0
			for _, r := range results {
				if r != nil && r.Method == m && r.Size == size {
					acc, auc, secs = append(acc, r.Accuracy), append(auc, r.AUC), append(secs, r.Seconds)
					n = r.NTrain
				}
			}
			if len(acc) == 0 {
				continue
			}
			label := strconv.Itoa(size)
			if size == 0 {
				label = "all"
			}
			points = append(points, curvePoint{Method: m, Size: label, ImagesPerCls: float64(n) / float64(classes),
				Accuracy: clip01(study.TInterval(acc, 0.95)), AUC: clip01(study.TInterval(auc, 0.95)),
				MeanSeconds: study.TInterval(secs, 0.95).Mean, TrainingCount: n})
		}
	}
	return points
}

// clip01 bounds an interval of a proportion to [0, 1].
func clip01(iv study.Interval) study.Interval {
	iv.Low, iv.High = math.Max(0, iv.Low), math.Min(1, iv.High)
	return iv
}

func writeCurve(dir string, points []curvePoint, results []*study.Result, methods []string, seconds float64) error {
	var done []*study.Result
	for _, r := range results {
		if r != nil {
			done = append(done, r)
		}
	}
	if err := files.WriteJSON(filepath.Join(dir, "curve.json"), map[string]any{"points": points, "cells": done, "seconds": seconds}); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	rows := [][]string{{"method", "size", "images_per_class", "repeats", "accuracy_mean", "accuracy_low", "accuracy_high", "auc_mean", "auc_low", "auc_high", "mean_seconds"}}
	for _, p := range points {
		rows = append(rows, []string{p.Method, p.Size, f(p.ImagesPerCls), strconv.Itoa(p.Accuracy.N), f(p.Accuracy.Mean), f(p.Accuracy.Low),
			f(p.Accuracy.High), f(p.AUC.Mean), f(p.AUC.Low), f(p.AUC.High), f(p.MeanSeconds)})
	}
	if err := writeCSV(filepath.Join(dir, "curve.csv"), rows); err != nil {
		return err
	}
	cells := [][]string{{"method", "size", "repeat", "n_train", "n_val", "accuracy", "auc", "epochs", "seconds"}}
	for _, r := range done {
		cells = append(cells, []string{r.Method, strconv.Itoa(r.Size), strconv.Itoa(r.Repeat), strconv.Itoa(r.NTrain), strconv.Itoa(r.NVal),
			f(r.Accuracy), f(r.AUC), strconv.Itoa(r.Epochs), f(r.Seconds)})
	}
	if err := writeCSV(filepath.Join(dir, "cells.csv"), cells); err != nil {
		return err
	}
	for _, metric := range []string{"accuracy", "auc"} {
		var series []report.BandSeries
		for i, m := range methods {
			s := report.BandSeries{Name: m, Color: i}
			for _, p := range points {
				if p.Method != m {
					continue
				}
				iv := p.Accuracy
				if metric == "auc" {
					iv = p.AUC
				}
				if math.IsNaN(iv.Mean) {
					continue
				}
				s.X, s.Mean, s.Low, s.High = append(s.X, p.ImagesPerCls), append(s.Mean, iv.Mean), append(s.Low, iv.Low), append(s.High, iv.High)
			}
			if len(s.X) > 0 {
				series = append(series, s)
			}
		}
		name := map[string]string{"accuracy": "Validation accuracy", "auc": "Validation ROC AUC"}[metric]
		if err := report.WriteBandPlot(filepath.Join(dir, "curve_"+metric+".png"), name+" against training images per class (mean, 95% interval over repeats)",
			"training images per class (log scale)", metric, series, true); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(path string, rows [][]string) error {
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(rows); err != nil {
		return err
	}
	return files.WriteAtomic(path, buf.Bytes())
}
