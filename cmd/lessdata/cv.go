package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/lessdata/lessdata/report"
	"github.com/lessdata/lessdata/study"
)

// cvSummary is cv.json: each method's mean and interval over folds or repeats, and the paired
// difference transfer minus scratch.
type cvSummary struct {
	Data       string                    `json:"data"`
	Folds      int                       `json:"folds"`
	Repeats    int                       `json:"repeats"`
	Methods    map[string]cvMethod       `json:"methods"`
	Difference map[string]study.Interval `json:"difference_transfer_minus_scratch"`
	Cells      []*study.Result           `json:"cells"`
	Seconds    float64                   `json:"seconds"`
}

type cvMethod struct {
	Accuracy study.Interval `json:"accuracy"`
	AUC      study.Interval `json:"auc"`
	Seconds  float64        `json:"mean_seconds"`
}

// runCompareCV runs compare as k-fold cross-validation (over train and validation pooled) and/or
// repeats with different seeds, and reports intervals and the paired difference.
func runCompareCV(ctx context.Context, ios streams, g *globalOptions, o *compareOptions) error {
	if o.Repeats < 1 || o.Jobs < 1 || o.Folds < 0 || o.Folds == 1 {
		return fmt.Errorf("--repeats and --jobs must be at least 1, and --folds 0 (none) or at least 2")
	}
	start := time.Now()
	p, err := startGrid(ctx, ios, g, gridSpec{Command: "compare", Out: o.Out, Force: o.Force, Data: o.dataOptions, Fit: o.fitFlags,
		Scratch: o.scratch, Transfer: o.transfer, Jobs: o.Jobs, Extra: map[string]any{"folds": o.Folds, "repeats": o.Repeats}})
	if err != nil {
		return err
	}
	defer p.Close()
	type split struct{ train, val []int }
	splits := map[[2]int]split{} // (repeat, fold) -> indices into the pool
	var cells []study.Cell
	var seeds []uint64
	for r := 0; r < o.Repeats; r++ {
		seed := o.Seed + uint64(r)
		seeds = append(seeds, seed)
		if o.Folds == 0 {
			var tr, va []int
			for i := range p.labels {
				if i < p.nTrain {
					tr = append(tr, i)
				} else {
					va = append(va, i)
				}
			}
			splits[[2]int{r, 0}] = split{tr, va}
		} else {
			folds, err := study.StratifiedFolds(p.labels, len(p.classes), o.Folds, seed)
			if err != nil {
				return fmt.Errorf("--folds %d: %w", o.Folds, err)
			}
			for f, fold := range folds {
				splits[[2]int{r, f + 1}] = split{study.Complement(len(p.labels), fold), fold}
			}
		}
		for f := 0; f <= o.Folds; f++ {
			if o.Folds > 0 && f == 0 {
				continue
			}
			for _, m := range []string{"scratch", "transfer"} {
				cells = append(cells, study.Cell{Method: m, Repeat: r, Fold: f})
			}
		}
	}
	if err := p.warm(ctx, ios, seeds); err != nil {
		return err
	}
	runner := &study.Runner{Dir: o.Out, Jobs: o.Jobs, Progress: gridProgress(ios, len(cells))}
	results, runErr := runner.Run(ctx, cells, func(ctx context.Context, c study.Cell) (*study.Result, error) {
		s := splits[[2]int{c.Repeat, c.Fold}]
		return p.train(ctx, c.Method, s.train, s.val, o.Seed+uint64(c.Repeat))
	})
	if runErr != nil && !errors.Is(runErr, study.ErrInterrupted) {
		return runErr
	}
	sum := summarizeCV(results)
	sum.Data, sum.Folds, sum.Repeats, sum.Seconds = o.Data, o.Folds, o.Repeats, time.Since(start).Seconds()
	if err := writeCV(o.Out, sum); err != nil {
		return err
	}
	what := fmt.Sprintf("%d repeats", o.Repeats)
	if o.Folds > 0 {
		what = fmt.Sprintf("%d-fold cross-validation x %d", o.Folds, o.Repeats)
	}
	fmt.Fprintf(ios.Out, "%s, mean [95%% CI]:\n", what)
	for _, m := range []string{"scratch", "transfer"} {
		fmt.Fprintf(ios.Out, "%-9s accuracy %-22s AUC %s\n", m, fmtInterval(sum.Methods[m].Accuracy), fmtInterval(sum.Methods[m].AUC))
	}
	d := sum.Difference
	fmt.Fprintf(ios.Out, "transfer - scratch: accuracy %s  AUC %s (paired over %d)\n", fmtSigned(d["accuracy"]), fmtSigned(d["auc"]), d["accuracy"].N)
	fmt.Fprintf(ios.Out, "report: %s\n", filepath.Join(o.Out, "report.html"))
	return runErr
}

func fmtSigned(iv study.Interval) string {
	if iv.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.3f [%+.3f, %+.3f]", iv.Mean, iv.Low, iv.High)
}

