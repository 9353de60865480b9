package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

func newBackbonesCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backbones",
		Short: "List, fetch, inspect and try pretrained backbones",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the backbones lessdata knows and whether they are fetched",
			Args:  cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				return runBackbonesList(f)
			},
		},
		newFetchCmd(f),
		&cobra.Command{
			Use:   "inspect NAME|DIR",
			Short: "Show a backbone's signatures, inputs, outputs and spec",
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				return runInspect(c.Context(), f, args[0])
			},
		},
		newClassifyCmd(f),
		newRankCmd(f, nil),
	)
	return cmd
}

// rankOptions are backbones rank's options.
type rankOptions struct {
	Data      experiment.DataSpec
	Backbones string
}

func newRankCmd(f *factory, runF func(context.Context, *rankOptions) error) *cobra.Command {
	o := &rankOptions{Data: experiment.DefaultSpec().Data}
	cmd := &cobra.Command{
		Use:   "rank --data DIR [--backbones a,b,c]",
		Short: "Rank backbones for a dataset by a linear probe cross-validated on its training images",
		Long: `Extract (and cache) each backbone's features of the training images and score a linear
probe (the linear transfer head) on them by stratified 5-fold cross-validation on the training
images only; print the out-of-fold log-loss, accuracy and ROC AUC with intervals, the speed,
and the recommendation (the lowest log-loss). The validation images are not read.
--backbone auto in train, compare and curve does the same and uses the winner.`,
		Example: `  lessdata backbones rank --data ../shared/datasets/hymenoptera`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runRank(c.Context(), f, o)
		},
	}
	dataFlags(cmd, &o.Data)
	cmd.Flags().StringVar(&o.Backbones, "backbones", "", "backbones to rank, comma separated (default: every backbone of the zoo)")
	return cmd
}

