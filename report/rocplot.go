package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NamedROC is one model's ROC curve for a plot.
type NamedROC struct {
	// Name labels the curve in the legend, e.g. the model.
	Name string
	// Curve is the curve to draw.
	Curve ROCCurve
}

// WriteROC plots ROC curves (one line per model, legend "name: AUC 0.973 [0.951, 0.990]") with the chance diagonal dashed, axes 0..1, to path.
//
// The i-th curve takes the i-th palette colour (dotted past the palette's six). The legend is below
// the axes; the interval is the curve's DeLong interval when it has one, and a NaN AUC reads
// "AUC n/a". It returns an error when there are no curves, or a curve's FPR and TPR differ in
// length or have fewer than 2 points.
func WriteROC(path, title string, curves []NamedROC) error {
	if len(curves) == 0 {
		return fmt.Errorf("roc plot %s: no curves", title)
	}
	p := newPlot(title, "false positive rate (1 - specificity)", "true positive rate (sensitivity)")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	chance, err := referenceLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return fmt.Errorf("roc plot %s: %w", title, err)
	}
	p.Add(chance)
	lg := &legend{}
	for i, nc := range curves {
		c := nc.Curve
		if len(c.FPR) != len(c.TPR) {
			return fmt.Errorf("roc plot %s: curve %q has %d FPR and %d TPR values", title, nc.Name, len(c.FPR), len(c.TPR))
		}
		if len(c.FPR) < 2 {
			return fmt.Errorf("roc plot %s: curve %q has %d points, want at least 2", title, nc.Name, len(c.FPR))
		}
		pts := make(plotter.XYs, len(c.FPR))
		for j := range c.FPR {
			pts[j].X, pts[j].Y = c.FPR[j], c.TPR[j]
		}
		line, err := styledLine(pts, i, false)
		if err != nil {
			return fmt.Errorf("roc plot %s: curve %q: %w", title, nc.Name, err)
		}
		p.Add(line)
		lg.add(rocLegend(nc), line)
	}
	lg.add("chance", chance)
	if err := savePlot(p, lg, path, plotSize, plotSize); err != nil {
		return fmt.Errorf("roc plot %s: %w", title, err)
	}
	return nil
}

// WriteOneVsRestROC plots the curves of m.ROC, each labelled with its class, AUC and DeLong
// interval, to path: for more than two classes the one-vs-rest curve of every class that has
// examples (a class without any has no curve). It returns an error when m has no curves.
func WriteOneVsRestROC(path, title string, m Metrics) error {
	curves := make([]NamedROC, len(m.ROC))
	for i, c := range m.ROC {
		curves[i] = NamedROC{Name: c.Class, Curve: c}
	}
	return WriteROC(path, title, curves)
}

// rocLegend is "name: AUC 0.973 [0.951, 0.990]", without the interval when it is unknown.
func rocLegend(nc NamedROC) string {
	c := nc.Curve
	auc := "AUC n/a"
	if !math.IsNaN(c.AUC) {
		auc = fmt.Sprintf("AUC %.3f", c.AUC)
		if c.Low < c.High && !math.IsNaN(c.Low) && !math.IsNaN(c.High) {
			auc += fmt.Sprintf(" [%.3f, %.3f]", c.Low, c.High)
		}
	}
	if nc.Name == "" {
		return auc
	}
	return nc.Name + ": " + auc
}

