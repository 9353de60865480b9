package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
)

type predictOptions struct {
	Model    string
	Paths    []string
	Format   string
	Backbone string
}

func newPredictCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &predictOptions{}
	cmd := &cobra.Command{
		Use:   "predict --model RUN IMAGE|DIR...",
		Short: "Label new images with a trained model",
		Long: `Label images with a model that train or compare wrote (a run folder with bundle.json).
A folder argument means every image file under it. Each image gets its most probable class
and the probabilities of all classes; an image that cannot be read is reported on its own
line and the others are still labelled.`,
		Example: `  lessdata predict --model runs/car_vs_bus/transfer photos/ --format csv`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Paths = args
			return runPredict(c.Context(), ios, g, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model (compare's RUN/scratch or RUN/transfer)")
	cmd.Flags().StringVar(&o.Format, "format", "table", "output format: table, csv or json")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names, from the cache)")
	cmd.MarkFlagRequired("model")
	return cmd
}

// expandPaths turns folders into the files under them (hidden ones left out), keeping order.
func expandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != a {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func runPredict(ctx context.Context, ios streams, g *globalOptions, o *predictOptions) error {
	if !slices.Contains([]string{"table", "csv", "json"}, o.Format) {
		return fmt.Errorf("--format %q: use table, csv or json", o.Format)
	}
	paths, err := expandPaths(o.Paths)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no files in %s", strings.Join(o.Paths, ", "))
	}
	m, err := predict.Open(ctx, o.Model, predict.Options{Backbone: o.Backbone, Fetch: g.fetchOptions(ios, false)})
	if err != nil {
		return err
	}
	defer m.Close()
	bar := newBar(ios, len(paths), "predicting")
	results, err := m.Files(ctx, paths, func(done int) { bar.Set(done) })
	bar.Finish()
	if err != nil {
		return err
	}
	if err := writePredictions(ios, o.Format, m.Classes(), results); err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(results))
	}
	return nil
}

func writePredictions(ios streams, format string, classes []string, results []predict.Result) error {
	switch format {
	case "json":
		type row struct {
			Path          string             `json:"path"`
			Class         string             `json:"class,omitempty"`
			Probability   float32            `json:"probability,omitempty"`
			Probabilities map[string]float32 `json:"probabilities,omitempty"`
			Error         string             `json:"error,omitempty"`
		}
		rows := make([]row, len(results))
		for i, r := range results {
			rows[i].Path = r.Path
			if r.Err != nil {
				rows[i].Error = r.Err.Error()
				continue
			}
			rows[i].Class, rows[i].Probability = r.Class, r.Probs[r.Index]
			rows[i].Probabilities = map[string]float32{}
			for k, c := range classes {
				rows[i].Probabilities[c] = r.Probs[k]
			}
		}
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "csv":
		w := csv.NewWriter(ios.Out)
		head := []string{"path", "class", "probability"}
		for _, c := range classes {
			head = append(head, "p_"+c)
		}
		w.Write(append(head, "error"))
		for _, r := range results {
			rec := make([]string, len(head)+1)
			rec[0] = r.Path
			if r.Err != nil {
				rec[len(rec)-1] = r.Err.Error()
			} else {
				rec[1], rec[2] = r.Class, strconv.FormatFloat(float64(r.Probs[r.Index]), 'f', 4, 32)
				for k := range classes {
					rec[3+k] = strconv.FormatFloat(float64(r.Probs[k]), 'f', 4, 32)
				}
			}
			w.Write(rec)
		}
		w.Flush()
		return w.Error()
	default:
		tw := tabwriter.NewWriter(ios.Out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tCLASS\tPROBABILITY")
		for _, r := range results {
			if r.Err != nil {
				fmt.Fprintf(tw, "%s\terror\t%v\n", r.Path, r.Err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%.3f\n", r.Path, r.Class, r.Probs[r.Index])
		}
		return tw.Flush()
	}
}

type evalOptions struct {
	Model    string
	Data     string
	Backbone string
	Positive string
	JSON     bool
}

func newEvalCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --model RUN --data DIR",
		Short: "Score a trained model on a labelled folder",
		Long: `Score a model on a labelled folder: DIR/<class>/* (or the validation folder of a dataset
laid out as DIR/train and DIR/validation). Its classes must be among the model's.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runEval(c.Context(), ios, g, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model")
	cmd.Flags().StringVar(&o.Data, "data", "", "labelled image folder")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names)")
	cmd.Flags().StringVar(&o.Positive, "positive", "", "positive class for sensitivity and specificity (default: the model's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the metrics as JSON")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("data")
	return cmd
}

func runEval(ctx context.Context, ios streams, g *globalOptions, o *evalOptions) error {
	dir := o.Data
	for _, v := range []string{"validation", "val"} {
		if st, err := os.Stat(filepath.Join(o.Data, v)); err == nil && st.IsDir() {
			dir = filepath.Join(o.Data, v)
			break
		}
	}
	split, skipped, err := dataset.ScanSplit(dir, 0)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(ios.Err, "skipped %s: %s\n", s.Path, s.Reason)
	}
	m, err := predict.Open(ctx, o.Model, predict.Options{Backbone: o.Backbone, Fetch: g.fetchOptions(ios, false)})
	if err != nil {
		return err
	}
	defer m.Close()
	classes := m.Classes()
	remap := make([]int, len(split.Classes))
	for i, c := range split.Classes {
		remap[i] = slices.Index(classes, c)
		if remap[i] < 0 {
			return fmt.Errorf("%s has class %q, which the model does not know (its classes: %v)", dir, c, classes)
		}
	}
	positive := o.Positive
	if positive == "" {
		positive = m.Manifest.Positive
	}
	pos, err := positiveIndex(classes, positive)
	if err != nil {
		return err
	}
	paths := make([]string, len(split.Items))
	for i, it := range split.Items {
		paths[i] = it.Path
	}
	bar := newBar(ios, len(paths), "evaluating")
	results, err := m.Files(ctx, paths, func(done int) { bar.Set(done) })
	bar.Finish()
	if err != nil {
		return err
	}
	var labels []int
	var probs [][]float32
	for i, r := range results {
		if r.Err != nil {
			fmt.Fprintf(ios.Err, "skipped %s: %v\n", r.Path, r.Err)
			continue
		}
		labels = append(labels, remap[split.Items[i].Class])
		probs = append(probs, r.Probs)
	}
	if len(labels) == 0 {
		return fmt.Errorf("no image of %s could be read", dir)
	}
	met, err := report.Evaluate(classes, labels, probs, pos, 0.5)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(met)
	}
	printMetrics(ios, m.Manifest.Kind, &outcome{Metrics: met})
	tw := tabwriter.NewWriter(ios.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tPRECISION\tRECALL\tF1\tIMAGES")
	for _, c := range met.PerClass {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\n", c.Class, c.Precision, c.Recall, c.F1, c.Support)
	}
	return tw.Flush()
}
