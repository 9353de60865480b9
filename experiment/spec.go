package experiment

import (
	"fmt"
	"math"
	"slices"

	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
)

// DataSpec picks and splits the data.
type DataSpec struct {
	// Dir is DIR/train/<class>/* and DIR/validation/<class>/*, or DIR/<class>/* split by ValSplit.
	Dir      string  `json:"dir"`
	ValSplit float64 `json:"val_split"`
	// Seed seeds the split, the initial weights, the batch order and the augmentation.
	Seed uint64 `json:"seed"`
	// Exclude is an exclusion list (exclude.json of `lessdata audit --fix`), or "".
	Exclude string `json:"exclude,omitempty"`
	// NoAudit skips the quick audit that warns before training.
	NoAudit bool `json:"no_audit"`
}

// FitSpec is the training loop every method shares.
type FitSpec struct {
	Epochs int `json:"epochs"`
	Batch  int `json:"batch"`
	// SamplesPerEpoch is the number of training samples per epoch (the article: 128); 0 means
	// one pass over the training set.
	SamplesPerEpoch int `json:"samples_per_epoch"`
	// Patience stops a fit when the validation loss has not improved for this many epochs
	// (0: never).
	Patience int `json:"patience"`
	// KeepBest keeps the weights of the epoch with the lowest validation loss.
	KeepBest bool `json:"keep_best"`
}

// ScratchSpec is the scratch method's own options.
type ScratchSpec struct {
	// Size is the side images are resized to.
	Size      int  `json:"size"`
	NoAugment bool `json:"no_augment"`
}

// Transfer heads.
const (
	// HeadLinear is an L2-regularised logistic regression solved to convergence, its
	// augmentation, normalisation and strength chosen by inner cross-validation on the training
	// images: the default.
	HeadLinear = "linear"
	// HeadMLP is the head trained by epochs with Adam (optional hidden layer, dropout, L2).
	HeadMLP = "mlp"
)

// AugmentAuto lets inner cross-validation choose the transfer augmentation.
const AugmentAuto = "auto"

// TransferSpec is the transfer method's own options.
type TransferSpec struct {
	// Backbone is a name from the zoo or a backbone folder.
	Backbone string `json:"backbone"`
	// Head is HeadLinear or HeadMLP.
	Head string `json:"head"`
	// Augment is AugmentAuto or one of finetune.Augmentations (none, light, article).
	Augment string `json:"augment"`
	// Views is the number of augmented views per training image whose features are extracted.
	Views int `json:"views"`
	// Threshold, for two classes, is the decision threshold on the positive class's probability
	// (0: 0.5); TargetSensitivity instead sets it from out-of-fold training predictions (linear
	// head only).
	Threshold         float64 `json:"threshold,omitempty"`
	TargetSensitivity float64 `json:"target_sensitivity,omitempty"`
	// TTA averages the plain image's probabilities with those of TTA views at evaluation and
	// prediction (linear head): 0 never, finetune.TTAAuto when inner cross-validation says it
	// helps.
	TTA int `json:"tta"`
	// MLP shapes the head trained with Adam (HeadMLP).
	MLP head.Options `json:"mlp"`
}

// augmentations are the candidate augmentations the spec asks for.
func (t TransferSpec) augmentations() []finetune.Augmentation {
	if t.Augment == AugmentAuto || t.Augment == "" {
		return finetune.Augmentations
	}
	return []finetune.Augmentation{finetune.Augmentation(t.Augment)}
}

// FinetuneSpec is the fine-tune method's own options (phase 1 is the transfer method's linear
// head, with the TransferSpec's options).
type FinetuneSpec struct {
	// Unfreeze is the number of top blocks of the backbone trained in phase 2.
	Unfreeze int `json:"unfreeze"`
	// LR is phase 2's Adam learning rate; 0 (the default) tries each of finetune.LearningRates
	// and keeps the best on the inner split, or no fine-tuning when none beats phase 1 there.
	LR float32 `json:"lr"`
	// Epochs and Patience bound phase 2, validated on an inner split of the training images.
	Epochs   int `json:"epochs"`
	Patience int `json:"patience"`
}

// Spec is everything a job needs to know.
type Spec struct {
	Data     DataSpec     `json:"data"`
	Fit      FitSpec      `json:"fit"`
	Methods  []Method     `json:"methods"`
	Scratch  ScratchSpec  `json:"scratch"`
	Transfer TransferSpec `json:"transfer"`
	Finetune FinetuneSpec `json:"finetune"`
	// Positive names the positive class of a two-class problem ("": the second class).
	Positive string `json:"positive,omitempty"`
	// Flags names options in errors as the command's flags (nil: the canonical names).
	Flags FlagNamer `json:"-"`
}

// DefaultSpec returns the defaults of every option, for the methods given.
func DefaultSpec(methods ...Method) Spec {
	h := head.Default()
	h.LearningRate = 0.001
	return Spec{
		Data:     DataSpec{ValSplit: 0.3, Seed: 1},
		Fit:      FitSpec{Epochs: 50, Batch: 32},
		Methods:  methods,
		Scratch:  ScratchSpec{Size: 64},
		Transfer: TransferSpec{Backbone: "mobilenet_v2", Head: HeadLinear, Augment: AugmentAuto, Views: finetune.DefaultViews, TTA: finetune.TTAAuto, MLP: h},
		Finetune: FinetuneSpec{Unfreeze: 2, Epochs: 10, Patience: 3},
	}
}

