package finetune

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/head"
)

// Augmentation names a set of training views for the linear head.
type Augmentation string

// The augmentations the linear head can be trained with. Views always include the plain image.
const (
	// AugmentNone trains on the plain images only.
	AugmentNone Augmentation = "none"
	// AugmentLight adds views of augment.Light: flips, small shifts and zoom, mild brightness.
	AugmentLight Augmentation = "light"
	// AugmentArticle adds views of the article's heavy augmentation (augment.Article).
	AugmentArticle Augmentation = "article"
)

// Augmentations lists them from the mildest; auto tries them in this order, and a tie goes to
// the milder.
var Augmentations = []Augmentation{AugmentNone, AugmentLight, AugmentArticle}

// params returns the augmentation's transforms.
func (a Augmentation) params() augment.Params {
	if a == AugmentArticle {
		return augment.Article()
	}
	return augment.Light()
}

// LinearOptions configure the linear transfer recipe.
type LinearOptions struct {
	Backbone *backbone.Backbone
	// Cache keeps features across runs; nil keeps them in memory only.
	Cache *backbone.FeatureCache
	// Augment are the candidate augmentations; with more than one, inner cross-validation on the
	// training images chooses (nil: all of Augmentations).
	Augment []Augmentation
	// Views is the number of augmented views per training image (DefaultViews when 0).
	Views int
	// Folds is the number of inner cross-validation folds (5 when 0; fewer when a class has
	// fewer images).
	Folds int
	// Norms are the candidate feature normalisations (nil: L2 only, which beat standardisation on
	// every backbone and dataset measured, most at a few images per class).
	Norms []head.Normalization
	// Seed seeds the views and the folds.
	Seed uint64
	// TargetSensitivity, for two classes, sets the decision threshold on the probability of
	// class Positive at the value that reaches this sensitivity on the out-of-fold predictions
	// of the training images (0: no target).
	TargetSensitivity float64
	Positive          int
	// Threshold, for two classes, is the decision threshold when there is no target (0.5 when 0).
	Threshold float64
	// TTA is test-time augmentation: the number of views of the chosen augmentation whose
	// probabilities are averaged with the plain image's at prediction; 0 never, TTAAuto when the
	// inner cross-validation's out-of-fold predictions say it helps (then all Views).
	TTA int
	// OnFeatures reports feature extraction progress.
	OnFeatures func(done, total int)
}

// TTAAuto lets the inner cross-validation decide on test-time augmentation.
const TTAAuto = -1

// TTAChoice is the inner cross-validation's evidence on test-time augmentation: the out-of-fold
// log-loss of the plain training images alone and averaged with their views.
type TTAChoice struct {
	Plain    float64 `json:"plain_log_loss"`
	Averaged float64 `json:"tta_log_loss"`
}

// AugmentChoice is one candidate augmentation with its inner cross-validation.
type AugmentChoice struct {
	Augment Augmentation `json:"augment"`
	// Candidates are the (normalisation, C) pairs tried, with their scores; Best is the chosen.
	Candidates []head.Candidate `json:"candidates"`
	Best       int              `json:"best"`
}

// Score returns the candidate's best inner cross-validation log-loss and accuracy.
func (c AugmentChoice) Score() head.Candidate { return c.Candidates[c.Best] }

// LinearHead is a linear head fitted to convergence on frozen features, with what was chosen
// on the training images and why.
type LinearHead struct {
	Model *head.Model `json:"-"`
	// Augment, Normalization and C are the choices, Choices every candidate augmentation's inner
	// cross-validation over Folds folds (empty when too few images allowed none: then C is 1 and
	// the normalisation L2).
	Augment       Augmentation       `json:"augment"`
	Normalization head.Normalization `json:"normalization"`
	C             float64            `json:"c"`
	Choices       []AugmentChoice    `json:"inner_cv"`
	Folds         int                `json:"inner_folds"`
	// Threshold is the decision threshold of a two-class head, ThresholdRule how it was set.
	Threshold     float64 `json:"threshold"`
	ThresholdRule string  `json:"threshold_rule"`
	// TTA is the number of views of Augment averaged with the plain image at prediction (0:
	// none); TTAEvidence the inner cross-validation's scores behind an automatic choice.
	TTA         int        `json:"tta"`
	TTAEvidence *TTAChoice `json:"tta_evidence,omitempty"`
	// Val holds the validation images' class probabilities.
	Val [][]float32 `json:"-"`
}

