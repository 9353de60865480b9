package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NamedPR is one model's (or class's) precision-recall curve for a plot.
type NamedPR struct {
	// Name labels the curve in the legend.
	Name string
	// Curve is the curve to draw.
	Curve PRCurve
}

// WritePR plots precision-recall curves (one line per model or class, legend "name: AP 0.912")
// to path, axes 0..1. Each curve is drawn as the step function whose area is its average
// precision. When every curve has the same prevalence, a dashed line marks the precision of a
// model without skill. It returns an error when there are no curves, or a curve's recall and
// precision differ in length or have fewer than 2 points.
func WritePR(path, title string, curves []NamedPR) error {
	if len(curves) == 0 {
		return fmt.Errorf("precision-recall plot %s: no curves", title)
	}
	p := newPlot(title, "recall (sensitivity)", "precision (positive predictive value)")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	lg := &legend{}
	prevalence := curves[0].Curve.Prevalence
	for i, nc := range curves {
		c := nc.Curve
		if len(c.Recall) != len(c.Precision) {
			return fmt.Errorf("precision-recall plot %s: curve %q has %d recall and %d precision values", title, nc.Name, len(c.Recall), len(c.Precision))
		}
		if len(c.Recall) < 2 {
			return fmt.Errorf("precision-recall plot %s: curve %q has %d points, want at least 2", title, nc.Name, len(c.Recall))
		}
		if c.Prevalence != prevalence {
			prevalence = math.NaN()
		}
		// Point j's precision holds from the previous recall up to its own.
		pts := plotter.XYs{{X: c.Recall[0], Y: c.Precision[0]}}
		for j := 1; j < len(c.Recall); j++ {
			pts = append(pts, plotter.XY{X: c.Recall[j-1], Y: c.Precision[j]}, plotter.XY{X: c.Recall[j], Y: c.Precision[j]})
		}
		line, err := styledLine(pts, i, false)
		if err != nil {
			return fmt.Errorf("precision-recall plot %s: curve %q: %w", title, nc.Name, err)
		}
		p.Add(line)
		label := fmt.Sprintf("AP %.3f", c.AP)
		if nc.Name != "" {
			label = nc.Name + ": " + label
		}
		lg.add(label, line)
	}
	if !math.IsNaN(prevalence) {
		base, err := referenceLine(plotter.XYs{{X: 0, Y: prevalence}, {X: 1, Y: prevalence}})
		if err != nil {
			return fmt.Errorf("precision-recall plot %s: %w", title, err)
		}
		p.Add(base)
		lg.add(fmt.Sprintf("no skill (prevalence %.2f)", prevalence), base)
	}
	if err := savePlot(p, lg, path, plotSize, plotSize); err != nil {
		return fmt.Errorf("precision-recall plot %s: %w", title, err)
	}
	return nil
}

// NamedCalibration is one model's reliability table for a plot.
type NamedCalibration struct {
	// Name labels the model in the legend.
	Name string
	// Bins is the table, as Reliability returns it.
	Bins []CalibrationBin
	// Brier is shown in the legend unless NaN.
	Brier float64
}

// WriteReliability draws a reliability diagram to path: for each model the observed fraction of
// positives against the mean predicted probability of each bin, a dot per bin with its area
// proportional to the bin's count, joined by a line, and the diagonal of perfect calibration
// dashed. The legend reads "name: Brier 0.123". It returns an error when there are no series or
// a series has no bins.
func WriteReliability(path, title string, series []NamedCalibration) error {
	if len(series) == 0 {
		return fmt.Errorf("reliability plot %s: no series", title)
	}
	p := newPlot(title, "mean predicted probability", "observed fraction positive")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, err := referenceLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return fmt.Errorf("reliability plot %s: %w", title, err)
	}
	p.Add(diag)
	maxN := 0
	for _, s := range series {
		if len(s.Bins) == 0 {
			return fmt.Errorf("reliability plot %s: series %q has no bins", title, s.Name)
		}
		for _, b := range s.Bins {
			maxN = max(maxN, b.N)
		}
	}
	lg := &legend{}
	for i, s := range series {
		pts := make(plotter.XYs, len(s.Bins))
		for j, b := range s.Bins {
			pts[j] = plotter.XY{X: b.MeanScore, Y: b.Observed}
		}
		line, err := styledLine(pts, i, false)
		if err != nil {
			return fmt.Errorf("reliability plot %s: series %q: %w", title, s.Name, err)
		}
		dots, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("reliability plot %s: series %q: %w", title, s.Name, err)
		}
		c := palette[i%len(palette)]
		dots.GlyphStyleFunc = func(j int) draw.GlyphStyle {
			r := vg.Points(2.5 + 5.5*math.Sqrt(float64(s.Bins[j].N)/float64(maxN)))
			return draw.GlyphStyle{Color: c, Radius: r, Shape: draw.CircleGlyph{}}
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		p.Add(line, dots)
		label := s.Name
		if !math.IsNaN(s.Brier) {
			if label != "" {
				label += ": "
			}
			label += fmt.Sprintf("Brier %.3f", s.Brier)
		}
		lg.add(label, line, dots)
	}
	lg.add("perfectly calibrated", diag)
	if err := savePlot(p, lg, path, plotSize, plotSize); err != nil {
		return fmt.Errorf("reliability plot %s: %w", title, err)
	}
	return nil
}
