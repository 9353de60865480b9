package main

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/export"
)

// exportOptions are export's options.
type exportOptions struct {
	Model    string
	Format   string
	Out      string
	Backbone string
	Force    bool
}

func newExportCmd(f *factory, runF func(context.Context, *exportOptions) error) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --model RUN --format savedmodel|tflite --out DIR",
		Short: "Write a trained model as a standalone SavedModel or TFLite file",
		Long: `Write a model that train or compare made as one self-contained classifier other tools run:
the backbone (if any), the head and all preprocessing in one file, with labels.txt and
lessdata_export.json beside it.

savedmodel: a SavedModel folder (TensorFlow Serving, tf.saved_model.load). Signature
serving_default takes "images", a batch of encoded image files (string); signature "pixels"
takes uint8 [N, H, W, 3] images already resized. Both return "probabilities" [N, classes]
and "class_index", the class predict would print (it follows the model's threshold, if any).
tflite: model.tflite taking uint8 [1, H, W, 3] pixels (resized) and giving float32
probabilities [1, classes].`,
		Example: `  lessdata export --model runs/car_vs_bus/transfer --format savedmodel --out exported/car_vs_bus`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !slices.Contains([]string{export.FormatSavedModel, export.FormatTFLite}, o.Format) {
				return fmt.Errorf("--format %q: use %s or %s", o.Format, export.FormatSavedModel, export.FormatTFLite)
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runExport(c.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model (with bundle.json)")
	cmd.Flags().StringVar(&o.Format, "format", export.FormatSavedModel, "savedmodel or tflite")
	cmd.Flags().StringVar(&o.Out, "out", "", "folder to write (must not exist unless --force)")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names, from the cache)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace the --out folder if it exists")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runExport(ctx context.Context, f *factory, o *exportOptions) error {
	opt := export.Options{Force: o.Force, Backbone: o.Backbone, Fetch: f.fetchOptions(false)}
	write := export.SavedModel
	if o.Format == export.FormatTFLite {
		write = export.TFLite
	}
	md, err := write(ctx, o.Model, o.Out, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "wrote %s (%s, %d classes, %dx%d input)\n", o.Out, md.Format, len(md.Classes), md.Width, md.Height)
	for _, k := range slices.Sorted(maps.Keys(md.Inputs)) {
		fmt.Fprintf(f.IO.Out, "  input  %s: %s\n", k, md.Inputs[k])
	}
	for _, k := range slices.Sorted(maps.Keys(md.Outputs)) {
		fmt.Fprintf(f.IO.Out, "  output %s: %s\n", k, md.Outputs[k])
	}
	return nil
}
