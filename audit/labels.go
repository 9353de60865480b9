package audit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// Cross-validated head: a linear softmax (sigmoid for two classes) on standardised features,
// trained full-batch with Adam.
const (
	cvSteps = 200
	cvLR    = 0.01
	cvL2    = 1e-3
)

// labelChecks flags label suspects (from out-of-fold predictions of a linear head trained on
// the other folds, as confident learning does) and outliers (far from every class centroid).
// Only the least probable label suspects are kept (see Thresholds.MaxSuspects). It returns the
// flags, the number of label suspects found before that cut, and the out-of-fold accuracy.
func labelChecks(ctx context.Context, es []*entry, classes []string, seed uint64, t Thresholds, progress func(int, int)) ([]Flag, int, float64, error) {
	probs, err := crossValidate(ctx, es, len(classes), t.Folds, seed, progress)
	if err != nil {
		return nil, 0, 0, err
	}
	flags, acc := suspects(es, classes, probs)
	found := len(flags)
	if limit := max(t.MaxSuspects, int(math.Ceil(t.SuspectShare*float64(len(es))))); len(flags) > limit {
		sort.SliceStable(flags, func(i, j int) bool { return flags[i].Score < flags[j].Score })
		flags = flags[:limit]
	}
	return append(flags, outliers(es, classes, t.OutlierZ)...), found, acc, nil
}

