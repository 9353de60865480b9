package predict

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Row is one image's prediction as `lessdata predict --format json` prints it and the serve API
// returns it.
type Row struct {
	Path          string             `json:"path"`
	Class         string             `json:"class,omitempty"`
	Probability   float32            `json:"probability,omitempty"`
	Probabilities map[string]float32 `json:"probabilities,omitempty"`
	Error         string             `json:"error,omitempty"`
	// Overlay is the image's Grad-CAM overlay as a PNG data URL (serve's ?explain=1).
	Overlay string `json:"overlay,omitempty"`
}

// NewRow turns a result into a row; the error, if any, on one line.
func NewRow(r Result, classes []string) Row {
	row := Row{Path: r.Path}
	if r.Err != nil {
		row.Error = OneLine(r.Err)
		return row
	}
	row.Class, row.Probability = r.Class, r.Probs[r.Index]
	row.Probabilities = make(map[string]float32, len(classes))
	for k, c := range classes {
		row.Probabilities[c] = r.Probs[k]
	}
	return row
}

// OneLine keeps an error message on one line of a table or CSV.
func OneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// Formats lists Writer's output formats.
var Formats = []string{"table", "csv", "json"}

// Writer prints predictions as they come: an aligned table, CSV (path, class, probability,
// p_<class>..., error) or a JSON array of Rows (written by Flush).
type Writer struct {
	format  string
	classes []string
	out     io.Writer
	csv     *csv.Writer
	tab     *tabwriter.Writer
	rows    []Row
}

// NewWriter returns a writer of one of Formats.
func NewWriter(out io.Writer, format string, classes []string) (*Writer, error) {
	w := &Writer{format: format, classes: classes, out: out, rows: []Row{}}
	switch format {
	case "json":
	case "csv":
		w.csv = csv.NewWriter(out)
		head := []string{"path", "class", "probability"}
		for _, c := range classes {
			head = append(head, "p_"+c)
		}
		w.csv.Write(append(head, "error"))
	case "table":
		w.tab = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w.tab, "IMAGE\tCLASS\tPROBABILITY")
	default:
		return nil, fmt.Errorf("--format %q: use table, csv or json", format)
	}
	return w, nil
}

// Write prints one result.
func (w *Writer) Write(r Result) error {
	switch w.format {
	case "json":
		w.rows = append(w.rows, NewRow(r, w.classes))
	case "csv":
		rec := make([]string, 4+len(w.classes))
		rec[0] = r.Path
		if r.Err != nil {
			rec[len(rec)-1] = OneLine(r.Err)
		} else {
			rec[1], rec[2] = r.Class, strconv.FormatFloat(float64(r.Probs[r.Index]), 'f', 4, 32)
			for k := range w.classes {
				rec[3+k] = strconv.FormatFloat(float64(r.Probs[k]), 'f', 4, 32)
			}
		}
		w.csv.Write(rec)
		w.csv.Flush()
		return w.csv.Error()
	default:
		if r.Err != nil {
			fmt.Fprintf(w.tab, "%s\terror\t%s\n", r.Path, OneLine(r.Err))
		} else {
			fmt.Fprintf(w.tab, "%s\t%s\t%.3f\n", r.Path, r.Class, r.Probs[r.Index])
		}
	}
	return nil
}

// Flush writes what is buffered: the table's alignment, or the JSON array.
func (w *Writer) Flush() error {
	switch w.format {
	case "json":
		enc := json.NewEncoder(w.out)
		enc.SetIndent("", "  ")
		return enc.Encode(w.rows)
	case "csv":
		w.csv.Flush()
		return w.csv.Error()
	default:
		return w.tab.Flush()
	}
}