// FlagNamer turns an option's canonical flag name (such as "views") into the name the command
// shows (such as "transfer-views"), so that errors name the flag the user typed.
type FlagNamer func(name string) string

// Validate checks every option the spec's methods use, before any work starts. Errors name the
// flag as s.Flags gives it.
func (s Spec) Validate() error {
	flag := s.Flags
	if flag == nil {
		flag = func(n string) string { return n }
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("--%s %s", flag(name), fmt.Sprintf(format, args...))
	}
	switch {
	case s.Data.Dir == "":
		return bad("data", "is required: the image folder to train on")
	case !(s.Data.ValSplit > 0 && s.Data.ValSplit < 1):
		return bad("val-split", "%v must be between 0 and 1 (the fraction of each class held out)", s.Data.ValSplit)
	case s.Fit.Epochs < 1:
		return bad("epochs", "%d must be at least 1", s.Fit.Epochs)
	case s.Fit.Batch < 1:
		return bad("batch", "%d must be at least 1", s.Fit.Batch)
	case s.Fit.SamplesPerEpoch < 0:
		return bad("samples-per-epoch", "%d must not be negative (0: one pass over the training set)", s.Fit.SamplesPerEpoch)
	case s.Fit.Patience < 0:
		return bad("patience", "%d must not be negative (0: never stop early)", s.Fit.Patience)
	case len(s.Methods) == 0:
		return bad("methods", "names no method")
	}
	if slices.Contains(s.Methods, Scratch) {
		if s.Scratch.Size < 16 || s.Scratch.Size > 1024 {
			return bad("size", "%d must be between 16 and 1024 (the article uses 64)", s.Scratch.Size)
		}
	}
	if slices.Contains(s.Methods, Finetune) {
		f := s.Finetune
		switch {
		case f.Unfreeze < 0 || f.Unfreeze > 100:
			return bad("unfreeze", "%d must be between 0 (the head only) and the backbone's number of blocks", f.Unfreeze)
		case !(f.LR >= 0 && f.LR <= 0.01):
			return bad("finetune-lr", "%v must be 0 (chosen on the training images) or above 0 and at most 0.01 (fine-tuning wants small steps: 1e-5 to 1e-4)", f.LR)
		case f.Epochs < 1:
			return bad("finetune-epochs", "%d must be at least 1", f.Epochs)
		case f.Patience < 0:
			return bad("finetune-patience", "%d must not be negative (0: never stop early)", f.Patience)
		}
	}
	if slices.Contains(s.Methods, Transfer) || slices.Contains(s.Methods, Finetune) {
		t := s.Transfer
		h := t.MLP
		augs := []string{AugmentAuto}
		for _, a := range finetune.Augmentations {
			augs = append(augs, string(a))
		}
		switch {
		case t.Backbone == "":
			return bad("backbone", "is empty: give a name from `lessdata backbones list` or a backbone folder")
		case t.Head != HeadLinear && t.Head != HeadMLP:
			return bad("head", "%q is not %s or %s", t.Head, HeadLinear, HeadMLP)
		case !slices.Contains(augs, t.Augment):
			return bad("augment", "%q is not one of %v", t.Augment, augs)
		case t.Views < 1 || t.Views > 100:
			return bad("views", "%d must be between 1 and 100", t.Views)
		case t.TTA < finetune.TTAAuto || t.TTA > t.Views:
			return bad("tta", "%d must be -1 (auto), 0 (off) or a number of views up to --%s %d", t.TTA, flag("views"), t.Views)
		case t.Threshold != 0 && !(t.Threshold > 0 && t.Threshold < 1):
			return bad("threshold", "%v must be between 0 and 1", t.Threshold)
		case t.TargetSensitivity != 0 && !(t.TargetSensitivity > 0 && t.TargetSensitivity <= 1):
			return bad("target-sensitivity", "%v must be above 0 and at most 1", t.TargetSensitivity)
		case t.TargetSensitivity != 0 && t.Threshold != 0:
			return bad("target-sensitivity", "and --%s both set the threshold: give one", flag("threshold"))
		case t.TargetSensitivity != 0 && t.Head != HeadLinear:
			return bad("target-sensitivity", "needs the linear head (the out-of-fold predictions come from its inner cross-validation)")
		case h.Hidden < 0:
			return bad("hidden", "%d must not be negative (0: a linear head)", h.Hidden)
		case !(h.Dropout >= 0 && h.Dropout < 1):
			return bad("dropout", "%v must be at least 0 and below 1", h.Dropout)
		case !(h.L2 >= 0) || math.IsInf(float64(h.L2), 0):
			return bad("l2", "%v must be a finite number, at least 0", h.L2)
		case !(h.LearningRate > 0 && h.LearningRate <= 1):
			return bad("lr", "%v must be above 0 and at most 1 (Adam's usual is 0.001)", h.LearningRate)
		}
	}
	return nil
}

// fitOptions is the training loop of one fit: the one place FitSpec becomes finetune options, so
// early stopping and keep-best act alike in single runs and in every grid cell.
func (f FitSpec) fitOptions(seed uint64, workers int) finetune.FitOptions {
	o := finetune.FitOptions{Epochs: f.Epochs, BatchSize: f.Batch, Seed: seed, KeepBest: f.KeepBest, Workers: workers}
	if f.SamplesPerEpoch > 0 {
		o.StepsPerEpoch = (f.SamplesPerEpoch + f.Batch - 1) / f.Batch
	}
	if f.Patience > 0 {
		o.EarlyStopping = &finetune.EarlyStopping{Patience: f.Patience}
	}
	return o
}
