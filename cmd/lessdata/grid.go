package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/internal/files"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/report"
	"github.com/lessdata/lessdata/study"
	"github.com/lessdata/lessdata/tf"
)

// gridFlags are the flags of commands that run many trainings: curve, compare --folds/--repeats.
type gridFlags struct {
	Repeats int
	Jobs    int
}

func (g *gridFlags) flags(cmd *cobra.Command, repeats int) {
	cmd.Flags().IntVar(&g.Repeats, "repeats", repeats, "repetitions with different seeds (and subsets or folds)")
	cmd.Flags().IntVar(&g.Jobs, "jobs", runtime.NumCPU(), "trainings run at once (each gets an even share of the cores)")
}

// pool holds every image of a dataset decoded once for each method, train images first, and the
// backbone with its feature cache; grid cells train on index subsets of it.
type pool struct {
	classes  []string
	nTrain   int
	labels   []int
	scratch  finetune.Keyed
	transfer finetune.Keyed
	b        *backbone.Backbone
	cache    *finetune.FeatureCache
	sf       scratchFlags
	tf       transferFlags
	fit      fitFlags
	threads  int
	excluded []audit.Exclusion
}

func (p *pool) Close() {
	if p.b != nil {
		p.b.Close()
	}
}

func concat(a, b finetune.Keyed) finetune.Keyed {
	return finetune.Keyed{Labelled: finetune.Labelled{Images: append(append([]*dataset.Image{}, a.Images...), b.Images...),
		Labels: append(append([]int{}, a.Labels...), b.Labels...)}, Hashes: append(append([]string{}, a.Hashes...), b.Hashes...)}
}

// newPool decodes the dataset for both methods and extracts every feature the grid will need.
func newPool(ctx context.Context, ios streams, g *globalOptions, ds *dataset.Dataset, sf scratchFlags, tr transferFlags, fit fitFlags, jobs int) (*pool, error) {
	p := &pool{classes: ds.Classes, sf: sf, tf: tr, fit: fit, threads: max(1, runtime.NumCPU()/max(jobs, 1))}
	// Files that fail to decode are dropped from both sets alike, so indices agree.
	strain, sval, err := decodeSplits(ctx, ios, ds, sf.Size, sf.Size, false) // only transfer needs hashes
	if err != nil {
		return nil, err
	}
	fetch := g.fetchOptions(ios, false)
	dir, err := backbone.Resolve(ctx, tr.Backbone, fetch)
	if err != nil {
		return nil, err
	}
	if p.b, err = backbone.Open(dir, backbone.Options{}); err != nil {
		return nil, err
	}
	w, h := p.b.InputSize()
	ttrain, tval, err := decodeSplits(ctx, ios, ds, w, h, true)
	if err != nil {
		p.Close()
		return nil, err
	}
	if len(strain.Images) != len(ttrain.Images) || len(sval.Images) != len(tval.Images) {
		p.Close()
		return nil, fmt.Errorf("images decoded differently at two sizes; remove the files reported above")
	}
	p.nTrain = len(strain.Images)
	p.scratch, p.transfer = concat(strain, sval), concat(ttrain, tval)
	p.labels = p.scratch.Labels
	cacheDir, err := fetch.CacheDirOrDefault()
	if err != nil {
		p.Close()
		return nil, err
	}
	p.cache = finetune.NewFeatureCache(cacheDir, p.b.Digest())
	return p, nil
}

// warm extracts the features of every image a cell may train or validate on, for every seed.
func (p *pool) warm(ctx context.Context, ios streams, seeds []uint64) error {
	for i, seed := range seeds {
		var bar interface{ Set(int) error }
		opt := p.transferOptions(seed)
		opt.OnFeatures = func(done, total int) {
			if bar == nil {
				bar = newBar(ios, total, fmt.Sprintf("features %d/%d", i+1, len(seeds)))
			}
			bar.Set(done)
		}
		if err := finetune.WarmFeatures(ctx, p.transfer, opt); err != nil {
			return err
		}
	}
	return nil
}

func (p *pool) fitOptions(seed uint64) finetune.FitOptions {
	f := finetune.FitOptions{Epochs: p.fit.Epochs, BatchSize: p.fit.Batch, Seed: seed, Workers: 1}
	if p.fit.SamplesPerEpoch > 0 {
		f.StepsPerEpoch = (p.fit.SamplesPerEpoch + p.fit.Batch - 1) / p.fit.Batch
	}
	return f
}

func (p *pool) session() tf.SessionOptions {
	return tf.SessionOptions{IntraOpThreads: p.threads, InterOpThreads: 1}
}

