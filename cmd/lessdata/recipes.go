package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/internal/files"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
)

// transferFlags are the transfer recipe's own flags.
type transferFlags struct {
	Backbone  string
	Views     int
	NoAugment bool
	Hidden    int
	Dropout   float32
	L2        float32
	LR        float32
}

func (t *transferFlags) flags(cmd *cobra.Command, prefix string) {
	d := head.Default()
	cmd.Flags().StringVar(&t.Backbone, "backbone", "mobilenet_v2", "backbone: a name from lessdata backbones list, or a backbone folder")
	cmd.Flags().IntVar(&t.Views, prefix+"views", finetune.DefaultViews, "transfer: augmented views per training image whose features are extracted (and cached)")
	cmd.Flags().BoolVar(&t.NoAugment, prefix+"no-augment", false, "transfer: use the plain images only")
	cmd.Flags().IntVar(&t.Hidden, "hidden", 0, "transfer: width of a hidden layer in the head (0: linear head)")
	cmd.Flags().Float32Var(&t.Dropout, "dropout", d.Dropout, "transfer: dropout on the features while training")
	cmd.Flags().Float32Var(&t.L2, "l2", d.L2, "transfer: L2 penalty on the head's kernels")
	cmd.Flags().Float32Var(&t.LR, "lr", 0.001, "transfer: Adam's learning rate")
}

// outcome is a trained recipe, ready to be scored and saved.
type outcome struct {
	Kind     string
	Trained  *finetune.Trained
	Manifest *bundle.Manifest
	Info     map[string]any
	Seconds  float64
	Metrics  report.Metrics
}

func (o *outcome) Close() { o.Trained.Net.Close() }

func (s scratchFlags) validate() error {
	if s.Size < 16 {
		return fmt.Errorf("--size %d is too small for the CNN (at least 16)", s.Size)
	}
	return nil
}

func runScratch(ctx context.Context, ios streams, ds *dataset.Dataset, d dataOptions, s scratchFlags, fit finetune.FitOptions) (*outcome, error) {
	start := time.Now()
	train, val, err := decodeSplits(ctx, ios, ds, s.Size, s.Size, false)
	if err != nil {
		return nil, err
	}
	epochReporter(ios, "scratch", &fit, fit.OnEpoch)
	params := augment.Article()
	t, err := finetune.Scratch(ctx, ds.Classes, train.Labelled, val.Labelled, finetune.ScratchOptions{Augment: params, NoAugment: s.NoAugment, Fit: fit})
	if err != nil {
		return nil, err
	}
	m := &bundle.Manifest{Kind: bundle.KindScratch, Classes: ds.Classes, Input: bundle.Size{Width: s.Size, Height: s.Size},
		Preprocess: bundle.Preprocess{Rescale: params.Rescale, Featurewise: params.FeaturewiseCenter || params.FeaturewiseStdNormalization,
			Mean: t.Stats.Mean, Std: t.Stats.Std}}
	info := map[string]any{"recipe": "scratch", "size": s.Size, "augment": !s.NoAugment, "augment_params": params,
		"train_images": len(train.Images), "validation_images": len(val.Images)}
	return &outcome{Kind: bundle.KindScratch, Trained: t, Manifest: m, Info: info, Seconds: time.Since(start).Seconds()}, nil
}

