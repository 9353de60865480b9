package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/finetune"
)

type auditOptions struct {
	dataOptions
	Backbone string
	Out      string
	Fix      bool
}

func newAuditCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit --data DIR [--backbone NAME|DIR] [--out RUN] [--fix]",
		Short: "Look for leaks, duplicates, label problems and junk images before training",
		Long: `Inspect a dataset before training on it. Every image is decoded once and checked for:

  - exact duplicates (same pixels) and near duplicates (perceptual hash; with --backbone also
    the cosine similarity of backbone features), grouped; groups that span train and
    validation are leaks, groups filed under different classes are label conflicts;
  - placeholders and junk: tiny, uniform, mostly transparent and non-photo images (logos,
    clip-art, "image not found");
  - with --backbone: label suspects (images whose class is improbable under 5-fold
    cross-validated predictions of a linear head on the features) and outliers (far from every
    class);
  - class and split balance, and files that cannot be decoded.

The data folder is never changed. With --out, RUN receives audit.json and contact_sheet.png
(thumbnails of every flagged group and image, with the reason). With --fix, RUN also receives
exclude.json: placeholders and junk, the validation copy of every leak and both sides of every
label conflict (label suspects and outliers are only listed: look at them first). Pass it to
train or compare with --exclude.`,
		Example: `  lessdata audit --data ../shared/datasets/car_vs_bus
  lessdata audit --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --out runs/audit --fix`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAudit(c.Context(), ios, g, o)
		},
	}
	o.dataOptions.flags(cmd)
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone name or folder for the feature checks (default: none, only the pixel checks)")
	cmd.Flags().StringVar(&o.Out, "out", "", "folder to write audit.json and contact_sheet.png into (created if needed)")
	cmd.Flags().BoolVar(&o.Fix, "fix", false, "also write exclude.json into --out, for train and compare --exclude")
	return cmd
}

func runAudit(ctx context.Context, ios streams, g *globalOptions, o *auditOptions) error {
	if o.Fix && o.Out == "" {
		return fmt.Errorf("--fix writes exclude.json into the --out folder: give --out")
	}
	ds, _, err := prepareData(ctx, ios, o.dataOptions, false)
	if err != nil {
		return err
	}
	opt := audit.Options{Data: o.Data, Seed: o.Seed, Progress: stageBars(ios)}
	if o.Backbone != "" {
		fetch := g.fetchOptions(ios, false)
		dir, err := backbone.Resolve(ctx, o.Backbone, fetch)
		if err != nil {
			return err
		}
		b, err := backbone.Open(dir, backbone.Options{})
		if err != nil {
			return err
		}
		defer b.Close()
		cacheDir, err := fetch.CacheDirOrDefault()
		if err != nil {
			return err
		}
		opt.Backbone, opt.FeatureCache = b, finetune.NewFeatureCache(cacheDir, b.Digest())
	}
	r, err := audit.Run(ctx, ds, opt)
	if err != nil {
		return err
	}
	r.Summary(ios.Out)
	if o.Out == "" {
		return nil
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	report, sheet := filepath.Join(o.Out, "audit.json"), filepath.Join(o.Out, "contact_sheet.png")
	if err := r.WriteJSON(report); err != nil {
		return err
	}
	if err := r.WriteContactSheet(sheet); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "report: %s\ncontact sheet: %s\n", report, sheet)
	if !o.Fix {
		return nil
	}
	ex := r.Exclusions()
	path := filepath.Join(o.Out, "exclude.json")
	if err := audit.WriteExclusions(path, ex); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "exclusions: %s (%d images; the data folder is unchanged)\n", path, len(ex))
	fmt.Fprintf(ios.Out, "use it with: lessdata compare --data %s --exclude %s --backbone NAME --out RUN\n", o.Data, path)
	return nil
}

// stageBars returns an audit progress callback that draws one bar per stage.
func stageBars(ios streams) func(stage string, done, total int) {
	var bar *progressbar.ProgressBar
	current := ""
	return func(stage string, done, total int) {
		if stage != current {
			if bar != nil {
				bar.Finish()
			}
			bar, current = newBar(ios, total, "audit: "+stage), stage
		}
		bar.Set(done)
	}
}

// quickAudit runs the fast checks (exact and perceptual duplicates, junk, balance) and prints
// at most max warnings on the error stream, for train, compare and curve to call before they
// start. It never fails the command: an audit error is printed as a warning.
func quickAudit(ctx context.Context, ios streams, ds *dataset.Dataset, data string, max int) {
	r, err := audit.Run(ctx, ds, audit.Options{Data: data, Quick: true})
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(ios.Err, "warning: audit failed: %v\n", err)
		}
		return
	}
	w := r.Warnings(max)
	for _, line := range w {
		fmt.Fprintf(ios.Err, "warning: %s\n", line)
	}
	if len(w) > 0 {
		fmt.Fprintf(ios.Err, "warning: see `lessdata audit --data %s --out RUN --fix` for a contact sheet and an exclusion list\n", data)
	}
}

// applyExclude reads an exclusion list (from `lessdata audit --fix`) and returns ds without the
// excluded images, reporting how many it left out and any entry that matched no image.
func applyExclude(ios streams, ds *dataset.Dataset, data, path string) (*dataset.Dataset, []audit.Exclusion, error) {
	ex, err := audit.ReadExclusions(path)
	if err != nil {
		return nil, nil, err
	}
	kept, used := audit.ApplyExclusions(ds, data, ex)
	if n := len(ex) - len(used); n > 0 {
		fmt.Fprintf(ios.Err, "warning: %d of the %d entries of %s match no image of %s\n", n, len(ex), path, data)
	}
	fmt.Fprintf(ios.Err, "excluded %d images listed in %s: train %d, validation %d left\n", len(used), path, len(kept.Train), len(kept.Val))
	if len(kept.Train) == 0 || len(kept.Val) == 0 {
		return nil, nil, fmt.Errorf("%s leaves no training or no validation image", path)
	}
	return kept, used, nil
}