func (p *pool) transferOptions(seed uint64) finetune.TransferOptions {
	return finetune.TransferOptions{Backbone: p.b, Head: head.Options{Hidden: p.tf.Hidden, Dropout: p.tf.Dropout, L2: p.tf.L2, LearningRate: p.tf.LR},
		Augment: augment.Article(), NoAugment: p.tf.NoAugment, Views: p.tf.Views, Cache: p.cache, Fit: p.fitOptions(seed), Session: p.session()}
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

// train runs one cell: method trained on the pool's trainIdx, scored on valIdx.
func (p *pool) train(ctx context.Context, method string, trainIdx, valIdx []int, seed uint64) (*study.Result, error) {
	start := time.Now()
	var t *finetune.Trained
	var err error
	switch method {
	case "scratch":
		t, err = finetune.Scratch(ctx, p.classes, subset(p.scratch, trainIdx).Labelled, subset(p.scratch, valIdx).Labelled,
			finetune.ScratchOptions{Augment: augment.Article(), NoAugment: p.sf.NoAugment, Fit: p.fitOptions(seed), Session: p.session()})
	case "transfer":
		t, err = finetune.Transfer(ctx, p.classes, subset(p.transfer, trainIdx), subset(p.transfer, valIdx), p.transferOptions(seed))
	default:
		return nil, fmt.Errorf("unknown method %q", method)
	}
	if err != nil {
		return nil, err
	}
	defer t.Net.Close()
	_, probs, err := finetune.Evaluate(t.Net, t.Val, 64)
	if err != nil {
		return nil, err
	}
	pos := -1
	if len(p.classes) == 2 {
		pos = 1
	}
	m, err := report.Evaluate(p.classes, t.Val.Labels, probs, pos, 0.5)
	if err != nil {
		return nil, err
	}
	return &study.Result{Accuracy: m.Accuracy, AUC: m.AUC, NTrain: len(trainIdx), NVal: len(valIdx),
		Epochs: len(t.History.Epochs), Seconds: time.Since(start).Seconds()}, nil
}

// gridSpec is what a grid command shares: data, training loop, both recipes, parallelism.
type gridSpec struct {
	Command  string
	Out      string
	Force    bool
	Data     dataOptions
	Fit      fitFlags
	Scratch  scratchFlags
	Transfer transferFlags
	Jobs     int
	// Extra is the command's own part of the run's config (sizes, folds, repeats...).
	Extra map[string]any
}

// startGrid checks the shared options, starts or resumes the run folder, scans the data and
// decodes it into a pool; the caller closes the pool.
func startGrid(ctx context.Context, ios streams, g *globalOptions, s gridSpec) (*pool, error) {
	if err := s.Scratch.validate(); err != nil {
		return nil, err
	}
	if _, err := s.Fit.options(s.Data.Seed); err != nil {
		return nil, err
	}
	config := map[string]any{"command": s.Command, "data": s.Data.Data, "val_split": s.Data.ValSplit, "seed": s.Data.Seed,
		"fit": s.Fit, "scratch": s.Scratch, "transfer": s.Transfer}
	for k, v := range s.Extra {
		config[k] = v
	}
	if err := gridRun(s.Out, config, s.Force); err != nil {
		return nil, err
	}
	ds, excluded, err := prepareData(ctx, ios, s.Data, true)
	if err != nil {
		return nil, err
	}
	p, err := newPool(ctx, ios, g, ds, s.Scratch, s.Transfer, s.Fit, s.Jobs)
	if err != nil {
		return nil, err
	}
	p.excluded = excluded
	return p, nil
}

// gridRun is a resumable run folder: the options it was started with are kept in config.json,
// and a rerun with the same options resumes; other options need --force.
func gridRun(dir string, config any, force bool) error {
	want, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "config.json")
	have, readErr := os.ReadFile(path)
	if readErr == nil && string(have) == string(want) {
		return nil // the same run: resume it
	}
	if _, err := os.Stat(dir); err == nil {
		switch {
		case force:
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		case readErr == nil:
			return fmt.Errorf("%s was started with other options (see its config.json): rerun with those, or pass --force to start over", dir)
		default:
			return fmt.Errorf("%s exists and is not a run of this command: choose another --out or pass --force", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return files.WriteAtomic(path, want)
}

// gridProgress draws one bar over the whole grid and notes each finished cell.
func gridProgress(ios streams, total int) func(done, total int, r *study.Result, skipped bool) {
	bar := newBar(ios, total, "cells")
	return func(done, total int, r *study.Result, skipped bool) {
		bar.Set(done)
		if skipped || ios.Progress {
			return
		}
		fmt.Fprintf(ios.Err, "cell %d/%d %s: accuracy %.3f (%d training images, %.1fs)\n", done, total, r.Key(), r.Accuracy, r.NTrain, r.Seconds)
	}
}