func runTransfer(ctx context.Context, ios streams, g *globalOptions, ds *dataset.Dataset, tr transferFlags, fit finetune.FitOptions) (*outcome, error) {
	start := time.Now()
	fetch := g.fetchOptions(ios, false)
	dir, err := backbone.Resolve(ctx, tr.Backbone, fetch)
	if err != nil {
		return nil, err
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	w, h := b.InputSize()
	train, val, err := decodeSplits(ctx, ios, ds, w, h, true)
	if err != nil {
		return nil, err
	}
	cacheDir, err := fetch.CacheDirOrDefault()
	if err != nil {
		return nil, err
	}
	var bar interface{ Set(int) error }
	opt := finetune.TransferOptions{Backbone: b, Head: head.Options{Hidden: tr.Hidden, Dropout: tr.Dropout, L2: tr.L2, LearningRate: tr.LR},
		Augment: augment.Article(), NoAugment: tr.NoAugment, Views: tr.Views, Cache: finetune.NewFeatureCache(cacheDir, b.Digest()), Fit: fit,
		OnFeatures: func(done, total int) {
			if bar == nil {
				bar = newBar(ios, total, "features ("+b.Spec.Name+")")
			}
			bar.Set(done)
		}}
	epochReporter(ios, "transfer", &opt.Fit, fit.OnEpoch)
	t, err := finetune.Transfer(ctx, ds.Classes, train, val, opt)
	if err != nil {
		return nil, err
	}
	m := &bundle.Manifest{Kind: bundle.KindTransfer, Classes: ds.Classes, Input: bundle.Size{Width: w, Height: h},
		Backbone: &bundle.Backbone{Name: backboneName(tr.Backbone, b), SHA256: predict.BackboneID(b), Features: b.Spec.Features.Size}}
	info := map[string]any{"recipe": "transfer", "backbone": m.Backbone, "backbone_dir": dir, "views": tr.Views, "augment": !tr.NoAugment,
		"head": opt.Head, "train_images": len(train.Images), "validation_images": len(val.Images)}
	return &outcome{Kind: bundle.KindTransfer, Trained: t, Manifest: m, Info: info, Seconds: time.Since(start).Seconds()}, nil
}

// backboneName is the name a bundle records: the registry name, or the spec's for a folder.
func backboneName(arg string, b *backbone.Backbone) string {
	if _, err := filepath.Abs(arg); err == nil && arg == b.Dir && b.Spec.Name != "" {
		return b.Spec.Name
	}
	return arg
}

// score evaluates the outcome's final model on its validation set.
func (o *outcome) score(classes []string, positive string) error {
	pos, err := positiveIndex(classes, positive)
	if err != nil {
		return err
	}
	_, probs, err := finetune.Evaluate(o.Trained.Net, o.Trained.Val, 64)
	if err != nil {
		return err
	}
	o.Metrics, err = report.Evaluate(classes, o.Trained.Val.Labels, probs, pos, 0.5)
	if pos >= 0 {
		o.Manifest.Positive = classes[pos]
	}
	return err
}

// positiveIndex resolves --positive: the named class, or the second one for two classes.
func positiveIndex(classes []string, positive string) (int, error) {
	if positive == "" {
		if len(classes) == 2 {
			return 1, nil
		}
		return -1, nil
	}
	if len(classes) != 2 {
		return -1, fmt.Errorf("--positive applies to two classes; these are %v", classes)
	}
	i := slices.Index(classes, positive)
	if i < 0 {
		return -1, fmt.Errorf("--positive %q is not a class (classes: %v)", positive, classes)
	}
	return i, nil
}

// save writes the model bundle, history, metrics and curves into dir.
func (o *outcome) save(dir string, common map[string]any) error {
	info := map[string]any{}
	for k, v := range common {
		info[k] = v
	}
	for k, v := range o.Info {
		info[k] = v
	}
	info["stopped"], info["seconds"] = o.Trained.History.Stopped, o.Seconds
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	m := o.Manifest
	m.Training, m.Lessdata, m.Created = raw, version, time.Now().UTC().Format(time.RFC3339)
	if err := o.Trained.Net.Freeze(filepath.Join(dir, bundle.ModelDir)); err != nil {
		return err
	}
	if err := bundle.Write(dir, m); err != nil {
		return err
	}
	if err := o.Trained.History.Save(dir); err != nil {
		return err
	}
	if err := files.WriteJSON(filepath.Join(dir, "metrics.json"), o.Metrics); err != nil {
		return err
	}
	c := report.Curves{Runs: []report.NamedHistory{{Name: o.Kind, History: o.Trained.History}}}
	if err := c.WriteLoss(filepath.Join(dir, "loss.png")); err != nil {
		return err
	}
	return c.WriteAccuracy(filepath.Join(dir, "accuracy.png"))
}

// printMetrics prints the outcome's validation metrics.
func printMetrics(ios streams, name string, o *outcome) {
	m := o.Metrics
	fmt.Fprintf(ios.Out, "%-9s accuracy %.3f [%.3f, %.3f]  AUC %s", name, m.Accuracy, m.AccuracyLow, m.AccuracyHigh, fmtAUC(m.AUC))
	if m.Positive != "" {
		fmt.Fprintf(ios.Out, "  sensitivity %.3f  specificity %.3f (positive %s)", m.Sensitivity, m.Specificity, m.Positive)
	}
	fmt.Fprintf(ios.Out, "  %d images", m.N)
	if o.Seconds > 0 {
		fmt.Fprintf(ios.Out, "  %.1fs", o.Seconds)
	}
	fmt.Fprintln(ios.Out)
}

func fmtAUC(v float64) string {
	if v != v {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}

// prepared is the data of a run, as prepareData left it.
type prepared struct {
	*dataset.Dataset
	Excluded []audit.Exclusion
}

// beginRun checks the options, prepares the data and starts the run folder; the caller defers
// rd.Abandon().
func beginRun(ctx context.Context, ios streams, d dataOptions, f fitFlags, out outFlags) (finetune.FitOptions, prepared, *bundle.RunDir, error) {
	fit, err := f.options(d.Seed)
	if err != nil {
		return fit, prepared{}, nil, err
	}
	ds, excluded, err := prepareData(ctx, ios, d, true)
	if err != nil {
		return fit, prepared{}, nil, err
	}
	if _, err := positiveIndex(ds.Classes, out.Positive); err != nil {
		return fit, prepared{}, nil, err
	}
	rd, err := bundle.Begin(out.Out, out.Force)
	return fit, prepared{ds, excluded}, rd, err
}

// runInfo is what every model bundle records of the data and the training loop.
func runInfo(d dataOptions, f fitFlags, p prepared) map[string]any {
	return map[string]any{"data": d.Data, "seed": d.Seed, "epochs": f.Epochs, "batch": f.Batch,
		"samples_per_epoch": f.SamplesPerEpoch, "skipped": p.Skipped, "excluded": p.Excluded}
}

// trainOne runs a recipe into a fresh run folder and commits it.
func trainOne(ctx context.Context, ios streams, d dataOptions, f fitFlags, out outFlags, run func(*dataset.Dataset, finetune.FitOptions) (*outcome, error)) error {
	fit, ds, rd, err := beginRun(ctx, ios, d, f, out)
	if err != nil {
		return err
	}
	defer rd.Abandon()
	fit.OnEpoch = func(h *finetune.History) error { return h.Save(rd.Work) }
	o, err := run(ds.Dataset, fit)
	if err != nil {
		return err
	}
	defer o.Close()
	if len(o.Trained.History.Epochs) == 0 {
		return fmt.Errorf("stopped before the first epoch ended: nothing to keep")
	}
	if err := o.score(ds.Classes, out.Positive); err != nil {
		return err
	}
	if err := o.save(rd.Work, runInfo(d, f, ds)); err != nil {
		return err
	}
	if err := rd.Commit(); err != nil {
		return err
	}
	summarize(ios, o.Trained.History)
	printMetrics(ios, o.Kind, o)
	fmt.Fprintf(ios.Out, "model: %s\n", out.Out)
	return nil
}

func runTrainScratch(ctx context.Context, ios streams, o *trainScratchOptions) error {
	if err := o.scratchFlags.validate(); err != nil {
		return err
	}
	return trainOne(ctx, ios, o.dataOptions, o.fitFlags, o.outFlags, func(ds *dataset.Dataset, fit finetune.FitOptions) (*outcome, error) {
		return runScratch(ctx, ios, ds, o.dataOptions, o.scratchFlags, fit)
	})
}

type trainTransferOptions struct {
	dataOptions
	fitFlags
	transferFlags
	outFlags
}

func newTrainTransferCmd(ios streams, g *globalOptions) *cobra.Command {
	o := &trainTransferOptions{}
	cmd := &cobra.Command{
		Use:   "transfer --data DIR --backbone NAME|DIR --out RUN",
		Short: "Fit a small head on the features of a frozen pretrained backbone, with augmentation",
		Long: `Fit a small head (sigmoid for two classes, softmax for more) on the features of a frozen,
pretrained backbone. Each training image gives --views augmented variants (the same
augmentation as scratch) whose features are extracted once and cached; every step draws one
variant per image. Validation features come from the plain images.

RUN receives the model bundle (bundle.json naming the backbone and its sha256, model/),
history, metrics and curves.`,
		Example: `  lessdata train transfer --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --out runs/transfer`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return trainOne(c.Context(), ios, o.dataOptions, o.fitFlags, o.outFlags, func(ds *dataset.Dataset, fit finetune.FitOptions) (*outcome, error) {
				return runTransfer(c.Context(), ios, g, ds, o.transferFlags, fit)
			})
		},
	}
	o.dataOptions.flags(cmd)
	o.fitFlags.flags(cmd)
	o.transferFlags.flags(cmd, "")
	o.outFlags.flags(cmd)
	return cmd
}

// summarize says how a fit ended when it did not simply complete.
func summarize(ios streams, h *finetune.History) {
	last, _ := h.Last()
	best, _ := h.Best()
	switch h.Stopped {
	case finetune.StopInterrupted:
		fmt.Fprintf(ios.Err, "interrupted after %d epochs: kept the model of epoch %d (val_loss %.4f)\n", len(h.Epochs), best.Epoch, best.ValLoss)
	case finetune.StopEarly:
		fmt.Fprintf(ios.Err, "early stopping after epoch %d; best epoch %d\n", last.Epoch, best.Epoch)
	}
}
