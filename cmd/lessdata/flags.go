package main

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
)

// The flag sets below write straight into an experiment.Spec: flags become a spec, and the
// experiment layer checks and runs it.

// dataFlags pick and split the data.
func dataFlags(cmd *cobra.Command, d *experiment.DataSpec) {
	cmd.Flags().StringVar(&d.Dir, "data", "", "image folder: DIR/train/<class>/* and DIR/validation/<class>/*, or DIR/<class>/* (split by --val-split)")
	cmd.Flags().Float64Var(&d.ValSplit, "val-split", d.ValSplit, "fraction of each class held out for validation when DIR has no train/validation folders")
	cmd.Flags().Uint64Var(&d.Seed, "seed", d.Seed, "seed for the split, the initial weights, the batch order and the augmentation")
	cmd.Flags().StringVar(&d.Exclude, "exclude", "", "leave out the images listed in this file (exclude.json of lessdata audit --fix)")
	cmd.Flags().BoolVar(&d.NoAudit, "no-audit", false, "skip the quick audit (duplicates, leaks, junk) that warns before training")
	cmd.MarkFlagRequired("data")
}

// fitFlags set the training loop every method shares.
func fitFlags(cmd *cobra.Command, f *experiment.FitSpec) {
	cmd.Flags().IntVar(&f.Epochs, "epochs", f.Epochs, "number of epochs")
	cmd.Flags().IntVar(&f.Batch, "batch", f.Batch, "batch size")
	cmd.Flags().IntVar(&f.SamplesPerEpoch, "samples-per-epoch", 0, "training samples per epoch (the article: 128); 0 means one pass over the training set")
	cmd.Flags().IntVar(&f.Patience, "patience", 0, "stop when the validation loss has not improved for this many epochs (0: never)")
	cmd.Flags().BoolVar(&f.KeepBest, "keep-best", false, "keep the weights of the epoch with the lowest validation loss, not the last")
}

// scratchFlags set the scratch method's options; prefix is "scratch-" where other methods share
// the command.
func scratchFlags(cmd *cobra.Command, s *experiment.ScratchSpec, prefix string) {
	cmd.Flags().IntVar(&s.Size, prefix+"size", s.Size, "scratch: images are resized to size x size")
	cmd.Flags().BoolVar(&s.NoAugment, prefix+"no-augment", false, "scratch: train without random transforms")
}

// transferFlags set the transfer method's options; prefix as for scratchFlags.
func transferFlags(cmd *cobra.Command, t *experiment.TransferSpec, prefix string) {
	cmd.Flags().StringVar(&t.Backbone, "backbone", t.Backbone, "backbone: a name from lessdata backbones list, or a backbone folder")
	cmd.Flags().IntVar(&t.Views, prefix+"views", t.Views, "transfer: augmented views per training image whose features are extracted (and cached)")
	cmd.Flags().BoolVar(&t.NoAugment, prefix+"no-augment", false, "transfer: use the plain images only")
	cmd.Flags().IntVar(&t.Head.Hidden, "hidden", 0, "transfer: width of a hidden layer in the head (0: linear head)")
	cmd.Flags().Float32Var(&t.Head.Dropout, "dropout", t.Head.Dropout, "transfer: dropout on the features while training")
	cmd.Flags().Float32Var(&t.Head.L2, "l2", t.Head.L2, "transfer: L2 penalty on the head's kernels")
	cmd.Flags().Float32Var(&t.Head.LearningRate, "lr", t.Head.LearningRate, "transfer: Adam's learning rate")
}

// outFlags name the run folder and the positive class.
func outFlags(cmd *cobra.Command, o *experiment.Output, positive *string) {
	cmd.Flags().StringVar(&o.Dir, "out", "", "run folder to write (must not exist unless --force)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing run folder (only a lessdata run folder is ever replaced)")
	if positive != nil {
		cmd.Flags().StringVar(positive, "positive", "", "positive class for sensitivity and specificity (two classes; default: the second class)")
	}
	cmd.MarkFlagRequired("out")
}

// gridFlags set how many trainings a grid runs at once.
func gridFlags(cmd *cobra.Command, jobs *int) {
	cmd.Flags().IntVar(jobs, "jobs", runtime.NumCPU(), "trainings run at once (each gets an even share of the cores)")
}

// prefixed names the flags of one method by the prefix they carry in commands that run several.
func prefixed(prefixes map[string]string) experiment.FlagNamer {
	return func(name string) string { return prefixes[name] + name }
}
