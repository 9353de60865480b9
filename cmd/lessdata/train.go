package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/internal/files"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/finetune"
)

func newTrainCmd(ios streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a classifier on a folder of images",
	}
	cmd.AddCommand(newTrainScratchCmd(ios), newTrainTransferCmd(ios, g))
	return cmd
}

// dataOptions are the flags that pick and split the data.
type dataOptions struct {
	Data     string
	ValSplit float64
	Seed     uint64
	Exclude  string
	NoAudit  bool
}

func (d *dataOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.Data, "data", "", "image folder: DIR/train/<class>/* and DIR/validation/<class>/*, or DIR/<class>/* (split by --val-split)")
	cmd.Flags().Float64Var(&d.ValSplit, "val-split", 0.3, "fraction of each class held out for validation when DIR has no train/validation folders")
	cmd.Flags().Uint64Var(&d.Seed, "seed", 1, "seed for the split, the initial weights, the batch order and the augmentation")
	cmd.Flags().StringVar(&d.Exclude, "exclude", "", "leave out the images listed in this file (exclude.json of lessdata audit --fix)")
	cmd.Flags().BoolVar(&d.NoAudit, "no-audit", false, "skip the quick audit (duplicates, leaks, junk) that warns before training")
	cmd.MarkFlagRequired("data")
}

// fitFlags are the training-loop flags shared by the recipes.
type fitFlags struct {
	Epochs, Batch, SamplesPerEpoch, Patience int
	KeepBest                                 bool
}

func (f *fitFlags) flags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.Epochs, "epochs", 50, "number of epochs")
	cmd.Flags().IntVar(&f.Batch, "batch", 32, "batch size")
	cmd.Flags().IntVar(&f.SamplesPerEpoch, "samples-per-epoch", 0, "training samples per epoch (the article: 128); 0 means one pass over the training set")
	cmd.Flags().IntVar(&f.Patience, "patience", 0, "stop when the validation loss has not improved for this many epochs (0: never)")
	cmd.Flags().BoolVar(&f.KeepBest, "keep-best", false, "keep the weights of the epoch with the lowest validation loss, not the last")
}

func (f *fitFlags) options(seed uint64) (finetune.FitOptions, error) {
	if f.Epochs < 1 || f.Batch < 1 || f.SamplesPerEpoch < 0 || f.Patience < 0 {
		return finetune.FitOptions{}, fmt.Errorf("--epochs and --batch must be at least 1, --samples-per-epoch and --patience not negative")
	}
	o := finetune.FitOptions{Epochs: f.Epochs, BatchSize: f.Batch, Seed: seed, KeepBest: f.KeepBest}
	if f.SamplesPerEpoch > 0 {
		o.StepsPerEpoch = (f.SamplesPerEpoch + f.Batch - 1) / f.Batch
	}
	if f.Patience > 0 {
		o.EarlyStopping = &finetune.EarlyStopping{Patience: f.Patience}
	}
	return o, nil
}

// scratchFlags are the scratch recipe's own flags.
type scratchFlags struct {
	Size      int
	NoAugment bool
}

func (s *scratchFlags) flags(cmd *cobra.Command, prefix string) {
	cmd.Flags().IntVar(&s.Size, prefix+"size", 64, "scratch: images are resized to size x size")
	cmd.Flags().BoolVar(&s.NoAugment, prefix+"no-augment", false, "scratch: train without random transforms")
}

// outFlags name the run folder.
type outFlags struct {
	Out      string
	Force    bool
	Positive string
}

func (o *outFlags) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Out, "out", "", "run folder to write (must not exist unless --force)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing run folder")
	cmd.Flags().StringVar(&o.Positive, "positive", "", "positive class for sensitivity and specificity (two classes; default: the second class)")
	cmd.MarkFlagRequired("out")
}

type trainScratchOptions struct {
	dataOptions
	fitFlags
	scratchFlags
	outFlags
}

func newTrainScratchCmd(ios streams) *cobra.Command {
	o := &trainScratchOptions{}
	cmd := &cobra.Command{
		Use:   "scratch --data DIR --out RUN",
		Short: "Train the article's two-block CNN from scratch with heavy augmentation",
		Long: `Train the article's CNN (conv 32 3x3, max-pool, conv 32 3x3, max-pool, dense 128, sigmoid or
softmax) from scratch on small images, with Keras ImageDataGenerator-style augmentation drawn
fresh at every step (rotation 15, shifts 0.2, shear 0.2, zoom 0.2, flips, brightness 0.5-1.5,
reflect fill, featurewise centring and normalisation fitted on the training images).

RUN receives the model bundle (bundle.json, model/), history.json and history.csv, and the
curves loss.png and accuracy.png. Ctrl-C stops after the current batch and keeps the best
model so far.`,
		Example: `  lessdata train scratch --data ../shared/datasets/car_vs_bus --out runs/scratch`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTrainScratch(c.Context(), ios, o)
		},
	}
	o.dataOptions.flags(cmd)
	o.fitFlags.flags(cmd)
	o.scratchFlags.flags(cmd, "")
	o.outFlags.flags(cmd)
	return cmd
}

