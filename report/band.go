package report

import (
	"fmt"
	"image/color"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BandSeries is a line of means with a shaded band from Low to High at each x.
type BandSeries struct {
	Name            string
	X, Mean         []float64
	Low, High       []float64
	Color           int // index into the palette
	ShowPointValues bool
}

// WriteBandPlot writes a PNG of lines with their bands (for example a mean and its 95% interval
// over repeats) to path, with the legend below the axes. logX puts x on a log scale (for numbers
// of images), with a labelled tick at each x of the data when there are at most 12.
func WriteBandPlot(path, title, xLabel, yLabel string, series []BandSeries, logX bool) error {
	p := newPlot(title, xLabel, yLabel)
	lg := &legend{}
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		var xs []float64
		for _, s := range series {
			xs = append(xs, s.X...)
		}
		slices.Sort(xs)
		if xs = slices.Compact(xs); len(xs) <= 12 {
			ticks := make(plot.ConstantTicks, len(xs))
			for i, x := range xs {
				ticks[i] = plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 4, 64)}
			}
			p.X.Tick.Marker = ticks
		}
	}
	for _, s := range series {
		n := len(s.X)
		if len(s.Mean) != n || len(s.Low) != n || len(s.High) != n {
			return fmt.Errorf("plot %s: series %q has mismatched lengths", title, s.Name)
		}
		c := palette[s.Color%len(palette)]
		band := make(plotter.XYs, 0, 2*n)
		for i := 0; i < n; i++ {
			band = append(band, plotter.XY{X: s.X[i], Y: s.High[i]})
		}
		for i := n - 1; i >= 0; i-- {
			band = append(band, plotter.XY{X: s.X[i], Y: s.Low[i]})
		}
		if n > 1 {
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return fmt.Errorf("plot %s: %w", title, err)
			}
			poly.Color = color.NRGBA{c.R, c.G, c.B, 50} // not premultiplied: a light tint
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		pts := make(plotter.XYs, n)
		for i := range pts {
			pts[i] = plotter.XY{X: s.X[i], Y: s.Mean[i]}
		}
		line, err := styledLine(pts, s.Color, false)
		if err != nil {
			return fmt.Errorf("plot %s: %w", title, err)
		}
		points, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", title, err)
		}
		points.Color, points.Shape, points.Radius = c, draw.CircleGlyph{}, vg.Points(3.5)
		p.Add(line, points)
		lg.add(s.Name, line, points)
	}
	if err := savePlot(p, lg, path, wideWidth, wideHeight); err != nil {
		return fmt.Errorf("plot %s: %w", title, err)
	}
	return nil
}
