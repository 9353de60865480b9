package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/lessdata/lessdata/internal/files"
)

// Document is a report: a title, an optional lead paragraph and sections. It renders to Markdown
// (images referenced by relative path) and to one self-contained HTML page (images embedded as
// base64 data: URIs, CSS inline, no external requests, no JavaScript needed).
//
// All text is plain text: WriteHTML escapes it, and WriteMarkdown escapes the pipes of table
// cells and writes the rest as it is.
type Document struct {
	Title    string
	Lead     string
	Sections []Section
	Footer   string // small print at the bottom, such as who generated the report and when
}

// Section is a heading with its paragraphs, an optional table, figures, an optional gallery and
// notes, in that order.
type Section struct {
	Heading    string
	Paragraphs []string
	Table      *Table
	Images     []Figure
	Gallery    *Gallery
	Notes      []string // small print bullets
}

// Gallery is a grid of small images, each with a caption of a few lines: in HTML the images are
// embedded like figures, in Markdown they are linked from a table of galleryColumns columns.
type Gallery struct {
	Caption string
	Items   []Thumb
}

// Thumb is one image of a gallery, such as a thumbnail from WriteThumbnail or ExampleGallery.
type Thumb struct {
	Path  string   // PNG or JPEG file; in Markdown written relative to the report's folder
	Lines []string // caption, one entry a line
	Alt   string   // text for readers who cannot see the image; defaults to the lines
}

// galleryColumns is the number of images per row of a gallery in Markdown.
const galleryColumns = 4

// Table is a table of text cells. Rows may be shorter than the header (the missing cells are
// empty) but not longer.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
	Align   []string // "l", "r" or "c" per column (or "" for the default, left); optional
}

// Figure is a PNG image with a caption.
type Figure struct {
	Path    string // PNG file; in Markdown written relative to the report's folder
	Caption string
	Alt     string // text for readers who cannot see the image; defaults to the caption
}

