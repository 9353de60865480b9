package main

import (
	"fmt"
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
	cmd.Flags().StringVar(&t.Head, "head", t.Head, "transfer: linear (logistic regression solved to convergence, tuned by inner cross-validation on the training images) or mlp (trained with Adam)")
	cmd.Flags().StringVar(&t.Augment, prefix+"augment", t.Augment, "transfer: auto (inner cross-validation chooses), none, light or article")
	cmd.Flags().IntVar(&t.Views, prefix+"views", t.Views, "transfer: augmented views per training image whose features are extracted (and cached)")
	cmd.Flags().Float64Var(&t.Threshold, "threshold", 0, "transfer, two classes: probability of the positive class at or above which an image is called positive (default 0.5)")
	cmd.Flags().IntVar(&t.TTA, "tta", t.TTA, "transfer: test-time augmentation, views averaged with the plain image at evaluation and prediction (-1: when inner cross-validation says it helps, 0: never)")
	cmd.Flags().Float64Var(&t.TargetSensitivity, "target-sensitivity", 0, "transfer, two classes: set the threshold that reaches this sensitivity on out-of-fold training predictions (linear head)")
	cmd.Flags().IntVar(&t.MLP.Hidden, "hidden", 0, "mlp head: width of a hidden layer (0: none)")
	cmd.Flags().Float32Var(&t.MLP.Dropout, "dropout", t.MLP.Dropout, "mlp head: dropout on the features while training")
	cmd.Flags().Float32Var(&t.MLP.L2, "l2", t.MLP.L2, "mlp head: L2 penalty on the kernels")
	cmd.Flags().Float32Var(&t.MLP.LearningRate, "lr", t.MLP.LearningRate, "mlp head: Adam's learning rate")
}

// finetuneFlags set the fine-tune method's phase 2.
func finetuneFlags(cmd *cobra.Command, ft *experiment.FinetuneSpec) {
	cmd.Flags().IntVar(&ft.Unfreeze, "unfreeze", ft.Unfreeze, "finetune: top blocks of the backbone trained in phase 2 (0: the head only)")
	cmd.Flags().Float32Var(&ft.LR, "finetune-lr", ft.LR, "finetune: Adam's learning rate in phase 2 (0: each of 1e-5, 3e-5 and 1e-4 is tried and the best on the inner split kept)")
	cmd.Flags().IntVar(&ft.Epochs, "finetune-epochs", ft.Epochs, "finetune: most epochs of phase 2")
	cmd.Flags().IntVar(&ft.Patience, "finetune-patience", ft.Patience, "finetune: stop phase 2 when the inner validation loss has not improved for this many epochs")
}

// checkHeadFlags refuses the mlp head's flags with the linear head, where they would do nothing.
func checkHeadFlags(cmd *cobra.Command, t experiment.TransferSpec) error {
	if t.Head != experiment.HeadLinear {
		if cmd.Flags().Lookup("target-sensitivity") != nil && cmd.Flags().Changed("target-sensitivity") {
			return fmt.Errorf("--target-sensitivity needs the linear head: leave --head out")
		}
		return nil
	}
	for _, f := range []string{"hidden", "dropout", "l2", "lr"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("--%s applies to the mlp head, and the head is linear: add --head mlp, or leave --%s out", f, f)
		}
	}
	return nil
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
