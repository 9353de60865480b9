package experiment

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/report"
	"github.com/lessdata/lessdata/tf"
)

// evalBatch is the batch size of scoring.
const evalBatch = 64

// Env is what a job gets from its caller besides the spec: where backbones come from and how to
// talk to people.
type Env struct {
	Fetch backbone.FetchOptions
	UI    UI
}

// Pool is a dataset decoded once for each method of a spec (train images first, then
// validation ones), with the backbone and its feature cache when a method needs them. Any split
// of its images can be trained on with Run.
type Pool struct {
	Classes []string
	// Labels are the classes of every image, the NTrain training images first; Paths their files.
	Labels []int
	Paths  []string
	NTrain int
	// Failed lists the files that could not be decoded; they are left out for every method (and
	// moved to the data's Skipped).
	Failed []dataset.Skip
	// Ranking is the ranking --backbone auto chose the backbone by (nil otherwise).
	Ranking *Ranking

	spec     Spec
	positive int
	sets     map[Method]finetune.Keyed
	b        *Backbone
	session  tf.SessionOptions
	workers  int
	ui       UI
}

// NewPool checks the spec against the data, resolves and opens the backbone when a method needs
// it (before any decoding, so that a bad --backbone fails at once), and decodes every image at
// each method's input size. jobs is the number of trainings that will run at once: 0 for a single
// run, which uses TensorFlow's default threading; a grid of jobs cells gives each an even share
// of the cores. The caller closes the pool.
func NewPool(ctx context.Context, data *Data, spec Spec, env Env, jobs int) (*Pool, error) {
	return newPool(ctx, data, spec, env, jobs, false)
}

// newPool is NewPool; with trainOnly it decodes the training images only (for ranking
// backbones, which must not read validation images).
func newPool(ctx context.Context, data *Data, spec Spec, env Env, jobs int, trainOnly bool) (*Pool, error) {
	pos, err := positiveIndex(data.Classes, spec.Positive)
	if err != nil {
		return nil, err
	}
	p := &Pool{Classes: data.Classes, spec: spec, positive: pos, sets: map[Method]finetune.Keyed{}, ui: env.UI}
	if jobs > 0 {
		p.session = tf.SessionOptions{IntraOpThreads: max(1, runtime.NumCPU()/jobs), InterOpThreads: 1}
		p.workers = 1
	}
	if needsBackbone(spec.Methods) && spec.Transfer.Backbone == BackboneAuto {
		names, err := ZooBackbones()
		if err != nil {
			return nil, err
		}
		env.UI.logf("--backbone auto: ranking %s on the training images", strings.Join(names, ", "))
		if p.Ranking, err = rankOn(ctx, data, spec.Data.Seed, names, env); err != nil {
			return nil, fmt.Errorf("--backbone auto: %w", err)
		}
		env.UI.logf("--backbone auto: %s has the best inner cross-validation", p.Ranking.Best)
		p.spec.Transfer.Backbone = p.Ranking.Best
	}
	if needsBackbone(spec.Methods) {
		if p.b, err = OpenBackbone(ctx, p.spec.Transfer.Backbone, env.Fetch); err != nil {
			return nil, err
		}
	}
	if err := p.decode(ctx, data.Dataset, trainOnly); err != nil {
		p.Close()
		return nil, err
	}
	if len(p.Failed) > 0 {
		data.Drop(p.Failed...)
		train, val := data.Counts()
		p.ui.logf("decoded: train %v, validation %v, %d files skipped in all", train, val, len(data.Skipped))
	}
	return p, nil
}

// Close frees the backbone.
func (p *Pool) Close() {
	if p.b != nil {
		p.b.Close()
		p.b = nil
	}
}

// inputSize returns the image size a method takes.
func (p *Pool) inputSize(m Method) (int, int) {
	if m.NeedsBackbone() {
		return p.b.InputSize()
	}
	return p.spec.Scratch.Size, p.spec.Scratch.Size
}