// Linear fits the default transfer head: an L2-regularised logistic regression solved to
// convergence (package head) on the backbone features of the training images and of their
// augmented views. Inner stratified k-fold cross-validation over the training images (the views
// of an image always on its side of a fold, held-out scores on plain images only) chooses the
// augmentation, the feature normalisation and the strength C; with a target sensitivity, the
// out-of-fold probabilities set the threshold. The validation images are only predicted.
func Linear(ctx context.Context, classes []string, train, val Keyed, opt LinearOptions) (*LinearHead, error) {
	if opt.Backbone == nil {
		return nil, fmt.Errorf("transfer: no backbone")
	}
	if len(train.Images) == 0 || len(val.Images) == 0 {
		return nil, fmt.Errorf("transfer: need training and validation images (got %d and %d)", len(train.Images), len(val.Images))
	}
	augs, views := opt.candidates()
	norms := opt.Norms
	if norms == nil {
		norms = []head.Normalization{head.NormL2}
	}
	f, err := extractLinear(ctx, train, val, augs, views, opt)
	if err != nil {
		return nil, err
	}
	trainPlain, valPlain, viewFeats := f.trainPlain, f.valPlain, f.views
	h := &LinearHead{Threshold: opt.Threshold, ThresholdRule: "given"}
	if h.Threshold == 0 {
		h.Threshold, h.ThresholdRule = 0.5, "default"
	}
	h.Folds = InnerFolds(train.Labels, len(classes), opt.Folds)
	if h.Folds < 2 {
		// Too few images per class for inner cross-validation: a plain, moderate fit.
		ds := linearSet(trainPlain, nil, train.Labels, len(classes))
		if h.Model, err = head.Fit(ctx, ds, 1, head.NormL2); err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		h.Augment = AugmentNone
	} else {
		var best *head.CVResult
		for _, a := range augs {
			ds := linearSet(trainPlain, viewFeats[a], train.Labels, len(classes))
			res, err := head.FitCV(ctx, ds, head.CVOptions{Folds: h.Folds, Norms: norms, Seed: opt.Seed})
			if err != nil {
				return nil, fmt.Errorf("transfer: augmentation %s: %w", a, err)
			}
			c := AugmentChoice{Augment: a, Candidates: res.Candidates, Best: res.Best}
			h.Choices = append(h.Choices, c)
			if best == nil || c.Score().LogLoss < best.Candidates[best.Best].LogLoss-head.TieTolerance {
				best, h.Model, h.Augment = res, res.Model, a
			}
		}
		if h.Augment != AugmentNone && opt.TTA != 0 {
			ev := ttaEvidence(best.OOF, train.Labels, views)
			switch {
			case opt.TTA > 0:
				h.TTA = min(opt.TTA, views)
			case ev.Averaged < ev.Plain-head.TieTolerance:
				h.TTA, h.TTAEvidence = views, &ev
			default:
				h.TTAEvidence = &ev
			}
		}
		if opt.TargetSensitivity > 0 {
			if len(classes) != 2 {
				return nil, fmt.Errorf("transfer: a target sensitivity needs two classes, these are %d", len(classes))
			}
			p := make([]float64, len(train.Labels))
			y := make([]int, len(train.Labels))
			for i, l := range train.Labels { // the plain rows come first
				p[i] = best.OOF[i][opt.Positive]
				if l == opt.Positive {
					y[i] = 1
				}
			}
			if h.Threshold, err = head.SensitivityThreshold(p, y, opt.TargetSensitivity); err != nil {
				return nil, fmt.Errorf("transfer: %w", err)
			}
			h.ThresholdRule = fmt.Sprintf("sensitivity %.2f on out-of-fold training predictions", opt.TargetSensitivity)
		}
	}
	h.Normalization, h.C = h.Model.Normalization(), h.Model.C()
	var valViews [][][]float32
	if h.TTA > 0 {
		if valViews, err = ViewFeatures(ctx, val, opt.Backbone, opt.Cache, h.Augment, h.TTA, opt.Seed); err != nil {
			return nil, err
		}
	}
	if h.Val, err = AveragedProbabilities(h.Model.Predict, valPlain, valViews); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return h, nil
}

