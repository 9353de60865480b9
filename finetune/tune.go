package finetune

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
	"github.com/lessdata/lessdata/tune"
)

// FineTuneOptions configure the fine-tuning recipe.
type FineTuneOptions struct {
	// Backbone is the open backbone (features for phase 1, input normalisation for phase 2) and
	// Dir its folder, which phase 2 rebuilds as a trainable graph.
	Backbone *backbone.Backbone
	Dir      string
	// Phase1 configures the linear head fitted first on frozen features.
	Phase1 LinearOptions
	// Unfreeze is the number of top blocks of the backbone that train in phase 2.
	Unfreeze int
	// LearningRate is phase 2's Adam learning rate; 0 tries each of LearningRates and keeps the
	// one whose best epoch has the lowest inner validation loss.
	LearningRate float32
	// Fit is phase 2's training loop; it validates on an inner split of the training images.
	Fit FitOptions
	// InnerVal is the fraction of each class's training images held out to validate phase 2
	// (for early stopping and keep-best); 0.2 when 0.
	InnerVal float64
	Session  tf.SessionOptions
}

// LearningRates are the phase-2 learning rates FineTune tries when none is given: the range the
// Keras guide and fastai use for fine-tuning.
var LearningRates = []float32{1e-5, 3e-5, 1e-4}

// FineTuned is a backbone fine-tuned end to end with its head.
type FineTuned struct {
	// Phase1 is the linear head fitted on frozen features of the training images outside the
	// inner split, which phase 2 starts from.
	Phase1 *LinearHead
	Model  *tune.Model
	// History is phase 2's with the chosen learning rate (the best trial's when phase 2 was not
	// kept), validated on the inner split of the training images.
	History *History
	Choice  Choice
	// Val holds the validation images' class probabilities.
	Val [][]float32
}

// Choice is what FineTune chose on the inner split, and why.
type Choice struct {
	// Phase1Loss is the phase-1 head's loss on the inner split, which a trial must beat.
	Phase1Loss float64 `json:"phase1_inner_loss"`
	// Trials are phase 2's runs, one per learning rate tried, with their best inner loss.
	Trials []Trial `json:"trials"`
	// LearningRate is the kept trial's; 0 when no trial beat phase 1 and the model is the
	// linear head refitted on all the training images, on the frozen backbone.
	LearningRate float32 `json:"learning_rate"`
}

// Trial is one phase-2 run.
type Trial struct {
	LearningRate float32 `json:"learning_rate"`
	BestEpoch    int     `json:"best_epoch"`
	BestLoss     float64 `json:"best_inner_loss"`
	Epochs       int     `json:"epochs"`
}

// Close frees the model.
func (f *FineTuned) Close() {
	if f.Model != nil {
		f.Model.Close()
	}
}