func runRank(ctx context.Context, f *factory, o *rankOptions) error {
	names, err := experiment.ZooBackbones()
	if err != nil {
		return err
	}
	if o.Backbones != "" {
		names = strings.Split(o.Backbones, ",")
	}
	r, err := experiment.RankBackbones(ctx, o.Data, names, f.env())
	if r == nil {
		return err
	}
	tw := tabwriter.NewWriter(f.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKBONE\tINPUT\tFEATURES\tLOG-LOSS\tACCURACY [95% CI]\tAUC [95% CI]\tIMAGES/S")
	for _, rk := range r.Ranks {
		if rk.Err != "" {
			fmt.Fprintf(tw, "%s\t\t\tfailed: %s\t\t\t\n", rk.Backbone, rk.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%s\t%s\t%.0f\n", rk.Backbone, rk.Input, rk.Features, rk.LogLoss,
			experiment.FormatEstimate(rk.Accuracy.Value, rk.Accuracy.Low, rk.Accuracy.High), experiment.FormatEstimate(rk.AUC.Value, rk.AUC.Low, rk.AUC.High), rk.PerSecond)
	}
	tw.Flush()
	if err == nil {
		fmt.Fprintf(f.IO.Out, "recommended: %s (lowest out-of-fold log-loss, %d-fold cross-validation on the training images)\n", r.Best, r.Folds)
	}
	return err
}

// fetchOptions say where backbones come from and are cached, from the global flags.
func (f *factory) fetchOptions(force bool) backbone.FetchOptions {
	ios := f.IO
	opt := backbone.FetchOptions{CacheDir: f.Global.CacheDir, Mirror: f.Global.Mirror, Force: force, Warn: ios.Err}
	if ios.Progress {
		opt.Progress = func(total int64, desc string) io.Writer {
			return progressbar.NewOptions64(total, progressbar.OptionSetWriter(ios.Err),
				progressbar.OptionShowBytes(true), progressbar.OptionSetDescription(desc),
				progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
		}
	}
	return opt
}

func runBackbonesList(f *factory) error {
	entries, err := models.Manifest()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(f.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tINPUT\tFEATURES\tSIZE\tSPEED\tLICENCE\tFETCHED\tDESCRIPTION")
	for _, e := range entries {
		_, ok, err := backbone.CachedDir(e.Name, f.fetchOptions(false))
		if err != nil {
			return err
		}
		state := "no"
		if ok {
			state = "yes"
		}
		fmt.Fprintf(tw, "%s\t%dx%d\t%d\t%.1f MB\t%s\t%s\t%s\t%s\n", e.Name, e.Input, e.Input, e.Features, e.SizeMB, e.Speed(), e.License, state, e.Description)
	}
	return tw.Flush()
}

type fetchOptions struct {
	Name  string
	Force bool
}

func newFetchCmd(f *factory) *cobra.Command {
	o := &fetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Download, verify (sha256) and convert a backbone into the cache",
		Long: `Download a known backbone from its pinned public source (or from --mirror), check its
sha256, convert it into a float TensorFlow SavedModel with its spec, and print the folder.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return runFetch(c.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "download and convert again even when cached")
	return cmd
}

func runFetch(ctx context.Context, f *factory, o *fetchOptions) error {
	dir, err := backbone.Fetch(ctx, o.Name, f.fetchOptions(o.Force))
	if err != nil {
		return err
	}
	fmt.Fprintln(f.IO.Out, dir)
	return nil
}

func runInspect(ctx context.Context, f *factory, arg string) error {
	ios := f.IO
	dir, err := backbone.Resolve(ctx, arg, f.fetchOptions(false))
	if err != nil {
		return err
	}
	sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
	if err != nil {
		return err
	}
	defer sm.Close()
	fmt.Fprintf(ios.Out, "SavedModel %s\n", dir)
	keys := make([]string, 0, len(sm.Signatures))
	for k := range sm.Signatures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := sm.Signatures[k]
		fmt.Fprintf(ios.Out, "signature %q (%s)\n", k, s.Method)
		printInfos(ios.Out, "input", s.Inputs)
		printInfos(ios.Out, "output", s.Outputs)
	}
	spec, err := models.ReadSpec(dir)
	if err != nil {
		fmt.Fprintf(ios.Out, "spec: %v\n", err)
		return nil
	}
	in := spec.Input
	fmt.Fprintf(ios.Out, "spec %s: %s\n", models.SpecFile, spec.Name)
	fmt.Fprintf(ios.Out, "  input %q: %dx%dx%d %s, %s resize, (x - %v) / %v\n", in.Key, in.Height, in.Width, in.Channels, in.ColorOrder, in.Resize, in.Mean, in.Std)
	fmt.Fprintf(ios.Out, "  features %q: %d\n", spec.Features.Key, spec.Features.Size)
	if spec.Logits != nil {
		fmt.Fprintf(ios.Out, "  logits %q: %d classes, labels %s\n", spec.Logits.Key, spec.Logits.Size, spec.Labels)
	}
	fmt.Fprintf(ios.Out, "  source %s sha256 %s (%s)\n", spec.Source.File, spec.Source.SHA256, spec.Source.Tool)
	for _, kv := range [][2]string{{"package", spec.Source.Package}, {"licence", spec.Source.License}, {"digest", spec.Digest}} {
		if kv[1] != "" {
			fmt.Fprintf(ios.Out, "  %s %s\n", kv[0], kv[1])
		}
	}
	if e, err := models.Lookup(arg); err == nil {
		fmt.Fprintf(ios.Out, "provenance of %s:\n", e.Name)
		for _, line := range e.Provenance() {
			fmt.Fprintf(ios.Out, "  %s\n", line)
		}
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		fmt.Fprintf(ios.Out, "check: %v\n", err)
		return err
	}
	b.Close()
	fmt.Fprintln(ios.Out, "check: the spec matches the SavedModel")
	return nil
}

func printInfos(w io.Writer, what string, m map[string]tf.TensorInfo) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ti := m[k]
		shape := "unknown rank"
		if ti.Shape != nil {
			dims := make([]string, len(ti.Shape))
			for i, d := range ti.Shape {
				dims[i] = fmt.Sprint(d)
				if d < 0 {
					dims[i] = "?"
				}
			}
			shape = "[" + strings.Join(dims, " ") + "]"
		}
		fmt.Fprintf(w, "  %s %-10s %-8s %-16s %s\n", what, k, ti.DType, shape, ti.Name)
	}
}

type classifyOptions struct {
	Backbone string
	Images   []string
	Top      int
}

func newClassifyCmd(f *factory) *cobra.Command {
	o := &classifyOptions{}
	cmd := &cobra.Command{
		Use:   "classify NAME|DIR IMAGE...",
		Short: "Show a backbone's top ImageNet labels for images (a check that it works)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			o.Backbone, o.Images = args[0], args[1:]
			return runClassify(c.Context(), f, o)
		},
	}
	cmd.Flags().IntVarP(&o.Top, "top", "k", 3, "how many labels to show per image")
	return cmd
}

func runClassify(ctx context.Context, f *factory, o *classifyOptions) error {
	ios := f.IO
	if o.Top < 1 {
		return fmt.Errorf("--top must be at least 1")
	}
	dir, err := backbone.Resolve(ctx, o.Backbone, f.fetchOptions(false))
	if err != nil {
		return err
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	if !b.HasLogits() {
		return fmt.Errorf("backbone %s has no class logits to classify with (it gives features only)", dir)
	}
	w, h := b.InputSize()
	failed := 0
	for _, path := range o.Images {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := dataset.LoadImage(path, w, h, 0, tfdecode.Decode)
		if err != nil {
			fmt.Fprintf(ios.Err, "%s: %v\n", path, err)
			failed++
			continue
		}
		res, err := b.Run(ctx, []*dataset.Image{img}, true)
		if err != nil {
			return err
		}
		for i, p := range b.TopK(res.Logits[0], o.Top) {
			name := filepath.Base(path)
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(ios.Out, "%-20s %6.3f  %s\n", name, p.Prob, p.Label)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(o.Images))
	}
	return nil
}
