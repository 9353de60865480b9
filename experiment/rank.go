package experiment

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/report"
)

// BackboneAuto as --backbone ranks the zoo on the training images and uses the winner.
const BackboneAuto = "auto"

// Rank is one backbone's linear probe, cross-validated on the training images only.
type Rank struct {
	Backbone string `json:"backbone"`
	Input    int    `json:"input"`
	Features int    `json:"features"`
	// LogLoss, Accuracy and AUC are the inner cross-validation's (out-of-fold) scores of the
	// linear head at its best normalisation and C.
	LogLoss  float64         `json:"log_loss"`
	Accuracy report.Estimate `json:"accuracy"`
	AUC      report.Estimate `json:"auc"`
	// PerSecond is the backbone's speed in images per second on this machine.
	PerSecond float64 `json:"images_per_second"`
	Err       string  `json:"error,omitempty"`
}

// Ranking is backbones ranked by inner cross-validation on the training images.
type Ranking struct {
	Ranks []Rank `json:"ranks"`
	// Best names the recommendation: the lowest out-of-fold log-loss (the first listed on a tie).
	Best  string `json:"best"`
	Folds int    `json:"inner_folds"`
}

// ZooBackbones lists the zoo's backbones, in manifest order.
func ZooBackbones() ([]string, error) {
	entries, err := models.Manifest()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names, nil
}

// RankBackbones extracts (and caches) each backbone's features of the training images of the
// data and scores a linear probe on them by stratified inner cross-validation: no validation
// image is read. A backbone that cannot be fetched or opened is listed with its error.
func RankBackbones(ctx context.Context, d DataSpec, names []string, env Env) (*Ranking, error) {
	data, err := LoadData(ctx, d, false, env.UI)
	if err != nil {
		return nil, err
	}
	return rankOn(ctx, data, d.Seed, names, env)
}

func rankOn(ctx context.Context, data *Data, seed uint64, names []string, env Env) (*Ranking, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("--backbones names no backbone")
	}
	train := &Data{Dataset: data.Dataset}
	r := &Ranking{}
	for _, name := range names {
		rk, folds, err := rankOne(ctx, train, seed, name, env)
		if ctx.Err() != nil {
			return nil, interrupted(ctx.Err())
		}
		if err != nil {
			env.UI.warnf("%s: %v", name, err)
			rk = Rank{Backbone: name, LogLoss: math.Inf(1), Err: err.Error()}
		}
		r.Folds = max(r.Folds, folds)
		r.Ranks = append(r.Ranks, rk)
	}
	best := -1
	for i, rk := range r.Ranks {
		if rk.Err == "" && (best < 0 || rk.LogLoss < r.Ranks[best].LogLoss-head.TieTolerance) {
			best = i
		}
	}
	if best < 0 {
		return r, fmt.Errorf("no backbone could be ranked")
	}
	r.Best = r.Ranks[best].Backbone
	return r, nil
}

// rankOne scores one backbone.
func rankOne(ctx context.Context, data *Data, seed uint64, name string, env Env) (Rank, int, error) {
	spec := DefaultSpec(Transfer)
	spec.Data.Seed = seed
	spec.Transfer.Backbone = name
	pool, err := newPool(ctx, data, spec, Env{Fetch: env.Fetch, UI: UI{Bar: env.UI.Bar, Log: env.UI.Log}}, 0, true)
	if err != nil {
		return Rank{}, 0, err
	}
	defer pool.Close()
	train := subset(pool.sets[Transfer], pool.TrainIndex())
	var bar Bar
	feats, err := finetune.PlainFeatures(ctx, train, pool.b.Backbone, pool.b.Cache, func(done, total int) {
		if bar == nil {
			bar = env.UI.bar(total, "features ("+name+")")
		}
		bar.Set(done)
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return Rank{}, 0, err
	}
	folds := finetune.InnerFolds(train.Labels, len(pool.Classes), 0)
	if folds < 2 {
		return Rank{}, 0, fmt.Errorf("every class needs at least 2 training images to rank backbones")
	}
	res, err := head.FitCV(ctx, head.Dataset{X: feats, Labels: train.Labels, Classes: len(pool.Classes)},
		head.CVOptions{Folds: folds, Norms: []head.Normalization{head.NormL2}, Seed: seed})
	if err != nil {
		return Rank{}, 0, err
	}
	oof := make([][]float32, len(res.OOF))
	for i, p := range res.OOF {
		oof[i] = make([]float32, len(p))
		for k, v := range p {
			oof[i][k] = float32(v)
		}
	}
	m, err := report.Score(pool.Classes, train.Labels, oof, pool.positive, 0.5)
	if err != nil {
		return Rank{}, 0, err
	}
	// Speed: one batch of plain images through the backbone, timed.
	n := min(len(train.Images), 32)
	start := time.Now()
	if _, err := pool.b.Features(ctx, train.Images[:n]); err != nil {
		return Rank{}, 0, err
	}
	w, _ := pool.b.InputSize()
	return Rank{Backbone: name, Input: w, Features: pool.b.Spec.Features.Size, LogLoss: res.Candidates[res.Best].LogLoss,
		Accuracy: report.Estimate{Value: m.Accuracy, Low: m.AccuracyLow, High: m.AccuracyHigh},
		AUC:      report.Estimate{Value: m.AUC, Low: m.AUCLow, High: m.AUCHigh}, PerSecond: float64(n) / time.Since(start).Seconds()}, folds, nil
}