// crossValidate returns out-of-fold class probabilities for every entry. Folds are stratified
// by class; a class with fewer images than folds is spread over as many folds as it has.
func crossValidate(ctx context.Context, es []*entry, classes, folds int, seed uint64, progress func(int, int)) ([][]float32, error) {
	if folds < 2 {
		return nil, fmt.Errorf("cross-validation needs at least 2 folds, got %d", folds)
	}
	fold := make([]int, len(es))
	rng := rand.New(rand.NewPCG(seed, 0x61756469))
	for c := range classes {
		var idx []int
		for i, e := range es {
			if e.class == c {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for k, i := range idx {
			fold[i] = k % folds
		}
	}
	dim := len(es[0].feat)
	probs := make([][]float32, len(es))
	for f := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var train, test []int
		for i := range es {
			if fold[i] == f {
				test = append(test, i)
			} else {
				train = append(train, i)
			}
		}
		if len(test) == 0 || len(train) == 0 {
			continue
		}
		mean, inv := standardiser(es, train, dim)
		batch := func(idx []int) nn.Batch {
			b := nn.Batch{X: make([]float32, 0, len(idx)*dim), Count: len(idx)}
			for _, i := range idx {
				for k, v := range es[i].feat {
					b.X = append(b.X, (v-mean[k])*inv[k])
				}
				b.Labels = append(b.Labels, es[i].class)
			}
			return b
		}
		net, err := head.New(dim, classes, head.Options{L2: cvL2, LearningRate: cvLR}, seed+uint64(f), tf.SessionOptions{})
		if err != nil {
			return nil, fmt.Errorf("cross-validation: %w", err)
		}
		tb := batch(train)
		for range cvSteps {
			if _, _, err := net.TrainBatch(tb); err != nil {
				net.Close()
				return nil, fmt.Errorf("cross-validation: %w", err)
			}
		}
		p, err := net.Predict(batch(test))
		net.Close()
		if err != nil {
			return nil, fmt.Errorf("cross-validation: %w", err)
		}
		for k, i := range test {
			probs[i] = p[k]
		}
		if progress != nil {
			progress(f+1, folds)
		}
	}
	return probs, nil
}

// standardiser returns per-dimension means and inverse standard deviations over idx.
func standardiser(es []*entry, idx []int, dim int) (mean, inv []float32) {
	sum, sum2 := make([]float64, dim), make([]float64, dim)
	for _, i := range idx {
		for k, v := range es[i].feat {
			sum[k] += float64(v)
			sum2[k] += float64(v) * float64(v)
		}
	}
	mean, inv = make([]float32, dim), make([]float32, dim)
	n := float64(len(idx))
	for k := range dim {
		m := sum[k] / n
		sd := math.Sqrt(max(sum2[k]/n-m*m, 0))
		mean[k], inv[k] = float32(m), float32(1/max(sd, 1e-3))
	}
	return mean, inv
}

// suspects applies confident learning's rule to out-of-fold probabilities: an image is a
// suspect when another class is its most probable one and that class's probability reaches the
// class's mean self-confidence (the mean probability its own images get), while its own class's
// probability is below its own class's. The score is the own class's probability.
func suspects(es []*entry, classes []string, probs [][]float32) ([]Flag, float64) {
	k := len(classes)
	sum, n := make([]float64, k), make([]int, k)
	correct, total := 0, 0
	for i, e := range es {
		if probs[i] == nil {
			continue
		}
		sum[e.class] += float64(probs[i][e.class])
		n[e.class]++
		total++
		if finetune.Predicted(probs[i]) == e.class {
			correct++
		}
	}
	selfConf := make([]float64, k)
	for c := range k {
		selfConf[c] = sum[c] / float64(max(n[c], 1))
	}
	var flags []Flag
	for i, e := range es {
		p := probs[i]
		if p == nil {
			continue
		}
		j := finetune.Predicted(p)
		own := float64(p[e.class])
		if j == e.class || float64(p[j]) < selfConf[j] || own >= selfConf[e.class] {
			continue
		}
		flags = append(flags, Flag{ItemRef: e.ItemRef, Kind: KindLabelSuspect, Score: round3(own), SuggestedClass: classes[j],
			Reason: fmt.Sprintf("cross-validated p(%s) = %.3f, p(%s) = %.3f", e.Class, own, classes[j], p[j])})
	}
	if total == 0 {
		return flags, 0
	}
	return flags, round3(float64(correct) / float64(total))
}

// outliers flags images far from every class: for each class, the cosine distance of an
// image's features to the class centroid is turned into a robust z-score (median and MAD of
// the class's own images' distances); an image whose smallest z-score exceeds limit is an
// outlier.
func outliers(es []*entry, classes []string, limit float64) []Flag {
	unit := normalized(es, false)
	if unit == nil {
		return nil
	}
	k, dim := len(classes), len(unit[0])
	cent := make([][]float64, k)
	for c := range cent {
		cent[c] = make([]float64, dim)
	}
	for i, e := range es {
		for d, v := range unit[i] {
			cent[e.class][d] += v
		}
	}
	for c := range cent {
		var n float64
		for _, v := range cent[c] {
			n += v * v
		}
		if n = math.Sqrt(n); n > 0 {
			for d := range cent[c] {
				cent[c][d] /= n
			}
		}
	}
	dist := make([][]float64, len(es)) // [image][class]
	own := make([][]float64, k)
	for i, e := range es {
		dist[i] = make([]float64, k)
		for c := range k {
			dist[i][c] = 1 - dot(unit[i], cent[c])
		}
		own[e.class] = append(own[e.class], dist[i][e.class])
	}
	med, scale := make([]float64, k), make([]float64, k)
	for c := range k {
		if len(own[c]) < 5 {
			scale[c] = math.Inf(1) // too few images to say what is far
			continue
		}
		med[c] = median(own[c])
		dev := make([]float64, len(own[c]))
		for i, d := range own[c] {
			dev[i] = math.Abs(d - med[c])
		}
		scale[c] = max(1.4826*median(dev), 1e-6)
	}
	var flags []Flag
	for i, e := range es {
		zmin, zown := math.Inf(1), 0.0
		for c := range k {
			z := (dist[i][c] - med[c]) / scale[c]
			zmin = math.Min(zmin, z)
			if c == e.class {
				zown = z
			}
		}
		if zmin > limit {
			flags = append(flags, Flag{ItemRef: e.ItemRef, Kind: KindOutlier, Score: round3(zmin),
				Reason: fmt.Sprintf("far from every class: robust z %.1f from its own class's centroid, at least %.1f from any", zown, zmin)})
		}
	}
	return flags
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// balance counts each class's images per split and notes imbalance: a training class with
// less than half the images of the largest, or a validation share far from the others'.
func balance(classes []string, es []*entry) Balance {
	b := Balance{Classes: make([]ClassCount, len(classes))}
	for c, name := range classes {
		b.Classes[c].Class = name
	}
	for _, e := range es {
		if e.Split == SplitTrain {
			b.Classes[e.class].Train++
		} else {
			b.Classes[e.class].Validation++
		}
	}
	lo, hi := math.MaxInt, 0
	var total, val int
	for c := range b.Classes {
		cc := &b.Classes[c]
		if n := cc.Train + cc.Validation; n > 0 {
			cc.ValShare = round3(float64(cc.Validation) / float64(n))
		}
		lo, hi = min(lo, cc.Train), max(hi, cc.Train)
		total += cc.Train + cc.Validation
		val += cc.Validation
	}
	if lo > 0 {
		b.Imbalance = round3(float64(hi) / float64(lo))
	}
	for _, cc := range b.Classes {
		switch {
		case cc.Train == 0:
			b.Notes = append(b.Notes, fmt.Sprintf("class %s has no usable training image", cc.Class))
		case 2*cc.Train < hi:
			b.Notes = append(b.Notes, fmt.Sprintf("class %s has %d training images, less than half of the largest class's %d", cc.Class, cc.Train, hi))
		}
		if cc.Validation == 0 {
			b.Notes = append(b.Notes, fmt.Sprintf("class %s has no usable validation image", cc.Class))
		}
	}
	if total > 0 && val > 0 {
		overall := float64(val) / float64(total)
		for _, cc := range b.Classes {
			if cc.Validation > 0 && math.Abs(cc.ValShare-overall) > 0.15 {
				b.Notes = append(b.Notes, fmt.Sprintf("class %s puts %.0f%% of its images in validation, against %.0f%% overall", cc.Class, 100*cc.ValShare, 100*overall))
			}
		}
	}
	return b
}