// ttaEvidence scores test-time augmentation out of fold: the rows of a linearSet are the n plain
// images, then views views of each; oof holds their out-of-fold probabilities.
func ttaEvidence(oof [][]float64, labels []int, views int) TTAChoice {
	n := len(labels)
	var plain, avg float64
	for i, y := range labels {
		p := oof[i][y]
		for v := 0; v < views; v++ {
			p += oof[n+i*views+v][y]
		}
		plain -= math.Log(max(oof[i][y], 1e-15))
		avg -= math.Log(max(p/float64(views+1), 1e-15))
	}
	return TTAChoice{Plain: plain / float64(n), Averaged: avg / float64(n)}
}

// ViewFeatures returns the backbone features of views 0..n-1 of each image of set under
// augmentation a, drawn as the linear head's training views are (seeded by the image's content
// hash and the view number), through cache: the test-time augmentation of prediction.
func ViewFeatures(ctx context.Context, set Keyed, b *backbone.Backbone, cache *backbone.FeatureCache, a Augmentation, n int, seed uint64) ([][][]float32, error) {
	ex, err := linearExtractor(b, cache, a, seed)
	if err != nil {
		return nil, err
	}
	ex.total = len(set.Images) * n
	return ex.augmented(ctx, set, n)
}

// linearExtractor returns the extractor of the linear head's features: views of augmentation a
// (any a for plain features, whose keys do not depend on it), seeded by seed, through cache.
func linearExtractor(b *backbone.Backbone, cache *backbone.FeatureCache, a Augmentation, seed uint64) (*extractor, error) {
	ex, _, err := newExtractor(&TransferOptions{Backbone: b, Cache: cache, Augment: a.params(), NoAugment: a == AugmentNone, Fit: FitOptions{Seed: seed}})
	return ex, err
}

// AveragedProbabilities returns predict's class probabilities of each plain feature vector,
// averaged with those of its views when views is not nil ([image][view]).
func AveragedProbabilities(predict func([][]float32) ([][]float64, error), plain [][]float32, views [][][]float32) ([][]float32, error) {
	sum, err := predict(plain)
	if err != nil {
		return nil, err
	}
	count := 1.0
	if len(views) > 0 {
		for v := range views[0] {
			rows := make([][]float32, len(views))
			for i := range views {
				rows[i] = views[i][v]
			}
			p, err := predict(rows)
			if err != nil {
				return nil, err
			}
			for i := range sum {
				for k := range sum[i] {
					sum[i][k] += p[i][k]
				}
			}
			count++
		}
	}
	out := make([][]float32, len(sum))
	for i, p := range sum {
		out[i] = make([]float32, len(p))
		for k, v := range p {
			out[i][k] = float32(v / count)
		}
	}
	return out, nil
}

// candidates returns the augmentations to choose among and the views per image, defaults
// filled in.
func (opt LinearOptions) candidates() (augs []Augmentation, views int) {
	augs, views = opt.Augment, opt.Views
	if len(augs) == 0 {
		augs = Augmentations
	}
	if views <= 0 {
		views = DefaultViews
	}
	return augs, views
}

