package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/serve"
)

// serveOptions are serve's options.
type serveOptions struct {
	Model    string
	Addr     string
	Backbone string
	MaxFiles int
	MaxMB    int
}

func newServeCmd(f *factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --model RUN [--addr 127.0.0.1:8080]",
		Short: "Try a trained model in the browser, or call it over HTTP",
		Long: `Serve one trained model on a local web page: drop or pick images and see each prediction
with its probability bars, and open the run's report. The same server answers
POST /api/predict with multipart images (field "images") and returns the JSON rows that
predict --format json prints. It listens on 127.0.0.1 only unless --addr says otherwise;
Ctrl-C shuts it down.`,
		Example: `  lessdata serve --model runs/car_vs_bus/transfer
  curl -F images=@photo.jpg http://127.0.0.1:8080/api/predict`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.MaxFiles < 1 || o.MaxMB < 1 {
				return fmt.Errorf("--max-files and --max-mb must be at least 1")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runServe(c.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "run folder of a trained model (with bundle.json)")
	cmd.Flags().StringVar(&o.Addr, "addr", serve.DefaultAddr, "address to listen on (host:port)")
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone folder for a transfer model (default: the one it names, from the cache)")
	cmd.Flags().IntVar(&o.MaxFiles, "max-files", serve.DefaultMaxFiles, "most images one request may send")
	cmd.Flags().IntVar(&o.MaxMB, "max-mb", serve.DefaultMaxBytes>>20, "largest request body, in MiB")
	cmd.MarkFlagRequired("model")
	return cmd
}

func runServe(ctx context.Context, f *factory, o *serveOptions) error {
	m, err := predict.Open(ctx, o.Model, predict.Options{Backbone: o.Backbone, Fetch: f.fetchOptions(false)})
	if err != nil {
		return err
	}
	defer m.Close()
	s := serve.New(ctx, m, serve.Options{MaxFiles: o.MaxFiles, MaxBytes: int64(o.MaxMB) << 20})
	return serve.Serve(ctx, o.Addr, s, func(addr string) {
		fmt.Fprintf(f.IO.Err, "serving %s on http://%s/ (Ctrl-C stops)\n", o.Model, addr)
	})
}