// WriteConfusion draws a confusion matrix as a heat map with the count (and row percentage) in each cell, true class on the y axis, predicted on the x axis, class names as tick labels, to path.
//
// m is indexed [true class][predicted class], as Metrics.Confusion. Cells are shaded from white
// to the first palette colour by their row percentage (the share of that true class), so the
// diagonal reads as per-class recall whatever the class sizes. The first class is the top row and
// the left column. Text and tick labels shrink as classes are added; 2 to 10 classes stay legible
// at 5x5 inches. It returns an error when m is not len(classes) square, a count is negative, or
// there are no classes.
func WriteConfusion(path, title string, classes []string, m [][]int) error {
	n := len(classes)
	if n == 0 {
		return fmt.Errorf("confusion plot %s: no classes", title)
	}
	if len(m) != n {
		return fmt.Errorf("confusion plot %s: %d rows for %d classes", title, len(m), n)
	}
	for i, row := range m {
		if len(row) != n {
			return fmt.Errorf("confusion plot %s: row %d has %d columns for %d classes", title, i, len(row), n)
		}
		for _, v := range row {
			if v < 0 {
				return fmt.Errorf("confusion plot %s: negative count %d in row %d", title, v, i)
			}
		}
	}

	p := newPlot(title, "predicted class", "true class")
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.X.Padding, p.Y.Padding = 0, 0

	// Cell text: about a quarter of a cell high, between 8 and 15 points.
	cell := (plotSize - 1.5*vg.Inch) / vg.Length(n)
	size := min(max(cell/3.5, vg.Points(8)), vg.Points(15))
	ticks := min(max(cell/3, vg.Points(8)), tickSize)

	ink := palette[0]
	labels := &plotter.Labels{}
	for i, row := range m {
		total := 0
		for _, v := range row {
			total += v
		}
		y := float64(n - 1 - i) // first class on top
		for j, v := range row {
			frac := 0.0
			txt := fmt.Sprint(v)
			if total > 0 {
				frac = float64(v) / float64(total)
				txt += fmt.Sprintf("\n(%.0f%%)", 100*frac)
			}
			x := float64(j)
			poly, err := plotter.NewPolygon(plotter.XYs{
				{X: x - 0.5, Y: y - 0.5}, {X: x + 0.5, Y: y - 0.5}, {X: x + 0.5, Y: y + 0.5}, {X: x - 0.5, Y: y + 0.5},
			})
			if err != nil {
				return fmt.Errorf("confusion plot %s: %w", title, err)
			}
			poly.Color = blend(color.RGBA{255, 255, 255, 255}, ink, frac)
			poly.LineStyle.Color = color.Gray{Y: 200}
			poly.LineStyle.Width = vg.Points(0.5)
			p.Add(poly)

			textColor := inkOn(poly.Color)
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: y})
			labels.Labels = append(labels.Labels, txt)
			labels.TextStyle = append(labels.TextStyle, text.Style{
				Color:   textColor,
				Font:    font.From(plotter.DefaultFont, size),
				XAlign:  draw.XCenter,
				YAlign:  draw.YCenter,
				Handler: plot.DefaultTextHandler,
			})
		}
	}
	p.Add(labels)

	xt := make(plot.ConstantTicks, n)
	yt := make(plot.ConstantTicks, n)
	for i, c := range classes {
		name := shortName(c)
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Tick.Length, p.Y.Tick.Length = 0, 0 // the cells mark the classes; marks would cross slanted names
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = ticks, ticks
	if n > 3 || longest(classes) > 8 {
		// Slanted names do not run into each other.
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop // the name hangs below the axis from its top right corner
	}

	if err := savePlot(p, nil, path, plotSize, plotSize); err != nil {
		return fmt.Errorf("confusion plot %s: %w", title, err)
	}
	return nil
}

// inkOn is black or white, whichever contrasts more with the background bg (WCAG contrast of
// relative luminances).
func inkOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	lin := func(v uint32) float64 {
		c := float64(v) / 0xffff
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
	if (l+0.05)/0.05 >= 1.05/(l+0.05) {
		return color.Black
	}
	return color.White
}

// blend mixes a towards b by t in [0, 1].
func blend(a, b color.RGBA, t float64) color.RGBA {
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + t*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// maxTickRunes is the longest class name drawn in full on a confusion matrix axis.
const maxTickRunes = 16

// shortName cuts a class name to maxTickRunes for a tick label.
func shortName(s string) string { return truncate(s, maxTickRunes) }

// truncate cuts s to n runes, ending in "..." when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// longest is the length in runes of the longest name.
func longest(names []string) int {
	l := 0
	for _, s := range names {
		l = max(l, len([]rune(s)))
	}
	return l
}