// WarmLinear extracts into opt.Cache every feature Linear asks for when set's images are used
// for training (plain and every candidate augmentation's views) and for validation, so that many
// fits over subsets or folds of set extract each vector once.
func WarmLinear(ctx context.Context, set Keyed, opt LinearOptions) error {
	augs, views := opt.candidates()
	_, err := extractLinear(ctx, set, Keyed{}, augs, views, opt)
	return err
}

// linearFeatures are the features of a linear fit: plain training and validation images, and
// each augmentation's views of the training images ([augmentation][image][view]).
type linearFeatures struct {
	trainPlain, valPlain [][]float32
	views                map[Augmentation][][][]float32
}

func extractLinear(ctx context.Context, train, val Keyed, augs []Augmentation, views int, opt LinearOptions) (*linearFeatures, error) {
	exs := map[Augmentation]*extractor{}
	total := len(train.Images) + len(val.Images)
	var done int
	progress := func(int, int) {}
	if opt.OnFeatures != nil {
		progress = func(n, _ int) { opt.OnFeatures(done+n, total) }
	}
	for _, a := range augs {
		if a == AugmentNone {
			continue
		}
		ex, err := linearExtractor(opt.Backbone, opt.Cache, a, opt.Seed)
		if err != nil {
			return nil, err
		}
		exs[a] = ex
		total += len(train.Images) * views
	}
	plainEx, err := linearExtractor(opt.Backbone, opt.Cache, AugmentNone, opt.Seed)
	if err != nil {
		return nil, err
	}
	run := func(ex *extractor, n int, f func() error) error {
		ex.progress, ex.total, ex.done = progress, total, 0
		err := f()
		done += n
		return err
	}
	f := &linearFeatures{views: map[Augmentation][][][]float32{}}
	if err := run(plainEx, len(train.Images), func() (err error) { f.trainPlain, err = plainEx.plain(ctx, train); return }); err != nil {
		return nil, err
	}
	if err := run(plainEx, len(val.Images), func() (err error) { f.valPlain, err = plainEx.plain(ctx, val); return }); err != nil {
		return nil, err
	}
	for _, a := range augs {
		if ex := exs[a]; ex != nil {
			var v [][][]float32
			if err := run(ex, len(train.Images)*views, func() (err error) { v, err = ex.augmented(ctx, train, views); return }); err != nil {
				return nil, err
			}
			f.views[a] = v
		}
	}
	return f, nil
}

// InnerFolds returns the number of inner cross-validation folds: want (5 when 0), at most the
// number of images of the smallest class.
func InnerFolds(labels []int, classes, want int) int {
	if want <= 0 {
		want = 5
	}
	counts := make([]int, classes)
	for _, l := range labels {
		counts[l]++
	}
	return min(want, slices.Min(counts))
}

// linearSet is the head's training set: every image's plain features (scored in
// cross-validation), then its augmented views (trained on, never scored), all grouped by image.
func linearSet(plain [][]float32, views [][][]float32, labels []int, classes int) head.Dataset {
	ds := head.Dataset{Classes: classes}
	for i, f := range plain {
		ds.X, ds.Labels, ds.Groups, ds.Valid = append(ds.X, f), append(ds.Labels, labels[i]), append(ds.Groups, i), append(ds.Valid, true)
	}
	for i, vs := range views {
		for _, f := range vs {
			ds.X, ds.Labels, ds.Groups, ds.Valid = append(ds.X, f), append(ds.Labels, labels[i]), append(ds.Groups, i), append(ds.Valid, false)
		}
	}
	return ds
}

// PlainFeatures returns the backbone features of set's plain images, through the cache.
func PlainFeatures(ctx context.Context, set Keyed, b *backbone.Backbone, cache *backbone.FeatureCache, progress func(done, total int)) ([][]float32, error) {
	ex, err := linearExtractor(b, cache, AugmentNone, 0)
	if err != nil {
		return nil, err
	}
	ex.progress, ex.total = progress, len(set.Images)
	return ex.plain(ctx, set)
}
