package finetune

import (
	"context"
	"fmt"
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
	// LearningRate is phase 2's Adam learning rate (tune.DefaultLearningRate when 0).
	LearningRate float32
	// Fit is phase 2's training loop; it validates on an inner split of the training images.
	Fit FitOptions
	// InnerVal is the fraction of each class's training images held out to validate phase 2
	// (for early stopping and keep-best); 0.2 when 0.
	InnerVal float64
	Session  tf.SessionOptions
}

// FineTuned is a backbone fine-tuned end to end with its head.
type FineTuned struct {
	// Phase1 is the linear head fitted on frozen features, which phase 2 starts from.
	Phase1 *LinearHead
	Model  *tune.Model
	// History is phase 2's, validated on the inner split of the training images.
	History *History
	// Val holds the validation images' class probabilities after phase 2.
	Val [][]float32
}

// Close frees the model.
func (f *FineTuned) Close() {
	if f.Model != nil {
		f.Model.Close()
	}
}

// FineTune is the second phase of the Keras transfer-learning guide: phase 1 fits the linear
// head on frozen features (Linear: augmentation, normalisation and C chosen by inner
// cross-validation); phase 2 unfreezes the top blocks of the backbone and trains them with the
// head end to end at a small learning rate, with the chosen augmentation drawn fresh every step.
// Early stopping and keep-best watch an inner split of the training images, never the
// validation images, which are only predicted at the end. Images must be of the backbone's
// input size.
func FineTune(ctx context.Context, classes []string, train, val Keyed, opt FineTuneOptions) (*FineTuned, error) {
	if opt.Backbone == nil || opt.Dir == "" {
		return nil, fmt.Errorf("fine-tune: no backbone")
	}
	p1 := opt.Phase1
	p1.Backbone, p1.Seed = opt.Backbone, opt.Fit.Seed
	phase1, err := Linear(ctx, classes, train, val, p1)
	if err != nil {
		return nil, err
	}
	fit, inner, err := innerSplit(train, len(classes), opt.InnerVal, opt.Fit.Seed)
	if err != nil {
		return nil, err
	}
	w := phase1.Model.Weights()
	m, err := tune.Open(opt.Dir, tune.Options{Unfreeze: opt.Unfreeze, Classes: len(classes), Head: &w, LearningRate: opt.LearningRate,
		Seed: opt.Fit.Seed, Session: opt.Session})
	if err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	out := &FineTuned{Phase1: phase1, Model: m}
	set := &tuneSet{images: fit.Images, labels: fit.Labels, b: opt.Backbone}
	if phase1.Augment != AugmentNone {
		p := phase1.Augment.params()
		p.Rescale, p.FeaturewiseCenter, p.FeaturewiseStdNormalization = 0, false, false
		if set.aug, err = augment.New(p, nil, opt.Fit.Seed); err != nil {
			out.Close()
			return nil, fmt.Errorf("fine-tune: %w", err)
		}
	}
	innerEx, err := normalized(opt.Backbone, inner.Labelled)
	if err != nil {
		out.Close()
		return nil, err
	}
	if out.History, err = Fit(ctx, m, set, innerEx, opt.Fit); err != nil {
		out.Close()
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	if len(out.History.Epochs) == 0 {
		return out, nil // interrupted before an epoch ended: the caller says so
	}
	valEx, err := normalized(opt.Backbone, val.Labelled)
	if err != nil {
		out.Close()
		return nil, err
	}
	if _, out.Val, err = Probabilities(m, valEx, opt.Fit.BatchSize); err != nil {
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
