package experiment

import (
	"context"
	"fmt"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/dataset"
)

// Data is a scanned dataset with what was left out of it.
type Data struct {
	*dataset.Dataset
	// Excluded lists the images an exclusion list left out.
	Excluded []audit.Exclusion
	// Audit is the quick audit's report (nil when it did not run).
	Audit *audit.Report
}

// LoadData scans the data folder and reports what it holds, leaves out the images of the
// exclusion list, and, when quickAudit is set and the spec does not say NoAudit, logs the quick
// audit's warnings (duplicates, leaks, junk) before any training.
func LoadData(ctx context.Context, d DataSpec, quickAudit bool, ui UI) (*Data, error) {
	ds, err := dataset.LoadContext(ctx, d.Dir, dataset.Options{ValSplit: d.ValSplit, Seed: int64(d.Seed)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, interrupted(err)
		}
		return nil, fmt.Errorf("--data: %w", err)
	}
	for _, s := range ds.Skipped {
		ui.logf("skipped %s: %s", s.Path, s.Reason)
	}
	for _, w := range ds.Warnings {
		ui.warnf("%s", w)
	}
	train, val := ds.Counts()
	line := fmt.Sprintf("data %s: classes %v, train %v, validation %v", d.Dir, ds.Classes, train, val)
	if len(ds.Skipped) > 0 {
		line += fmt.Sprintf(", %d files skipped", len(ds.Skipped))
	}
	ui.logf("%s", line)
	data := &Data{Dataset: ds}
	if d.Exclude != "" {
		if err := data.exclude(d.Dir, d.Exclude, ui); err != nil {
			return nil, err
		}
	}
	if quickAudit && !d.NoAudit {
		data.Audit = warnQuickAudit(ctx, data.Dataset, d.Dir, 8, ui)
	}
	return data, nil
}

// exclude leaves out the images of an exclusion list, reporting how many and any entry that
// matched no image.
func (d *Data) exclude(dir, path string, ui UI) error {
	ex, err := audit.ReadExclusions(path)
	if err != nil {
		return fmt.Errorf("--exclude: %w", err)
	}
	kept, used := audit.ApplyExclusions(d.Dataset, dir, ex)
	if n := len(ex) - len(used); n > 0 {
		ui.warnf("%d of the %d entries of %s match no image of %s", n, len(ex), path, dir)
	}
	ui.logf("excluded %d images listed in %s: train %d, validation %d left", len(used), path, len(kept.Train), len(kept.Val))
	if len(kept.Train) == 0 || len(kept.Val) == 0 {
		return fmt.Errorf("--exclude %s leaves no training or no validation image", path)
	}
	d.Dataset, d.Excluded = kept, used
	return nil
}

// warnQuickAudit runs the fast checks (exact and perceptual duplicates, junk, balance), logs at
// most max warnings and returns the report. It never fails the job: an audit error is logged as
// a warning, and the report is then nil.
func warnQuickAudit(ctx context.Context, ds *dataset.Dataset, dir string, max int, ui UI) *audit.Report {
	r, err := audit.Run(ctx, ds, audit.Options{Data: dir, Quick: true})
	if err != nil {
		if ctx.Err() == nil {
			ui.warnf("audit failed: %v", err)
		}
		return nil
	}
	w := r.Warnings(max)
	for _, line := range w {
		ui.warnf("%s", line)
	}
	if len(w) > 0 {
		ui.warnf("see `lessdata audit --data %s --out RUN --fix` for a contact sheet and an exclusion list", dir)
	}
	return r
}
