package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/tf"
)

// DefaultViews is the number of augmented views per training image the transfer recipe
// extracts features for.
const DefaultViews = 5

// TransferOptions configures the transfer recipe.
type TransferOptions struct {
	Backbone *backbone.Backbone
	Head     head.Options
	// Augment gives the random transforms (its rescale and featurewise settings are not used:
	// the backbone normalises as its spec says). augment.Article() is the article's.
	Augment   augment.Params
	NoAugment bool
	// Views is K, the number of augmented views per training image (DefaultViews when 0).
	Views int
	// Cache keeps features across epochs and runs; nil keeps them in memory only.
	Cache *backbone.FeatureCache
	// OnFeatures reports feature extraction progress.
	OnFeatures func(done, total int)
	Fit        FitOptions
	Session    tf.SessionOptions
}

// Keyed is a Labelled set whose images also carry their file's content hash (files.SHA256),
// which keys the feature cache.
type Keyed struct {
	Labelled
	Hashes []string
}

// Transfer fits a head on frozen backbone features: every training image gives K augmented
// views whose features are extracted once (and cached); each training step then draws one view
// per image. Validation features come from the plain images. Images must be of the backbone's
// input size.
func Transfer(ctx context.Context, classes []string, train, val Keyed, opt TransferOptions) (*Trained, error) {
	if opt.Backbone == nil {
		return nil, fmt.Errorf("transfer: no backbone")
	}
	if len(train.Images) == 0 || len(val.Images) == 0 {
		return nil, fmt.Errorf("transfer: need training and validation images (got %d and %d)", len(train.Images), len(val.Images))
	}
	ex, views, err := newExtractor(&opt)
	if err != nil {
		return nil, err
	}
	ex.total = len(val.Images) + len(train.Images)*views
	var trainFeats [][][]float32 // [image][view]
	if opt.NoAugment {
		plain, err := ex.plain(ctx, train)
		if err != nil {
			return nil, err
		}
		for _, f := range plain {
			trainFeats = append(trainFeats, [][]float32{f})
		}
	} else if trainFeats, err = ex.augmented(ctx, train, views); err != nil {
		return nil, err
	}
	valFeats, err := ex.plain(ctx, val)
	if err != nil {
		return nil, err
	}
	dim := opt.Backbone.Spec.Features.Size
	net, err := head.New(dim, len(classes), opt.Head, opt.Fit.Seed, opt.Session)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	valEx := &Examples{Labels: val.Labels, X: make([]float32, 0, dim*len(valFeats))}
	for _, f := range valFeats {
		valEx.X = append(valEx.X, f...)
	}
	hist, err := Fit(ctx, net, &featureSet{feats: trainFeats, labels: train.Labels, dim: dim, seed: opt.Fit.Seed}, valEx, opt.Fit)
	if err != nil {
		net.Close()
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return &Trained{Net: net, History: hist, Val: valEx}, nil
}

// newExtractor prepares feature extraction for the options, and returns the views per image.
func newExtractor(opt *TransferOptions) (*extractor, int, error) {
	if opt.Cache == nil {
		opt.Cache = &backbone.FeatureCache{}
	}
	views := opt.Views
	if views <= 0 {
		views = DefaultViews
	}
	p := opt.Augment
	p.Rescale, p.FeaturewiseCenter, p.FeaturewiseStdNormalization = 0, false, false
	if opt.NoAugment {
		views = 1
	}
	aug, err := augment.New(p, nil, opt.Fit.Seed)
	if err != nil {
		return nil, 0, fmt.Errorf("transfer: %w", err)
	}
	recipe, err := json.Marshal(struct {
		P    augment.Params
		Seed uint64
	}{p, opt.Fit.Seed})
	if err != nil {
		return nil, 0, err
	}
	return &extractor{b: opt.Backbone, cache: opt.Cache, aug: aug, recipe: string(recipe), progress: opt.OnFeatures}, views, nil
}

// WarmFeatures extracts into opt.Cache the features Transfer will ask for when set's images are
// used for training (their augmented views) and for validation (plain), so that many Transfer
// calls over subsets or folds of set, even in parallel, extract each vector once.
func WarmFeatures(ctx context.Context, set Keyed, opt TransferOptions) error {
	if opt.Backbone == nil {
		return fmt.Errorf("transfer: no backbone")
	}
	ex, views, err := newExtractor(&opt)
	if err != nil {
		return err
	}
	ex.total = len(set.Images)
	if !opt.NoAugment {
		ex.total += len(set.Images) * views
		if _, err := ex.augmented(ctx, set, views); err != nil {
			return err
		}
	}
	_, err = ex.plain(ctx, set)
	return err
}

// extractor computes backbone features of plain or augmented images through the cache.
type extractor struct {
	b        *backbone.Backbone
	cache    *backbone.FeatureCache
	aug      *augment.Augmenter
	recipe   string
	progress func(done, total int)
	done     int
	total    int
}

// job is one feature vector to get: an image, its cache key, and the view (-1: plain).
type job struct {
	img  *dataset.Image
	hash string
	key  string
	view int
	out  *[]float32
}

func (e *extractor) tick(n int) {
	e.done += n
	if e.progress != nil {
		e.progress(e.done, e.total)
	}
}

func (e *extractor) plain(ctx context.Context, set Keyed) ([][]float32, error) {
	w, h := e.b.InputSize()
	out := make([][]float32, len(set.Images))
	jobs := make([]job, len(set.Images))
	for i, im := range set.Images {
		if i >= len(set.Hashes) || set.Hashes[i] == "" {
			return nil, errNoHash
		}
		jobs[i] = job{img: im, hash: set.Hashes[i], key: backbone.PlainKey(set.Hashes[i], w, h), view: -1, out: &out[i]}
	}
	return out, e.run(ctx, jobs)
}

func (e *extractor) augmented(ctx context.Context, set Keyed, views int) ([][][]float32, error) {
	w, h := e.b.InputSize()
	out := make([][][]float32, len(set.Images))
	var jobs []job
	for i, im := range set.Images {
		if i >= len(set.Hashes) || set.Hashes[i] == "" {
			return nil, errNoHash
		}
		out[i] = make([][]float32, views)
		for v := 0; v < views; v++ {
			jobs = append(jobs, job{img: im, hash: set.Hashes[i], key: backbone.ViewKey(set.Hashes[i], e.recipe, v, w, h), view: v, out: &out[i][v]})
		}
	}
	return out, e.run(ctx, jobs)
}

// run fills every job from the cache or, DefaultBatch at a time, from the backbone.
func (e *extractor) run(ctx context.Context, jobs []job) error {
	dim := e.b.Spec.Features.Size
	var todo []job
	for _, j := range jobs {
		if v, ok := e.cache.Get(j.key, dim); ok {
			*j.out = v
			e.tick(1)
			continue
		}
		todo = append(todo, j)
	}
	for s := 0; s < len(todo); s += backbone.DefaultBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := todo[s:min(s+backbone.DefaultBatch, len(todo))]
		imgs := make([]*dataset.Image, len(batch))
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i, j := range batch {
			if j.view < 0 {
				imgs[i] = j.img
				continue
			}
			g.Go(func() error {
				dst := &dataset.Image{}
				a := e.aug.Fork(viewSeed(j.hash, j.view))
				augment.Apply(dst, j.img, a.Draw(j.img.W, j.img.H), a.Params().FillMode, a.Params().Cval)
				imgs[i] = dst
				return nil
			})
		}
		g.Wait()
		feats, err := e.b.Features(ctx, imgs)
		if err != nil {
			return fmt.Errorf("transfer: features: %w", err)
		}
		for i, j := range batch {
			*j.out = feats[i]
			e.cache.Put(j.key, feats[i])
		}
		e.tick(len(batch))
	}
	return nil
}

// featureSet serves cached features, one random view per draw.
type featureSet struct {
	feats  [][][]float32
	labels []int
	dim    int
	seed   uint64
}

func (s *featureSet) Len() int        { return len(s.feats) }
func (s *featureSet) Label(i int) int { return s.labels[i] }
func (s *featureSet) Size() int       { return s.dim }

func (s *featureSet) Fill(dst []float32, i int, draw uint64) error {
	views := s.feats[i]
	x := (draw + s.seed*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	x ^= x >> 31
	copy(dst, views[x%uint64(len(views))])
	return nil
}