// WriteMarkdown writes the document as Markdown to path, atomically. Figures are linked by
// their path relative to path's folder; each must exist.
func (d *Document) WriteMarkdown(path string) error {
	if err := d.check(); err != nil {
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	var b strings.Builder
	para := func(s string) { // a block, separated from the next by a blank line
		b.WriteString(s)
		b.WriteString("\n\n")
	}
	para("# " + oneLine(d.Title))
	if d.Lead != "" {
		para(d.Lead)
	}
	for _, s := range d.Sections {
		para("## " + oneLine(s.Heading))
		for _, p := range s.Paragraphs {
			para(p)
		}
		if t := s.Table; t != nil {
			if t.Caption != "" {
				para("**" + oneLine(t.Caption) + "**")
			}
			para(markdownTable(t))
		}
		for _, f := range s.Images {
			if _, err := os.Stat(f.Path); err != nil {
				return fmt.Errorf("markdown report %s: figure: %w", path, err)
			}
			link, err := relativeLink(dir, f.Path)
			if err != nil {
				return fmt.Errorf("markdown report %s: figure %s: %w", path, f.Path, err)
			}
			para("![" + markdownAlt(f.alt()) + "](" + link + ")")
			if f.Caption != "" {
				para("*" + oneLine(f.Caption) + "*")
			}
		}
		if g := s.Gallery; g != nil {
			table, err := markdownGallery(dir, g)
			if err != nil {
				return fmt.Errorf("markdown report %s: %w", path, err)
			}
			if g.Caption != "" {
				para("**" + oneLine(g.Caption) + "**")
			}
			if table != "" {
				para(table)
			}
		}
		if len(s.Notes) > 0 {
			var notes []string
			for _, n := range s.Notes {
				notes = append(notes, "- "+oneLine(n))
			}
			para(strings.Join(notes, "\n"))
		}
	}
	if d.Footer != "" {
		para("---")
		para(d.Footer)
	}
	out := strings.TrimRight(b.String(), "\n") + "\n"
	if err := files.WriteAtomic(path, []byte(out)); err != nil {
		return fmt.Errorf("markdown report: %w", err)
	}
	return nil
}

// WriteHTML writes the document as one self-contained HTML page to path, atomically: the CSS is
// inline and each figure is embedded as a data: URI, so the page needs no other file, no network
// and no JavaScript.
func (d *Document) WriteHTML(path string) error {
	if err := d.check(); err != nil {
		return fmt.Errorf("html report %s: %w", path, err)
	}
	page := htmlPage{Title: d.Title, Lead: d.Lead, Footer: d.Footer}
	for i, s := range d.Sections {
		hs := htmlSection{ID: fmt.Sprintf("section-%d", i+1), Heading: s.Heading,
			Paragraphs: s.Paragraphs, Notes: s.Notes}
		if t := s.Table; t != nil {
			ht := &htmlTable{Caption: t.Caption}
			n := len(t.Header)
			for c, h := range t.Header {
				ht.Header = append(ht.Header, htmlCell{Text: h, Class: alignClass(t, c)})
			}
			for _, row := range t.Rows {
				cells := make([]htmlCell, n)
				for c := range n {
					cells[c].Class = alignClass(t, c)
					if c < len(row) {
						cells[c].Text = row[c]
					}
				}
				ht.Rows = append(ht.Rows, cells)
			}
			hs.Table = ht
		}
		for _, f := range s.Images {
			img, err := embedImage(f.Path, false)
			if err != nil {
				return fmt.Errorf("html report %s: %w", path, err)
			}
			img.Alt, img.Caption = f.alt(), f.Caption
			hs.Figures = append(hs.Figures, img)
		}
		if g := s.Gallery; g != nil {
			hg := &htmlGallery{Caption: g.Caption}
			for _, t := range g.Items {
				img, err := embedImage(t.Path, true)
				if err != nil {
					return fmt.Errorf("html report %s: gallery: %w", path, err)
				}
				hg.Items = append(hg.Items, htmlThumb{Src: img.Src, Width: img.Width, Height: img.Height,
					Alt: t.alt(), Lines: t.Lines})
			}
			hs.Gallery = hg
		}
		page.Sections = append(page.Sections, hs)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("html report %s: %w", path, err)
	}
	if err := files.WriteAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// check reports what would make a malformed table.
func (d *Document) check() error {
	for _, s := range d.Sections {
		t := s.Table
		if t == nil {
			continue
		}
		if len(t.Header) == 0 {
			return fmt.Errorf("section %q: table has no header", s.Heading)
		}
		if len(t.Align) > len(t.Header) {
			return fmt.Errorf("section %q: table has %d alignments for %d columns", s.Heading, len(t.Align), len(t.Header))
		}
		for c, a := range t.Align {
			if a != "" && a != "l" && a != "r" && a != "c" {
				return fmt.Errorf("section %q: table column %d: alignment %q is not l, r or c", s.Heading, c+1, a)
			}
		}
		for r, row := range t.Rows {
			if len(row) > len(t.Header) {
				return fmt.Errorf("section %q: table row %d has %d cells for %d columns", s.Heading, r+1, len(row), len(t.Header))
			}
		}
	}
	return nil
}

func (t Thumb) alt() string {
	if t.Alt != "" {
		return t.Alt
	}
	if len(t.Lines) > 0 {
		return strings.Join(t.Lines, ", ")
	}
	return strings.TrimSuffix(filepath.Base(t.Path), filepath.Ext(t.Path))
}

// markdownGallery is the gallery's images as a Markdown table, galleryColumns a row, each cell
// the image and its caption lines; "" without images. Each image must exist.
func markdownGallery(dir string, g *Gallery) (string, error) {
	if len(g.Items) == 0 {
		return "", nil
	}
	cols := min(galleryColumns, len(g.Items))
	t := &Table{Header: make([]string, cols)}
	for i, th := range g.Items {
		if _, err := os.Stat(th.Path); err != nil {
			return "", fmt.Errorf("gallery: %w", err)
		}
		link, err := relativeLink(dir, th.Path)
		if err != nil {
			return "", fmt.Errorf("gallery image %s: %w", th.Path, err)
		}
		if i%cols == 0 {
			t.Rows = append(t.Rows, nil)
		}
		cell := "![" + markdownAlt(th.alt()) + "](" + link + ")"
		for _, l := range th.Lines {
			cell += "<br>" + markdownCell(l)
		}
		t.Rows[len(t.Rows)-1] = append(t.Rows[len(t.Rows)-1], cell)
	}
	return markdownTableRaw(t), nil
}

func (f Figure) alt() string {
	switch {
	case f.Alt != "":
		return f.Alt
	case f.Caption != "":
		return f.Caption
	}
	return strings.TrimSuffix(filepath.Base(f.Path), filepath.Ext(f.Path))
}

// oneLine turns line breaks into spaces, for text that must stay on one Markdown line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)), " ")
}

// markdownTable is t as a Markdown table, its cells escaped.
func markdownTable(t *Table) string {
	esc := &Table{Header: escapeCells(t.Header), Align: t.Align}
	for _, row := range t.Rows {
		esc.Rows = append(esc.Rows, escapeCells(row))
	}
	return markdownTableRaw(esc)
}

func escapeCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = markdownCell(c)
	}
	return out
}