// FineTune is the second phase of the Keras transfer-learning guide, with its choices made on an
// inner split of the training images (InnerVal of each class), never on the validation images,
// which are only predicted at the end:
//
//   - phase 1 fits the linear head on frozen features of the other training images (Linear:
//     augmentation, normalisation and C chosen by inner cross-validation) and scores it on the
//     inner split;
//   - phase 2 unfreezes the top blocks of the backbone and trains them with the head end to end,
//     with the chosen augmentation drawn fresh every step, at the given learning rate or at each
//     of LearningRates, with early stopping and keep-best on the inner split;
//   - the trial with the lowest inner loss is kept if it beats phase 1 there. Otherwise
//     fine-tuning did not help on these images, and the model is the linear head refitted on all
//     the training images on the frozen backbone, which is the transfer method's model.
//
// Images must be of the backbone's input size.
func FineTune(ctx context.Context, classes []string, train, val Keyed, opt FineTuneOptions) (*FineTuned, error) {
	if opt.Backbone == nil || opt.Dir == "" {
		return nil, fmt.Errorf("fine-tune: no backbone")
	}
	fit, inner, err := innerSplit(train, len(classes), opt.InnerVal, opt.Fit.Seed)
	if err != nil {
		return nil, err
	}
	p1 := opt.Phase1
	p1.Backbone, p1.Seed = opt.Backbone, opt.Fit.Seed
	phase1, err := Linear(ctx, classes, fit, inner, p1)
	if err != nil {
		return nil, err
	}
	out := &FineTuned{Phase1: phase1}
	set := &tuneSet{images: fit.Images, labels: fit.Labels, b: opt.Backbone}
	if phase1.Augment != AugmentNone {
		p := phase1.Augment.params()
		p.Rescale, p.FeaturewiseCenter, p.FeaturewiseStdNormalization = 0, false, false
		if set.aug, err = augment.New(p, nil, opt.Fit.Seed); err != nil {
			return nil, fmt.Errorf("fine-tune: %w", err)
		}
	}
	innerEx, err := normalized(opt.Backbone, inner.Labelled)
	if err != nil {
		return nil, err
	}
	rates := LearningRates
	if opt.LearningRate > 0 {
		rates = []float32{opt.LearningRate}
	}
	w := phase1.Model.Weights()
	var bestHistory *History
	bestLoss := math.Inf(1)
	for _, lr := range rates {
		if ctx.Err() != nil {
			break
		}
		m, err := tune.Open(opt.Dir, tune.Options{Unfreeze: opt.Unfreeze, Classes: len(classes), Head: &w, LearningRate: lr,
			Seed: opt.Fit.Seed, Session: opt.Session})
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("fine-tune: %w", err)
		}
		if len(out.Choice.Trials) == 0 {
			// Phase 1 as phase 2 starts from it: the head on plain features.
			if out.Choice.Phase1Loss, _, err = Probabilities(m, innerEx, opt.Fit.BatchSize); err != nil {
				m.Close()
				return nil, fmt.Errorf("fine-tune: %w", err)
			}
		}
		h, err := Fit(ctx, m, set, innerEx, opt.Fit)
		if err != nil {
			m.Close()
			out.Close()
			return nil, fmt.Errorf("fine-tune at learning rate %g: %w", lr, err)
		}
		best, ok := h.Best()
		if !ok {
			m.Close() // interrupted before an epoch ended
			break
		}
		out.Choice.Trials = append(out.Choice.Trials, Trial{LearningRate: lr, BestEpoch: h.BestEpoch, BestLoss: best.ValLoss, Epochs: len(h.Epochs)})
		if bestHistory == nil || best.ValLoss < bestLoss {
			bestHistory, bestLoss = h, best.ValLoss
			if best.ValLoss < out.Choice.Phase1Loss {
				out.Close()
				out.Model, out.Choice.LearningRate = m, lr
				continue
			}
		}
		m.Close()
	}
	if bestHistory == nil {
		return out, nil // interrupted before an epoch ended: the caller says so
	}
	out.History = bestHistory
	if out.Model == nil {
		// No trial beat phase 1: the transfer method's head, refitted on all the training images
		// unless interrupted.
		if ctx.Err() == nil {
			if out.Phase1, err = Linear(ctx, classes, train, inner, p1); err != nil {
				return nil, err
			}
		}
		hw := out.Phase1.Model.Weights()
		if out.Model, err = tune.Open(opt.Dir, tune.Options{Unfreeze: 0, Classes: len(classes), Head: &hw, Seed: opt.Fit.Seed,
			Session: opt.Session}); err != nil {
			return nil, fmt.Errorf("fine-tune: %w", err)
		}
	}
	valEx, err := normalized(opt.Backbone, val.Labelled)
	if err != nil {
		out.Close()
		return nil, err
	}
	if _, out.Val, err = Probabilities(out.Model, valEx, opt.Fit.BatchSize); err != nil {
		out.Close()
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	return out, nil
}

// innerSplit holds out a stratified, seeded fraction of each class of train (at least one
// image) for validating phase 2.
func innerSplit(train Keyed, classes int, frac float64, seed uint64) (fit, inner Keyed, err error) {
	if frac <= 0 {
		frac = 0.2
	}
	by := make([][]int, classes)
	for i, l := range train.Labels {
		by[l] = append(by[l], i)
	}
	r := rand.New(rand.NewPCG(seed, 0x696e6e6572))
	held := make([]bool, len(train.Labels))
	for c, idx := range by {
		if len(idx) < 2 {
			return fit, inner, fmt.Errorf("fine-tune: class %d has %d training images; phase 2 needs at least 2 per class (one to validate on)", c, len(idx))
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx[:max(1, int(frac*float64(len(idx))+0.5))] {
			held[i] = true
		}
	}
	for i := range train.Labels {
		k := &fit
		if held[i] {
			k = &inner
		}
		k.Images, k.Labels = append(k.Images, train.Images[i]), append(k.Labels, train.Labels[i])
		if i < len(train.Hashes) {
			k.Hashes = append(k.Hashes, train.Hashes[i])
		}
	}
	return fit, inner, nil
}

// normalized returns a set's images as the backbone's input.
func normalized(b *backbone.Backbone, set Labelled) (*Examples, error) {
	w, h := b.InputSize()
	per := w * h * 3
	ex := &Examples{X: make([]float32, per*len(set.Images)), Labels: set.Labels}
	for i, im := range set.Images {
		if err := b.Normalize(ex.X[i*per:(i+1)*per], im); err != nil {
			return nil, fmt.Errorf("fine-tune: %w", err)
		}
	}
	return ex, nil
}

// tuneSet serves training images as the backbone's input, augmented afresh per draw when aug is
// set.
type tuneSet struct {
	images []*dataset.Image
	labels []int
	b      *backbone.Backbone
	aug    *augment.Augmenter
}

func (s *tuneSet) Len() int        { return len(s.images) }
func (s *tuneSet) Label(i int) int { return s.labels[i] }
func (s *tuneSet) Size() int       { w, h := s.b.InputSize(); return w * h * 3 }

func (s *tuneSet) Fill(dst []float32, i int, draw uint64) error {
	img := s.images[i]
	if s.aug != nil {
		a := s.aug.Fork(int(draw))
		v := &dataset.Image{}
		augment.Apply(v, img, a.Draw(img.W, img.H), a.Params().FillMode, a.Params().Cval)
		img = v
	}
	return s.b.Normalize(dst, img)
}

var _ Net = (*tune.Model)(nil)
var _ Net = (*nn.Net)(nil)