// prepareData scans the data folder, leaves out the images of --exclude, and, when warn is set and
// --no-audit is not, prints the quick audit's warnings. It returns the images left out.
func prepareData(ctx context.Context, ios streams, d dataOptions, warn bool) (*dataset.Dataset, []audit.Exclusion, error) {
	ds, err := scanData(ios, d)
	if err != nil {
		return nil, nil, err
	}
	var excluded []audit.Exclusion
	if d.Exclude != "" {
		if ds, excluded, err = applyExclude(ios, ds, d.Data, d.Exclude); err != nil {
			return nil, nil, err
		}
	}
	if warn && !d.NoAudit {
		quickAudit(ctx, ios, ds, d.Data, 8)
	}
	return ds, excluded, nil
}

// scanData scans the data folder and reports what it holds and what was skipped.
func scanData(ios streams, d dataOptions) (*dataset.Dataset, error) {
	ds, err := dataset.Load(d.Data, dataset.Options{ValSplit: d.ValSplit, Seed: int64(d.Seed)})
	if err != nil {
		return nil, err
	}
	for _, s := range ds.Skipped {
		fmt.Fprintf(ios.Err, "skipped %s: %s\n", s.Path, s.Reason)
	}
	counts := func(items []dataset.Item) []int {
		c := make([]int, len(ds.Classes))
		for _, it := range items {
			c[it.Class]++
		}
		return c
	}
	fmt.Fprintf(ios.Err, "data %s: classes %v, train %v, validation %v", d.Data, ds.Classes, counts(ds.Train), counts(ds.Val))
	if len(ds.Skipped) > 0 {
		fmt.Fprintf(ios.Err, ", %d files skipped", len(ds.Skipped))
	}
	fmt.Fprintln(ios.Err)
	return ds, nil
}

// decodeSplits decodes both splits at w x h; with hashes, each image also gets its file's
// content hash (for the feature cache). Files that fail to decode are reported and left out.
func decodeSplits(ctx context.Context, ios streams, ds *dataset.Dataset, w, h int, hashes bool) (finetune.Keyed, finetune.Keyed, error) {
	var none finetune.Keyed
	cache := dataset.NewCache(w, h, 0, tfdecode.Decode)
	decode := func(what string, items []dataset.Item) (finetune.Keyed, error) {
		bar := newBar(ios, len(items), "decoding "+what)
		imgs, errs := cache.Images(ctx, items, func(int) { bar.Add(1) })
		bar.Finish()
		if err := ctx.Err(); err != nil {
			return none, err
		}
		var l finetune.Keyed
		for i, im := range imgs {
			hash := ""
			if errs[i] == nil && hashes {
				hash, errs[i] = files.SHA256(items[i].Path)
			}
			if errs[i] != nil {
				fmt.Fprintf(ios.Err, "skipped %s: %v\n", items[i].Path, errs[i])
				continue
			}
			l.Images = append(l.Images, im)
			l.Labels = append(l.Labels, items[i].Class)
			l.Hashes = append(l.Hashes, hash)
		}
		if len(l.Images) == 0 {
			return none, fmt.Errorf("no %s image could be decoded", what)
		}
		return l, nil
	}
	train, err := decode("training", ds.Train)
	if err != nil {
		return none, none, err
	}
	val, err := decode("validation", ds.Val)
	if err != nil {
		return none, none, err
	}
	return train, val, nil
}

// newBar returns a progress bar on the error stream, or a silent one when it is not a terminal.
func newBar(ios streams, n int, desc string) *progressbar.ProgressBar {
	if !ios.Progress {
		return progressbar.DefaultSilent(int64(n), desc)
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(ios.Err), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
}

// epochReporter prints a Keras-like line per epoch and draws a step bar while an epoch runs.
func epochReporter(ios streams, label string, fit *finetune.FitOptions, save func(*finetune.History) error) {
	var bar *progressbar.ProgressBar
	fit.OnStep = func(p finetune.Progress) {
		if !ios.Progress {
			return
		}
		if p.Step == 1 {
			bar = newBar(ios, p.Steps, fmt.Sprintf("%s epoch %d/%d", label, p.Epoch, p.Epochs))
		}
		bar.Describe(fmt.Sprintf("%s epoch %d/%d loss %.4f", label, p.Epoch, p.Epochs, p.Loss))
		bar.Add(1)
	}
	fit.OnEpoch = func(h *finetune.History) error {
		if bar != nil {
			bar.Finish()
		}
		e, _ := h.Last()
		fmt.Fprintf(ios.Err, "%s epoch %d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  %.1fs\n",
			label, e.Epoch, fit.Epochs, e.Loss, e.Accuracy, e.ValLoss, e.ValAccuracy, e.Seconds)
		return save(h)
	}
}
