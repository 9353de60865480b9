// Package report turns training results into what a person reads: PNG plots (gonum/plot) of the
// curves, and later metrics tables and reports.
package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/lessdata/lessdata/finetune"
)

// Series is one line of a line plot.
type Series struct {
	Name   string
	X, Y   []float64
	Dashed bool
	Color  int // index into the palette; lines of one method share a colour
}

// palette is colour-blind safe (Okabe-Ito).
var palette = []color.RGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255}, {230, 159, 0, 255}, {86, 180, 233, 255},
}

// LinePlot writes a PNG line plot of the series to path.
func LinePlot(path, title, xLabel, yLabel string, series []Series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("plot %s: series %q has %d x and %d y values", title, s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, len(s.X))
		for i := range s.X {
			pts[i].X, pts[i].Y = s.X[i], s.Y[i]
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", title, err)
		}
		line.Color = palette[s.Color%len(palette)]
		line.Width = vg.Points(1.5)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(s.Name, line)
	}
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", title, err)
	}
	return nil
}

// Curves are the article's two figures for one or more runs: validation loss and validation
// accuracy per epoch, with each run's training curve dashed on the same axes.
type Curves struct {
	Runs []NamedHistory
}

// NamedHistory labels a history in a plot.
type NamedHistory struct {
	Name    string
	History *finetune.History
}

func (c Curves) series(val, train func(finetune.Epoch) float64) []Series {
	var out []Series
	for i, r := range c.Runs {
		var x, v, t []float64
		for _, e := range r.History.Epochs {
			x = append(x, float64(e.Epoch))
			v = append(v, val(e))
			t = append(t, train(e))
		}
		prefix := ""
		if r.Name != "" {
			prefix = r.Name + " "
		}
		out = append(out, Series{Name: prefix + "validation", X: x, Y: v, Color: i},
			Series{Name: prefix + "training", X: x, Y: t, Dashed: true, Color: i})
	}
	return out
}

// WriteLoss writes the loss plot to path.
func (c Curves) WriteLoss(path string) error {
	return LinePlot(path, "Loss per epoch", "epoch", "cross-entropy loss",
		c.series(func(e finetune.Epoch) float64 { return e.ValLoss }, func(e finetune.Epoch) float64 { return e.Loss }))
}

// WriteAccuracy writes the accuracy plot to path.
func (c Curves) WriteAccuracy(path string) error {
	return LinePlot(path, "Accuracy per epoch", "epoch", "accuracy",
		c.series(func(e finetune.Epoch) float64 { return e.ValAccuracy }, func(e finetune.Epoch) float64 { return e.Accuracy }))
}
