package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/predict"
)

// predictOptions are predict's options.
type predictOptions struct {
	Model    string
	Paths    []string
	Format   string
	Backbone string
	Explain  string
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
			if !slices.Contains(predict.Formats, o.Format) {
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
	cmd.Flags().StringVar(&o.Explain, "explain", "", "write a Grad-CAM overlay of each image's predicted class into this folder (transfer and fine-tuned models)")
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
	w, err := predict.NewWriter(f.IO.Out, o.Format, m.Classes())
	if err != nil {
		return err
	}
	failed := 0
	var explain []predict.Result
	emit := func(r predict.Result) error {
		if r.Err != nil {
			failed++
		} else if o.Explain != "" {
			explain = append(explain, predict.Result{Path: r.Path, Index: r.Index, Probs: r.Probs})
		}
		return w.Write(r)
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
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if o.Explain != "" {
		files, err := m.Explain(ctx, explain, o.Explain)
		if err != nil {
			return err
		}
		n := 0
		for _, f := range files {
			if f != "" {
				n++
			}
		}
		fmt.Fprintf(f.IO.Err, "Grad-CAM: %d overlays in %s\n", n, o.Explain)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(paths)+len(problems))
	}
	return nil
}
