package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
)

func newTrainCmd(f *factory, runF func(context.Context, *trainOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a classifier on a folder of images",
	}
	cmd.AddCommand(newTrainScratchCmd(f, runF), newTrainTransferCmd(f, runF), newTrainFinetuneCmd(f, runF))
	return cmd
}

// trainOptions are a train command's options: the spec of one method and its run folder.
type trainOptions struct {
	Method experiment.Method
	Spec   experiment.Spec
	Out    experiment.Output
}

// newTrainMethodCmd builds `train METHOD`: cmd carries the help, flags adds the method's own
// flags to the data, output and (for methods with a backbone) transfer flags every one has.
func newTrainMethodCmd(f *factory, runF func(context.Context, *trainOptions) error, m experiment.Method, cmd *cobra.Command,
	flags func(*cobra.Command, *experiment.Spec)) *cobra.Command {
	o := &trainOptions{Method: m, Spec: experiment.DefaultSpec(m)}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := checkHeadFlags(c, o.Spec.Transfer); err != nil {
			return err
		}
		if runF != nil {
			return runF(c.Context(), o)
		}
		return runTrain(c.Context(), f, o)
	}
	dataFlags(cmd, &o.Spec.Data)
	flags(cmd, &o.Spec)
	if m.NeedsBackbone() {
		transferFlags(cmd, &o.Spec.Transfer, "")
	}
	outFlags(cmd, &o.Out, &o.Spec.Positive)
	return cmd
}

func newTrainScratchCmd(f *factory, runF func(context.Context, *trainOptions) error) *cobra.Command {
	return newTrainMethodCmd(f, runF, experiment.Scratch, &cobra.Command{
		Use:   "scratch --data DIR --out RUN",
		Short: "Train the article's two-block CNN from scratch with heavy augmentation",
		Long: `Train the article's CNN (conv 32 3x3, max-pool, conv 32 3x3, max-pool, dense 128, sigmoid or
softmax) from scratch on small images, with Keras ImageDataGenerator-style augmentation drawn
fresh at every step (rotation 15, shifts 0.2, shear 0.2, zoom 0.2, flips, brightness 0.5-1.5,
reflect fill, featurewise centring and normalisation fitted on the training images).

RUN receives the model bundle (bundle.json, model/), history.json and history.csv, and the
curves loss.png and accuracy.png. Ctrl-C stops after the current batch and keeps the best
model so far (exit status 130).`,
		Example: `  lessdata train scratch --data ../shared/datasets/car_vs_bus --out runs/scratch`,
	}, func(cmd *cobra.Command, s *experiment.Spec) {
		fitFlags(cmd, &s.Fit)
		scratchFlags(cmd, &s.Scratch, "")
	})
}

func newTrainTransferCmd(f *factory, runF func(context.Context, *trainOptions) error) *cobra.Command {
	return newTrainMethodCmd(f, runF, experiment.Transfer, &cobra.Command{
		Use:   "transfer --data DIR --backbone NAME|DIR --out RUN",
		Short: "Fit a small head on the features of a frozen pretrained backbone, with augmentation",
		Long: `Fit a head on the features of a frozen, pretrained backbone (features are extracted once and
cached).

The default head is linear: an L2-regularised logistic regression solved to convergence.
Stratified 5-fold cross-validation on the training images alone chooses the augmentation
(--augment auto: none, light or the article's; each training image gives --views augmented
views, and the views of an image never sit on both sides of a fold), the feature
normalisation and the strength C. The validation images are never used to choose anything.
--head mlp instead trains a small network with Adam for --epochs (--hidden, --dropout, --l2,
--lr), with the article's augmentation.

For two classes, --threshold sets the decision threshold, or --target-sensitivity sets it
from out-of-fold predictions on the training images.

RUN receives the model bundle (bundle.json naming the backbone and its sha256, model/),
metrics, and what was chosen and why (bundle.json's training record).`,
		Example: `  lessdata train transfer --data ../shared/datasets/hymenoptera --backbone mobilenet_v2 --out runs/transfer`,
	}, func(cmd *cobra.Command, s *experiment.Spec) { fitFlags(cmd, &s.Fit) })
}

func newTrainFinetuneCmd(f *factory, runF func(context.Context, *trainOptions) error) *cobra.Command {
	return newTrainMethodCmd(f, runF, experiment.Finetune, &cobra.Command{
		Use:   "finetune --data DIR --backbone NAME|DIR --out RUN",
		Short: "Fine-tune the top blocks of a pretrained backbone with its head (the second phase of transfer learning)",
		Long: `An inner 20% of the training images is held out for every choice; the validation images are
only scored at the end. Phase 1 fits the linear transfer head on frozen backbone features of
the other training images (as train transfer does: augmentation, normalisation and strength
chosen by inner cross-validation). Phase 2 unfreezes the top --unfreeze blocks of the backbone
and trains them with the head end to end at a small learning rate, with the chosen
augmentation drawn fresh every step, for at most --finetune-epochs, with early stopping and
keep-best on the inner split. By default it tries 1e-5, 3e-5 and 1e-4 (--finetune-lr sets
one) and keeps the learning rate with the lowest inner loss. When no trial beats phase 1 on
the inner split, fine-tuning did not help and the model is the linear head refitted on all
the training images; the run says so. Batch norms are folded into the converted backbones'
convolutions, so there is nothing to freeze there.

RUN receives one SavedModel of the whole network (fine-tuned backbone and head) that predict,
eval and export use without the original backbone, with history, metrics and curves.`,
		Example: `  lessdata train finetune --data ../shared/datasets/chest_xray_pneumonia_small --backbone mobilenet_v2 --out runs/ft`,
	}, func(cmd *cobra.Command, s *experiment.Spec) {
		cmd.Flags().IntVar(&s.Fit.Batch, "batch", s.Fit.Batch, "batch size")
		finetuneFlags(cmd, &s.Finetune)
	})
}

func runTrain(ctx context.Context, f *factory, o *trainOptions) error {
	o.Out.Version = version
	out, err := experiment.Train(ctx, o.Spec, o.Method, f.env(), o.Out)
	if out == nil {
		return err
	}
	defer out.Close()
	if err != nil && !errors.Is(err, experiment.ErrInterrupted) {
		return err
	}
	if h := out.History(); h != nil {
		printStop(f.IO, string(o.Method), h)
	}
	printMetrics(f.IO, string(o.Method), out.Metrics, out.Seconds)
	fmt.Fprintf(f.IO.Out, "model: %s\n", o.Out.Dir)
	return err
}