// decode decodes the dataset at every method's input size; a file that fails for one method is
// left out for all, so that indices agree across methods.
func (p *Pool) decode(ctx context.Context, ds *dataset.Dataset, trainOnly bool) error {
	items := append([]dataset.Item{}, ds.Train...)
	if !trainOnly {
		items = append(items, ds.Val...)
	}
	if err := checkMemory(p.spec, len(items), p); err != nil {
		return err
	}
	type decoded struct {
		imgs   []*dataset.Image
		hashes []string
	}
	all := map[Method]decoded{}
	bySize := map[[2]int]decoded{} // methods of one input size share one decoding
	failed := make([]error, len(items))
	for _, m := range p.spec.Methods {
		w, h := p.inputSize(m)
		if d, ok := bySize[[2]int{w, h}]; ok && (d.hashes != nil || !m.NeedsBackbone()) {
			all[m] = d
			continue
		}
		bar := p.ui.bar(len(items), fmt.Sprintf("decoding %dx%d", w, h))
		done := 0
		imgs, errs := dataset.NewDecoder(w, h, 0, tfdecode.Decode).Images(ctx, items, func(int) { done++; bar.Set(done) })
		bar.Finish()
		if err := ctx.Err(); err != nil {
			return interrupted(err)
		}
		d := decoded{imgs: imgs}
		if m.NeedsBackbone() {
			d.hashes = make([]string, len(items))
			for i := range items {
				if errs[i] == nil {
					d.hashes[i], errs[i] = files.SHA256(items[i].Path)
				}
			}
		}
		for i, err := range errs {
			if err != nil && failed[i] == nil {
				failed[i] = err
			}
		}
		all[m], bySize[[2]int{w, h}] = d, d
	}
	var keep []int
	for i, err := range failed {
		if err != nil {
			p.Failed = append(p.Failed, dataset.Skip{Path: items[i].Path, Reason: err.Error()})
			p.ui.logf("skipped %s: %v", items[i].Path, err)
			continue
		}
		keep = append(keep, i)
		p.Labels = append(p.Labels, items[i].Class)
		p.Paths = append(p.Paths, items[i].Path)
		if i < len(ds.Train) {
			p.NTrain++
		}
	}
	nVal := len(keep) - p.NTrain
	if p.NTrain == 0 || nVal == 0 && !trainOnly {
		return fmt.Errorf("no training or no validation image of %s could be decoded (%d and %d did)", p.spec.Data.Dir, p.NTrain, nVal)
	}
	for m, d := range all {
		var k finetune.Keyed
		for _, i := range keep {
			k.Images = append(k.Images, d.imgs[i])
			k.Labels = append(k.Labels, items[i].Class)
			if d.hashes != nil {
				k.Hashes = append(k.Hashes, d.hashes[i])
			}
		}
		p.sets[m] = k
	}
	return nil
}

// TrainIndex and ValIndex are the pool's own split: the images of the data's training and
// validation parts.
func (p *Pool) TrainIndex() []int { return span(0, p.NTrain) }

// ValIndex returns the indices of the validation images.
func (p *Pool) ValIndex() []int { return span(p.NTrain, len(p.Labels)) }

