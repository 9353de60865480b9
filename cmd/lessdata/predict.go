package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/predict"
)

// predictOptions are predict's options.
type predictOptions struct {
	Model    string
	Paths    []string
	Format   string
	Backbone string
}

func newPredictCmd(f *factory, runF func(context.Context, *predictOptions) error) *cobra.Command {
	o := &predictOptions{}
	cmd := &cobra.Command{
		Use:   "predict --model RUN IMAGE|DIR...",
		Short: "Label new images with a trained model",
		Long: `Label images with a model that train or compare wrote (a run folder with bundle.json).
A folder argument means every image file under it. Each image gets its most probable class
and the probabilities of all classes; an image that cannot be read (or a path that does not
exist) is reported on its own line and the others are still labelled. Images are decoded and
predicted a chunk at a time, so any number of them fits in memory.`,
		Example: `  lessdata predict --model runs/car_vs_bus/transfer photos/ --format csv`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Paths = args
			if !slices.Contains([]string{"table", "csv", "json"}, o.Format) {
				return fmt.Errorf("--format %q: use table, csv or json", o.Format)
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runPredict(c.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model (compare's RUN/scratch or RUN/transfer)")
	cmd.Flags().StringVar(&o.Format, "format", "table", "output format: table, csv or json")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names, from the cache)")
	cmd.MarkFlagRequired("model")
	return cmd
}

func runPredict(ctx context.Context, f *factory, o *predictOptions) error {
	paths, problems := predict.ExpandPaths(o.Paths)
	if len(paths) == 0 && len(problems) == 0 {
		return fmt.Errorf("no image files in %s", strings.Join(o.Paths, ", "))
	}
	m, err := predict.Open(ctx, o.Model, predict.Options{Backbone: o.Backbone, Fetch: f.fetchOptions(false)})
	if err != nil {
		return err
	}
	defer m.Close()
	w := newPredictionWriter(f.IO.Out, o.Format, m.Classes())
	failed := 0
	emit := func(r predict.Result) error {
		if r.Err != nil {
			failed++
		}
		return w.write(r)
	}
	for _, r := range problems {
		if err := emit(r); err != nil {
			return err
		}
	}
	bar := newBar(f.IO, len(paths), "predicting")
	done := 0
	err = m.Stream(ctx, paths, 0, func(r predict.Result) error {
		done++
		bar.Set(done)
		return emit(r)
	})
	bar.Finish()
	if ferr := w.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(paths)+len(problems))
	}
	return nil
}

// predictionWriter prints predictions as they come, in one of predict's formats.
type predictionWriter struct {
	format  string
	classes []string
	out     io.Writer
	csv     *csv.Writer
	tab     *tabwriter.Writer
	rows    []predictionRow
}

// predictionRow is one image in predict's JSON output.
type predictionRow struct {
	Path          string             `json:"path"`
	Class         string             `json:"class,omitempty"`
	Probability   float32            `json:"probability,omitempty"`
	Probabilities map[string]float32 `json:"probabilities,omitempty"`
	Error         string             `json:"error,omitempty"`
}

func newPredictionWriter(out io.Writer, format string, classes []string) *predictionWriter {
	w := &predictionWriter{format: format, classes: classes, out: out, rows: []predictionRow{}}
	switch format {
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
	}
	return w
}

// oneLine keeps an error message on one line of a table or CSV.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func (w *predictionWriter) write(r predict.Result) error {
	switch w.format {
	case "json":
		row := predictionRow{Path: r.Path}
		if r.Err != nil {
			row.Error = oneLine(r.Err)
		} else {
			row.Class, row.Probability = r.Class, r.Probs[r.Index]
			row.Probabilities = map[string]float32{}
			for k, c := range w.classes {
				row.Probabilities[c] = r.Probs[k]
			}
		}
		w.rows = append(w.rows, row)
	case "csv":
		rec := make([]string, 4+len(w.classes))
		rec[0] = r.Path
		if r.Err != nil {
			rec[len(rec)-1] = oneLine(r.Err)
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
			fmt.Fprintf(w.tab, "%s\terror\t%s\n", r.Path, oneLine(r.Err))
		} else {
			fmt.Fprintf(w.tab, "%s\t%s\t%.3f\n", r.Path, r.Class, r.Probs[r.Index])
		}
	}
	return nil
}

func (w *predictionWriter) flush() error {
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
