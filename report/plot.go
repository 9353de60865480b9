package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot/plotter"

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

// LinePlot writes a PNG line plot of the series to path, with the legend below the axes.
func LinePlot(path, title, xLabel, yLabel string, series []Series) error {
	p := newPlot(title, xLabel, yLabel)
	lg := &legend{}
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("plot %s: series %q has %d x and %d y values", title, s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, len(s.X))
		for i := range s.X {
			pts[i].X, pts[i].Y = s.X[i], s.Y[i]
		}
		line, err := styledLine(pts, s.Color, s.Dashed)
		if err != nil {
			return fmt.Errorf("plot %s: series %q: %w", title, s.Name, err)
		}
		p.Add(line)
		lg.add(s.Name, line)
	}
	if err := savePlot(p, lg, path, wideWidth, wideHeight); err != nil {
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