func span(a, b int) []int {
	s := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func subset(k finetune.Keyed, idx []int) finetune.Keyed {
	var s finetune.Keyed
	for _, i := range idx {
		s.Images = append(s.Images, k.Images[i])
		s.Labels = append(s.Labels, k.Labels[i])
		if i < len(k.Hashes) {
			s.Hashes = append(s.Hashes, k.Hashes[i])
		}
	}
	return s
}

// RunHooks observe one Run.
type RunHooks struct {
	// Label names the run in progress reports; "" reports no epochs (grid cells).
	Label string
	// OnEpoch runs after every epoch (to save the history so far); an error stops the fit.
	OnEpoch func(*finetune.History) error
}

// transferOptions are the MLP head's options for one fit: the article's augmentation unless the
// spec names another.
func (p *Pool) transferOptions(seed uint64) finetune.TransferOptions {
	t := p.spec.Transfer
	params := augment.Article()
	if t.Augment == string(finetune.AugmentLight) {
		params = augment.Light()
	}
	return finetune.TransferOptions{Backbone: p.b.Backbone, Head: t.MLP, Augment: params, NoAugment: t.Augment == string(finetune.AugmentNone),
		Views: t.Views, Cache: p.b.Cache, Fit: p.spec.Fit.fitOptions(seed, p.workers), Session: p.session}
}

// linearOptions are the linear head's options for one fit.
func (p *Pool) linearOptions(seed uint64) finetune.LinearOptions {
	t := p.spec.Transfer
	return finetune.LinearOptions{Backbone: p.b.Backbone, Cache: p.b.Cache, Augment: t.augmentations(), Views: t.Views, Seed: seed,
		TargetSensitivity: t.TargetSensitivity, Threshold: t.Threshold, Positive: max(p.positive, 0), TTA: t.TTA}
}

// Warm extracts the features every transfer fit over the pool's images may ask for, for each
// seed, so that grid cells running in parallel extract each vector once.
func (p *Pool) Warm(ctx context.Context, seeds []uint64) error {
	if p.b == nil {
		return nil
	}
	for i, seed := range seeds {
		var bar Bar
		progress := func(done, total int) {
			if bar == nil {
				bar = p.ui.bar(total, fmt.Sprintf("features %d/%d (%s)", i+1, len(seeds), p.b.Spec.Name))
			}
			bar.Set(done)
		}
		var err error
		set, ok := p.sets[Transfer]
		if !ok {
			set = p.sets[Finetune]
		}
		if p.spec.Transfer.Head == HeadLinear || !ok {
			opt := p.linearOptions(seed)
			opt.OnFeatures = progress
			err = finetune.WarmLinear(ctx, set, opt)
		} else {
			opt := p.transferOptions(seed)
			opt.OnFeatures = progress
			err = finetune.WarmFeatures(ctx, set, opt)
		}
		if bar != nil {
			bar.Finish()
		}
		if err != nil {
			return p.checkErr(err)
		}
	}
	p.reportCache()
	return nil
}

// reportCache warns once about a damaged or unwritable feature cache.
func (p *Pool) reportCache() {
	if p.b == nil {
		return
	}
	if n := p.b.Cache.Repaired(); n > 0 {
		p.ui.warnf("%d cached feature files in %s were damaged and were computed again", n, p.b.Cache.Dir())
	}
	if err := p.b.Cache.Unwritable(); err != nil {
		p.ui.warnf("%v; features are kept in memory only", err)
	}
}

// Run trains method m on the pool's images trainIdx, validates and scores it on valIdx, and
// returns the outcome; the caller closes it. An interrupted fit still returns its outcome (the
// best weights so far) when at least one epoch finished.
func (p *Pool) Run(ctx context.Context, m Method, trainIdx, valIdx []int, seed uint64, hooks RunHooks) (*Outcome, error) {
	start := time.Now()
	fit := p.spec.Fit.fitOptions(seed, p.workers)
	if hooks.Label != "" {
		if p.ui.Step != nil {
			fit.OnStep = func(pr finetune.Progress) { p.ui.Step(hooks.Label, pr) }
		}
		fit.OnEpoch = func(h *finetune.History) error {
			if p.ui.Epoch != nil {
				e, _ := h.Last()
				p.ui.Epoch(hooks.Label, e, fit.Epochs)
			}
			if hooks.OnEpoch != nil {
				return hooks.OnEpoch(h)
			}
			return nil
		}
	} else {
		fit.OnEpoch = hooks.OnEpoch
	}
	set, ok := p.sets[m]
	if !ok {
		return nil, fmt.Errorf("method %s was not prepared in this pool", m)
	}
	train, val := subset(set, trainIdx), subset(set, valIdx)
	var t *finetune.Trained
	var err error
	o := &Outcome{Method: m, Classes: p.Classes}
	switch m {
	case Scratch:
		s := p.spec.Scratch
		params := augment.Article()
		t, err = finetune.Scratch(ctx, p.Classes, train.Labelled, val.Labelled,
			finetune.ScratchOptions{Augment: params, NoAugment: s.NoAugment, Fit: fit, Session: p.session})
		if err == nil {
			o.Manifest = &bundle.Manifest{Kind: bundle.KindScratch, Classes: p.Classes, Input: bundle.Size{Width: s.Size, Height: s.Size},
				Preprocess: bundle.Preprocess{Rescale: params.Rescale, Featurewise: params.FeaturewiseCenter || params.FeaturewiseStdNormalization,
					Mean: t.Stats.Mean, Std: t.Stats.Std}}
			o.Info = map[string]any{"recipe": string(Scratch), "size": s.Size, "augment": !s.NoAugment, "augment_params": params}
		}
	case Transfer:
		var bar Bar
		progress := func(done, total int) {
			if bar == nil {
				bar = p.ui.bar(total, "features ("+p.b.Spec.Name+")")
			}
			bar.Set(done)
		}
		ts := p.spec.Transfer
		o.Info = map[string]any{"recipe": string(Transfer), "head": ts.Head, "views": ts.Views}
		if ts.Head == HeadLinear {
			opt := p.linearOptions(seed)
			if hooks.Label != "" {
				opt.OnFeatures = progress
			}
			o.Linear, err = finetune.Linear(ctx, p.Classes, train, val, opt)
			o.Info["linear"] = o.Linear
		} else {
			opt := p.transferOptions(seed)
			opt.Fit = fit
			if hooks.Label != "" {
				opt.OnFeatures = progress
			}
			t, err = finetune.Transfer(ctx, p.Classes, train, val, opt)
			o.Info["augment"], o.Info["mlp"] = ts.Augment, opt.Head
		}
		if bar != nil {
			bar.Finish()
		}
		if hooks.Label != "" {
			p.reportCache()
		}
		if err == nil {
			w, h := p.b.InputSize()
			bb := &bundle.Backbone{Name: backboneName(ts.Backbone, p.b), SHA256: predict.BackboneID(p.b.Backbone), Features: p.b.Spec.Features.Size}
			o.Manifest = &bundle.Manifest{Kind: bundle.KindTransfer, Classes: p.Classes, Input: bundle.Size{Width: w, Height: h}, Backbone: bb}
			if o.Linear != nil && o.Linear.TTA > 0 {
				o.Manifest.TTA = &bundle.TTA{Augment: string(o.Linear.Augment), Views: o.Linear.TTA, Seed: seed}
			}
			o.Info["backbone"], o.Info["backbone_dir"] = bb, p.b.Dir
			if p.Ranking != nil {
				o.Info["backbone_ranking"] = p.Ranking
			}
		}
	case Finetune:
		fs := p.spec.Finetune
		ffit := FitSpec{Epochs: fs.Epochs, Batch: p.spec.Fit.Batch, Patience: fs.Patience, KeepBest: true}.fitOptions(seed, p.workers)
		ffit.OnStep, ffit.OnEpoch = fit.OnStep, fit.OnEpoch
		if fit.OnEpoch != nil && hooks.Label != "" && p.ui.Epoch != nil {
			ffit.OnEpoch = func(h *finetune.History) error {
				e, _ := h.Last()
				p.ui.Epoch(hooks.Label, e, fs.Epochs)
				if hooks.OnEpoch != nil {
					return hooks.OnEpoch(h)
				}
				return nil
			}
		}
		opt := finetune.FineTuneOptions{Backbone: p.b.Backbone, Dir: p.b.Dir, Phase1: p.linearOptions(seed), Unfreeze: fs.Unfreeze,
			LearningRate: fs.LR, Fit: ffit, Session: p.session}
		o.Tuned, err = finetune.FineTune(ctx, p.Classes, train, val, opt)
		if err == nil {
			w, h := p.b.InputSize()
			in := p.b.Spec.Input
			bb := &bundle.Backbone{Name: backboneName(p.spec.Transfer.Backbone, p.b), SHA256: predict.BackboneID(p.b.Backbone), Features: p.b.Spec.Features.Size}
			o.Manifest = &bundle.Manifest{Kind: bundle.KindFinetune, Classes: p.Classes, Input: bundle.Size{Width: w, Height: h}, Backbone: bb,
				Normalize: &bundle.Normalize{Mean: in.Mean, Std: in.Std, ColorOrder: in.ColorOrder}}
			unfrozen := fs.Unfreeze
			if o.Tuned.Choice.LearningRate == 0 {
				unfrozen = 0
			}
			o.Info = map[string]any{"recipe": string(Finetune), "backbone": bb, "unfreeze": unfrozen, "lr": o.Tuned.Choice.LearningRate,
				"choice": o.Tuned.Choice, "trainable_parameters": o.Tuned.Model.TrainableParams(), "phase1": o.Tuned.Phase1}
		}
	default:
		return nil, fmt.Errorf("unknown method %q", m)
	}
	if err != nil {
		return nil, p.checkErr(err)
	}
	o.Trained = t
	o.Info["train_images"], o.Info["validation_images"] = len(trainIdx), len(valIdx)
	for _, i := range valIdx {
		o.Paths = append(o.Paths, p.Paths[i])
	}
	if h := o.History(); h != nil && len(h.Epochs) == 0 {
		o.Close()
		return nil, interrupted(fmt.Errorf("%s stopped before its first epoch ended: nothing to keep", m))
	}
	if err := o.score(p.positive, val.Labels); err != nil {
		o.Close()
		return nil, err
	}
	o.Seconds = time.Since(start).Seconds()
	return o, nil
}

// checkErr turns errors of the layers below into what the user can act on.
func (p *Pool) checkErr(err error) error {
	var div *finetune.DivergedError
	switch {
	case errors.As(err, &div):
		return fmt.Errorf("%w: lower --lr", err)
	case errors.Is(err, context.Canceled):
		return interrupted(err)
	}
	return err
}

// backboneName is the name a bundle records: the zoo name, or the spec's for a folder.
func backboneName(arg string, b *Backbone) string {
	if arg == b.Dir && b.Spec.Name != "" {
		return b.Spec.Name
	}
	return filepath.Clean(arg)
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

// score evaluates the outcome's final model on its validation set, whose classes are labels.
func (o *Outcome) score(positive int, labels []int) error {
	o.Positive, o.Threshold = positive, 0.5
	if o.Tuned != nil {
		o.Probs = o.Tuned.Val
	} else if o.Linear != nil {
		o.Probs = o.Linear.Val
		if positive >= 0 {
			o.Threshold = o.Linear.Threshold
			o.Manifest.Threshold = o.Linear.Threshold
		}
	} else {
		var err error
		if _, o.Probs, err = finetune.Probabilities(o.Trained.Net, o.Trained.Val, evalBatch); err != nil {
			return err
		}
	}
	if positive >= 0 {
		o.Manifest.Positive = o.Classes[positive]
	}
	var err error
	o.Metrics, err = report.Score(o.Classes, labels, o.Probs, positive, o.Threshold)
	return err
}
