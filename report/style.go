package report

import (
	"fmt"
	"image/color"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot geometry and type sizes. An HTML report shows two figures side by side in a 960-pixel
// column, about 470 pixels each, so a figure 6.4 inches wide is drawn at about 73 pixels per inch
// and 13-point text comes out at 13 pixels; the sizes below keep every label at or above that.
const (
	plotDPI = 150 // pixels per inch of the PNGs: sharp when shown full size

	wideWidth  = 6.4 * vg.Inch // line and band plots
	wideHeight = 4.2 * vg.Inch // their axes, without the legend
	plotSize   = 5 * vg.Inch   // the side of square plots (ROC, PR, reliability, confusion)

	titleSize  = vg.Length(16)
	labelSize  = vg.Length(15)
	tickSize   = vg.Length(13)
	legendSize = vg.Length(13)
	lineWidth  = vg.Length(2.5)
	axisWidth  = vg.Length(1)
)

// newPlot is a plot with the report's fonts, axis widths and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = titleSize
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = labelSize
		a.Tick.Label.Font.Size = tickSize
		a.LineStyle.Width = axisWidth
		a.Tick.LineStyle.Width = axisWidth
		a.Tick.Length = vg.Points(6)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = color.Gray{Y: 215}, color.Gray{Y: 215}
	p.Add(grid)
	return p
}

// styledLine is a solid or dashed line in colour i of the palette at the report's line width.
// Past the palette's length the colours repeat with a dash pattern, so that lines stay apart.
func styledLine(pts plotter.XYs, i int, dashed bool) (*plotter.Line, error) {
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	line.Color = palette[i%len(palette)]
	line.Width = lineWidth
	if dashed {
		line.Dashes = []vg.Length{vg.Points(7), vg.Points(4)}
	} else if i >= len(palette) {
		line.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	}
	return line, nil
}

// referenceLine is a thin grey dashed line, such as the chance diagonal.
func referenceLine(pts plotter.XYs) (*plotter.Line, error) {
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	line.Color = color.Gray{Y: 110}
	line.Width = vg.Points(1.5)
	line.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	return line, nil
}

// legend is drawn below a plot's axes, never on the data, as a table of entries filled row by
// row with as many columns as the image's width holds.
type legend struct {
	entries []legendEntry
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

func (l *legend) add(label string, thumbs ...plot.Thumbnailer) {
	l.entries = append(l.entries, legendEntry{label, thumbs})
}

var legendStyle = text.Style{Font: font.From(plot.DefaultFont, legendSize), Handler: plot.DefaultTextHandler}

const (
	legendThumb = 30 // points: the width of an entry's line sample
	legendGap   = 6  // points between a sample and its text
	legendSep   = 18 // points between entries of a row
	legendPad   = 6  // points above and below the rows
)

// layout arranges the entries in a table no wider than width, filled row by row with as many
// columns as fit: it returns the number of columns and each column's width.
func (l *legend) layout(width vg.Length) (cols int, colWidth []vg.Length) {
	for cols = len(l.entries); cols > 1; cols-- {
		colWidth = l.columnWidths(cols)
		total := vg.Length(cols-1) * legendSep
		for _, w := range colWidth {
			total += w
		}
		if total <= width {
			return cols, colWidth
		}
	}
	return 1, l.columnWidths(1)
}

func (l *legend) columnWidths(cols int) []vg.Length {
	w := make([]vg.Length, cols)
	for i, e := range l.entries {
		w[i%cols] = max(w[i%cols], legendThumb+legendGap+legendStyle.Width(e.label))
	}
	return w
}

func rowHeight() vg.Length { return 1.45 * legendSize }

// height is the height of the legend laid out in width: 0 without entries.
func (l *legend) height(width vg.Length) vg.Length {
	if l == nil || len(l.entries) == 0 {
		return 0
	}
	cols, _ := l.layout(width)
	rows := (len(l.entries) + cols - 1) / cols
	return vg.Length(rows)*rowHeight() + 2*legendPad
}

// draw draws the legend into c as a table centred horizontally.
func (l *legend) draw(c draw.Canvas) {
	cols, colWidth := l.layout(c.Size().X)
	total := vg.Length(cols-1) * legendSep
	for _, w := range colWidth {
		total += w
	}
	rh := rowHeight()
	left := c.Min.X + (c.Size().X-total)/2
	x, y := left, c.Max.Y-legendPad
	for i, e := range l.entries {
		col := i % cols
		if col == 0 && i > 0 {
			x, y = left, y-rh
		}
		icon := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - 0.8*rh}, Max: vg.Point{X: x + legendThumb, Y: y - 0.2*rh}}}
		for _, t := range e.thumbs {
			t.Thumbnail(&icon)
		}
		sty := legendStyle
		sty.YAlign = draw.YCenter
		c.FillText(sty, vg.Point{X: x + legendThumb + legendGap, Y: y - rh/2}, e.label)
		x += colWidth[col] + legendSep
	}
}

// wrap breaks txt at spaces into lines no wider than width in style sty (a word longer than
// width keeps a line of its own).
func wrap(sty text.Style, txt string, width vg.Length) string {
	var lines []string
	for _, para := range strings.Split(txt, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			switch {
			case line == "":
				line = w
			case sty.Width(line+" "+w) <= width:
				line += " " + w
			default:
				lines = append(lines, line)
				line = w
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// savePlot writes p as a PNG of width w to path, with its axes h high and lg (which may be nil
// or empty) in a band below them.
func savePlot(p *plot.Plot, lg *legend, path string, w, h vg.Length) (err error) {
	margin := vg.Points(8)
	lh := lg.height(w - 2*margin)
	p.Title.Text = wrap(p.Title.TextStyle, p.Title.Text, w-2*margin)
	c := vgimg.NewWith(vgimg.UseWH(w, h+lh), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
	full := draw.New(c)
	// A margin keeps the last tick label off the image's edge.
	p.Draw(draw.Crop(full, margin, -2*margin, lh, -margin/2))
	if lh > 0 {
		band := full
		band.Min.X += margin
		band.Max.X -= margin
		band.Max.Y = band.Min.Y + lh
		lg.draw(band)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