func summarizeCV(results []*study.Result) *cvSummary {
	sum := &cvSummary{Methods: map[string]cvMethod{}, Difference: map[string]study.Interval{}}
	by := map[string]map[[2]int]*study.Result{}
	for _, r := range results {
		if r == nil {
			continue
		}
		sum.Cells = append(sum.Cells, r)
		if by[r.Method] == nil {
			by[r.Method] = map[[2]int]*study.Result{}
		}
		by[r.Method][[2]int{r.Repeat, r.Fold}] = r
	}
	for m, cells := range by {
		var acc, auc, secs []float64
		for _, r := range cells {
			acc, auc, secs = append(acc, r.Accuracy), append(auc, r.AUC), append(secs, r.Seconds)
		}
		sum.Methods[m] = cvMethod{Accuracy: clip01(study.TInterval(acc, 0.95)), AUC: clip01(study.TInterval(auc, 0.95)), Seconds: study.TInterval(secs, 0.95).Mean}
	}
	var sa, ta, su, tu []float64
	for k, s := range by["scratch"] {
		if t, ok := by["transfer"][k]; ok {
			sa, ta, su, tu = append(sa, s.Accuracy), append(ta, t.Accuracy), append(su, s.AUC), append(tu, t.AUC)
		}
	}
	sum.Difference["accuracy"] = study.PairedDifference(sa, ta, 0.95)
	sum.Difference["auc"] = study.PairedDifference(su, tu, 0.95)
	return sum
}

func writeCV(dir string, sum *cvSummary) error {
	if err := files.WriteJSON(filepath.Join(dir, "cv.json"), sum); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	rows := [][]string{{"method", "repeat", "fold", "n_train", "n_val", "accuracy", "auc", "seconds"}}
	for _, r := range sum.Cells {
		rows = append(rows, []string{r.Method, strconv.Itoa(r.Repeat), strconv.Itoa(r.Fold), strconv.Itoa(r.NTrain), strconv.Itoa(r.NVal), f(r.Accuracy), f(r.AUC), f(r.Seconds)})
	}
	if err := writeCSV(filepath.Join(dir, "cv.csv"), rows); err != nil {
		return err
	}
	// Accuracy of each fold or repeat, the two methods side by side: pairs read across.
	var series []report.Series
	for i, m := range []string{"scratch", "transfer"} {
		s := report.Series{Name: m, Color: i}
		for _, r := range sum.Cells {
			if r.Method == m {
				s.X = append(s.X, float64(len(s.X)+1))
				s.Y = append(s.Y, r.Accuracy)
			}
		}
		series = append(series, s)
	}
	plot := filepath.Join(dir, "cv_accuracy.png")
	if err := report.LinePlot(plot, "Validation accuracy per fold or repeat", "fold or repeat", "accuracy", series); err != nil {
		return err
	}
	table := &report.Table{Caption: "Mean over folds or repeats, with 95% t intervals.", Header: []string{"method", "accuracy [95% CI]", "ROC AUC [95% CI]", "mean wall time"},
		Align: []string{"l", "r", "r", "r"}}
	for _, m := range []string{"scratch", "transfer"} {
		mm := sum.Methods[m]
		table.Rows = append(table.Rows, []string{m, fmtInterval(mm.Accuracy), fmtInterval(mm.AUC), fmt.Sprintf("%.1f s", mm.Seconds)})
	}
	d := sum.Difference
	table.Rows = append(table.Rows, []string{"transfer - scratch (paired)", fmtSigned(d["accuracy"]), fmtSigned(d["auc"]), ""})
	what := fmt.Sprintf("%d repeats with different seeds on the given split", sum.Repeats)
	if sum.Folds > 0 {
		what = fmt.Sprintf("stratified %d-fold cross-validation over the training and validation images pooled, repeated %d times", sum.Folds, sum.Repeats)
	}
	verdict := "The interval of the paired difference contains 0: these data do not show which method is better."
	if acc := d["accuracy"]; acc.N > 1 && acc.Low > 0 {
		verdict = fmt.Sprintf("Transfer beats scratch: by %.3f accuracy on average, 95%% interval [%+.3f, %+.3f], paired over %d folds or repeats.", acc.Mean, acc.Low, acc.High, acc.N)
	} else if acc.N > 1 && acc.High < 0 {
		verdict = fmt.Sprintf("Scratch beats transfer: by %.3f accuracy on average, 95%% interval [%+.3f, %+.3f].", -acc.Mean, -acc.High, -acc.Low)
	}
	doc := &report.Document{
		Title: "lessdata: scratch vs transfer, " + what,
		Lead:  "Each fold or repeat trains both methods on the same images with the same seed, so their difference is measured pair by pair.",
		Sections: []report.Section{
			{Heading: "Result", Paragraphs: []string{verdict}, Table: table,
				Notes: []string{"A t interval over few folds is wide; folds share training images, so it is, if anything, optimistic."}},
			{Heading: "Per fold or repeat", Images: []report.Figure{{Path: plot, Caption: "Accuracy of each method on each fold or repeat."}}},
		},
		Footer: fmt.Sprintf("Generated by lessdata %s from %s.", version, sum.Data),
	}
	if err := doc.WriteMarkdown(filepath.Join(dir, "report.md")); err != nil {
		return err
	}
	return doc.WriteHTML(filepath.Join(dir, "report.html"))
}