// markdownTableRaw is t as a Markdown table, its cells written as they are.
func markdownTableRaw(t *Table) string {
	n := len(t.Header)
	cellsLine := func(cells []string) string {
		var b strings.Builder
		b.WriteString("|")
		for c := range n {
			v := ""
			if c < len(cells) {
				v = cells[c]
			}
			b.WriteString(" " + v + " |")
		}
		return b.String()
	}
	lines := []string{cellsLine(t.Header)}
	var rule strings.Builder
	rule.WriteString("|")
	for c := range n {
		a := ""
		if c < len(t.Align) {
			a = t.Align[c]
		}
		switch a {
		case "r":
			rule.WriteString(" ---: |")
		case "c":
			rule.WriteString(" :---: |")
		case "l":
			rule.WriteString(" :--- |")
		default:
			rule.WriteString(" --- |")
		}
	}
	lines = append(lines, rule.String())
	for _, row := range t.Rows {
		lines = append(lines, cellsLine(row))
	}
	return strings.Join(lines, "\n")
}

// markdownCell escapes the pipes of a table cell and keeps it on one line.
func markdownCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// markdownAlt escapes the brackets that would end an image's alt text.
func markdownAlt(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(oneLine(s))
}

// relativeLink is the Markdown link target of file from a document in dir: the relative path
// with forward slashes, in angle brackets when it holds characters that would end the link.
func relativeLink(dir, file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		rel = abs // another volume: the absolute path is all there is
	}
	rel = filepath.ToSlash(rel)
	if strings.ContainsAny(rel, " ()<>") {
		return "<" + strings.NewReplacer("<", "%3C", ">", "%3E").Replace(rel) + ">", nil
	}
	return rel, nil
}

func alignClass(t *Table, c int) string {
	if c < len(t.Align) {
		switch t.Align[c] {
		case "r":
			return "r"
		case "c":
			return "c"
		}
	}
	return ""
}

// embedImage reads a PNG file (or, with jpegToo, a PNG or JPEG file) into a data: URI, with its
// size.
func embedImage(path string, jpegToo bool) (htmlFigure, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return htmlFigure{}, fmt.Errorf("figure: %w", err)
	}
	mime := "image/png"
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil && jpegToo {
		mime = "image/jpeg"
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		want := "a PNG"
		if jpegToo {
			want = "a PNG or JPEG"
		}
		return htmlFigure{}, fmt.Errorf("figure %s is not %s: %w", path, want, err)
	}
	// The URI is built here from the file's bytes, in base64, so it is safe to mark as a URL.
	src := template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data))
	return htmlFigure{Src: src, Width: cfg.Width, Height: cfg.Height}, nil
}

