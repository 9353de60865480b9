package report

import (
	"fmt"
	"image/color"

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
// over repeats) to path. logX puts x on a log scale (for numbers of images).
func WriteBandPlot(path, title, xLabel, yLabel string, series []BandSeries, logX bool) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
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
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", title, err)
		}
		line.Color, line.Width = c, vg.Points(1.8)
		points.Color, points.Shape = c, draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", title, err)
	}
	return nil
}
