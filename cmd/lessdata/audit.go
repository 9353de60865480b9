package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/experiment"
)

// auditOptions are audit's options.
type auditOptions struct {
	Data     experiment.DataSpec
	Backbone string
	Out      string
	Fix      bool
	Force    bool
}

func newAuditCmd(f *factory, runF func(context.Context, *auditOptions) error) *cobra.Command {
	o := &auditOptions{Data: experiment.DefaultSpec().Data}
	cmd := &cobra.Command{
		Use:   "audit --data DIR [--backbone NAME|DIR] [--out RUN] [--fix]",
		Short: "Look for leaks, duplicates, label problems and junk images before training",
		Long: `Inspect a dataset before training on it. Every image is decoded once and checked for:

  - exact duplicates (same pixels) and near duplicates (perceptual hash confirmed by pixel
    similarity after alignment; with --backbone also the cosine similarity of backbone
    features), grouped; groups that span train and validation are leaks, groups filed under
    different classes are label conflicts; pairs that only look alike are listed as
    look-alikes and never excluded;
  - placeholders and junk: tiny, uniform, mostly transparent and non-photo images (logos,
    clip-art, "image not found");
  - with --backbone: label suspects (images whose class is improbable under 5-fold
    cross-validated predictions of a linear head on the features) and outliers (far from every
    class);
  - class and split balance, and files that cannot be decoded.

The data folder is never changed. With --out, RUN receives audit.json and contact sheets
(thumbnails of every flagged group and image, with the reason). With --fix, RUN also receives
exclude.json: placeholders and junk, the validation copy of every leak and both sides of every
label conflict (label suspects and outliers are only listed: look at them first). Pass it to
train or compare with --exclude.`,
		Example: `  lessdata audit --data ../shared/datasets/car_vs_bus
  lessdata audit --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --out runs/audit --fix`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Fix && o.Out == "" {
				return fmt.Errorf("--fix writes exclude.json into the --out folder: give --out")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runAudit(c.Context(), f, o)
		},
	}
	dataFlags(cmd, &o.Data)
	cmd.Flags().StringVar(&o.Backbone, "backbone", "", "backbone name or folder for the feature checks (default: none, only the pixel checks)")
	cmd.Flags().StringVar(&o.Out, "out", "", "folder to write audit.json and the contact sheets into")
	cmd.Flags().BoolVar(&o.Fix, "fix", false, "also write exclude.json into --out, for train and compare --exclude")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an earlier audit in --out")
	return cmd
}

func runAudit(ctx context.Context, f *factory, o *auditOptions) error {
	if o.Out != "" {
		if err := bundle.CheckOut(o.Out, o.Data.Dir, o.Data.Exclude); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if _, err := os.Lstat(o.Out); err == nil && !o.Force {
			return fmt.Errorf("--out %s already exists: choose another folder or pass --force to replace the audit in it", o.Out)
		} else if err == nil && !bundle.IsRun(o.Out) {
			return fmt.Errorf("--out %s exists and is not a lessdata audit: choose another folder", o.Out)
		}
	}
	data, err := experiment.LoadData(ctx, o.Data, false, ui(f.IO))
	if err != nil {
		return err
	}
	opt := audit.Options{Data: o.Data.Dir, Seed: o.Data.Seed, Progress: stageBars(f.IO)}
	if o.Backbone != "" {
		b, err := experiment.OpenBackbone(ctx, o.Backbone, f.fetchOptions(false))
		if err != nil {
			return err
		}
		defer b.Close()
		opt.Backbone, opt.FeatureCache = b.Backbone, b.Cache
	}
	r, err := audit.Run(ctx, data.Dataset, opt)
	if err != nil {
		return err
	}
	r.Summary(f.IO.Out)
	if o.Out == "" {
		return nil
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := bundle.MarkRun(o.Out, "audit"); err != nil {
		return err
	}
	report, sheet := filepath.Join(o.Out, "audit.json"), filepath.Join(o.Out, "contact_sheet.png")
	if err := r.WriteJSON(report); err != nil {
		return err
	}
	if err := r.WriteContactSheet(sheet); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "report: %s\ncontact sheet: %s\n", report, strings.Join(r.ContactSheetPages(sheet), ", "))
	if !o.Fix {
		return nil
	}
	ex := r.Exclusions()
	path := filepath.Join(o.Out, "exclude.json")
	if err := audit.WriteExclusions(path, ex); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "exclusions: %s (%d images; the data folder is unchanged)\n", path, len(ex))
	fmt.Fprintf(f.IO.Out, "use it with: lessdata compare --data %s --exclude %s --backbone NAME --out RUN\n", o.Data.Dir, path)
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