type htmlPage struct {
	Title, Lead, Footer string
	Sections            []htmlSection
}

type htmlSection struct {
	ID, Heading string
	Paragraphs  []string
	Table       *htmlTable
	Figures     []htmlFigure
	Gallery     *htmlGallery
	Notes       []string
}

type htmlGallery struct {
	Caption string
	Items   []htmlThumb
}

type htmlThumb struct {
	Src           template.URL
	Width, Height int
	Alt           string
	Lines         []string
}

type htmlTable struct {
	Caption string
	Header  []htmlCell
	Rows    [][]htmlCell
}

type htmlCell struct{ Text, Class string }

type htmlFigure struct {
	Src           template.URL
	Width, Height int
	Alt, Caption  string
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d2330;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 2rem 1.25rem 1rem; background: #fff; min-height: 100vh; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .75rem; }
h2 { font-size: 1.35rem; margin: 2.25rem 0 .75rem; padding-bottom: .3rem; border-bottom: 1px solid #e1e4ea; }
p { margin: 0 0 1rem; }
.lead { font-size: 1.1rem; color: #3b4456; }
.table-wrap { overflow-x: auto; margin: 0 0 1.25rem; }
table { border-collapse: collapse; font-size: .95rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 .4rem; }
th, td { border: 1px solid #c9ced8; padding: .35rem .7rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.r { text-align: right; font-variant-numeric: tabular-nums; }
.c { text-align: center; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr));
  gap: 1.25rem; margin: 0 0 1.25rem; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid #e1e4ea; }
figcaption { font-size: .9rem; color: #4b5468; margin-top: .4rem; text-align: center; }
.gallery-caption { font-weight: 600; margin: 0 0 .5rem; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .9rem .75rem;
  margin: 0 0 1.25rem; }
.gallery figure { display: flex; flex-direction: column; align-items: center; }
.gallery img { display: block; max-width: 100%; height: auto; border: 1px solid #e1e4ea; }
.gallery figcaption { font-size: .8rem; line-height: 1.35; margin-top: .3rem; overflow-wrap: anywhere; }
.notes { font-size: .85rem; color: #5b6478; padding-left: 1.2rem; margin: 0 0 1rem; }
footer { margin-top: 2.5rem; padding-top: .75rem; border-top: 1px solid #e1e4ea; font-size: .85rem; color: #5b6478; }
@media print { body { background: #fff; } main { padding: 0; } .figures { break-inside: avoid; } }
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
{{- if .Lead}}
<p class="lead">{{.Lead}}</p>
{{- end}}
</header>
{{- range .Sections}}
<section id="{{.ID}}">
<h2>{{.Heading}}</h2>
{{- range .Paragraphs}}
<p>{{.}}</p>
{{- end}}
{{- with .Table}}
<div class="table-wrap">
<table>
{{- if .Caption}}
<caption>{{.Caption}}</caption>
{{- end}}
<thead>
<tr>{{range .Header}}<th{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</th>{{end}}</tr>
</thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
{{- if .Figures}}
<div class="figures">
{{- range .Figures}}
<figure>
<img src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Alt}}">
{{- if .Caption}}
<figcaption>{{.Caption}}</figcaption>
{{- end}}
</figure>
{{- end}}
</div>
{{- end}}
{{- with .Gallery}}
{{- if .Caption}}
<p class="gallery-caption">{{.Caption}}</p>
{{- end}}
<div class="gallery">
{{- range .Items}}
<figure>
<img src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Alt}}">
<figcaption>{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}</figcaption>
</figure>
{{- end}}
</div>
{{- end}}
{{- if .Notes}}
<ul class="notes">
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
</section>
{{- end}}
{{- if .Footer}}
<footer>{{.Footer}}</footer>
{{- end}}
</main>
</body>
</html>
`))
