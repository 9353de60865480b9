package head

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// withViews returns ds with every row as an image of its own group, followed by views extra
// rows per image (the image's features plus noise of the given size) in the same group; only
// the plain rows are valid.
func withViews(ds Dataset, views int, noise float64) Dataset {
	r := rand.New(rand.NewPCG(11, 12))
	out := Dataset{Classes: ds.Classes}
	for i, x := range ds.X {
		for v := 0; v <= views; v++ {
			row := append([]float32(nil), x...)
			if v > 0 {
				for j := range row {
					row[j] += float32(noise * r.NormFloat64())
				}
			}
			out.X = append(out.X, row)
			out.Labels = append(out.Labels, ds.Labels[i])
			out.Groups = append(out.Groups, 1000+i)
			out.Valid = append(out.Valid, v == 0)
		}
	}
	return out
}

// Every group sits in one fold, each class is spread evenly, and the folds depend on the
// groups and the seed only, not on the number of views.
func TestFoldsKeepGroupsTogetherAndStratify(t *testing.T) {
	plain := synthetic(1, 40, 3, 2, 1)
	for i := range 6 { // 23 images of class 0, 17 of class 1
		plain.Labels[2*i+1] = 0
	}
	ds := withViews(plain, 2, 0.1)
	fold, err := assignFolds(ds, 5, 9)
	require.NoError(t, err)
	byGroup := map[int]int{}
	perClass := make([][]int, 2)
	perClass[0], perClass[1] = make([]int, 5), make([]int, 5)
	for i, f := range fold {
		if g, ok := byGroup[ds.Groups[i]]; ok {
			require.Equal(t, g, f, "row %d left its group's fold", i)
			continue
		}
		byGroup[ds.Groups[i]] = f
		perClass[ds.Labels[i]][f]++
	}
	for y, counts := range perClass {
		lo, hi := counts[0], counts[0]
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		require.LessOrEqual(t, hi-lo, 1, "class %d groups per fold %v", y, counts)
	}

	plainOnly := withViews(plain, 0, 0)
	plainFold, err := assignFolds(plainOnly, 5, 9)
	require.NoError(t, err)
	for i, f := range plainFold {
		require.Equal(t, f, fold[3*i], "image %d", i)
	}
	other, err := assignFolds(ds, 5, 10)
	require.NoError(t, err)
	require.NotEqual(t, fold, other, "the seed must shuffle the folds")
}

func TestFoldsRejectBadGroups(t *testing.T) {
	ds := withViews(synthetic(1, 12, 3, 2, 1), 1, 0.1)
	ds.Labels[1] = 1 - ds.Labels[1] // a view of image 0 with the other class
	_, err := assignFolds(ds, 3, 1)
	require.ErrorContains(t, err, "must share a class")
	_, err = FitCV(context.Background(), withViews(synthetic(1, 12, 3, 2, 1), 1, 0.1), CVOptions{Folds: 7})
	require.ErrorContains(t, err, "use at most 6 folds")
}

// A fold's fits never look at the fold's own rows: poisoning their labels and features leaves
// the fits trained without them identical bit for bit, for every normalisation and C, while the
// fits that train on them change.
func TestCrossValidationNeverSeesHeldOutRows(t *testing.T) {
	clean := withViews(synthetic(2, 30, 5, 2, 2), 1, 0.2)
	o := CVOptions{Folds: 3, Cs: []float64{0.01, 1, 100}, Norms: []Normalization{NormNone, NormL2, NormStandardize}, Parallel: 2}
	fold, err := assignFolds(clean, o.Folds, 3)
	require.NoError(t, err)
	poisoned := withViews(synthetic(2, 30, 5, 2, 2), 1, 0.2)
	r := rand.New(rand.NewPCG(4, 4))
	for i, f := range fold {
		if f == 0 {
			poisoned.Labels[i] = 1 - poisoned.Labels[i]
			for j := range poisoned.X[i] {
				poisoned.X[i][j] = float32(50 * r.NormFloat64())
			}
		}
	}
	a, err := crossValidate(context.Background(), clean, 5, fold, o)
	require.NoError(t, err)
	b, err := crossValidate(context.Background(), poisoned, 5, fold, o)
	require.NoError(t, err)
	for cand := range a.theta {
		require.Equal(t, a.theta[cand][0], b.theta[cand][0], "candidate %d: the fit without fold 0 changed", cand)
		require.NotEqual(t, a.theta[cand][1], b.theta[cand][1], "candidate %d: the fit with fold 0 did not change", cand)
	}
}

// FitCV gives the same numbers bit for bit whatever the parallelism.
func TestFitCVDeterministic(t *testing.T) {
	ds := withViews(synthetic(3, 40, 12, 3, 1), 2, 0.3)
	o := CVOptions{Folds: 4, Cs: []float64{0.01, 0.1, 1, 10}, Norms: []Normalization{NormL2, NormStandardize}, Seed: 5}
	var first *CVResult
	for _, parallel := range []int{1, 3, 8} {
		o.Parallel = parallel
		res, err := FitCV(context.Background(), ds, o)
		require.NoError(t, err)
		if first == nil {
			first = res
			continue
		}
		require.Equal(t, first.Candidates, res.Candidates, "parallel %d", parallel)
		require.Equal(t, first.Best, res.Best)
		require.Equal(t, first.Fold, res.Fold)
		require.Equal(t, first.OOF, res.OOF)
		require.Equal(t, first.Model.Weights(), res.Model.Weights())
	}
}

// Candidates are scored on the valid (plain) rows only, from the out-of-fold probabilities.
func TestFitCVScoresValidRowsOnly(t *testing.T) {
	ds := withViews(synthetic(4, 40, 6, 2, 1.5), 2, 3) // views far noisier than the images
	res, err := FitCV(context.Background(), ds, CVOptions{Folds: 4, Cs: []float64{0.1, 1, 10}, Seed: 1})
	require.NoError(t, err)
	var valid, all, correct float64
	var nValid int
	for i, p := range res.OOF {
		l := -math.Log(p[ds.Labels[i]])
		all += l
		if ds.Valid[i] {
			valid += l
			nValid++
			if argmax(p) == ds.Labels[i] {
				correct++
			}
		}
	}
	best := res.Candidates[res.Best]
	require.InDelta(t, valid/float64(nValid), best.LogLoss, 1e-12)
	require.InDelta(t, correct/float64(nValid), best.Accuracy, 1e-12)
	require.Greater(t, math.Abs(all/float64(len(res.OOF))-best.LogLoss), 1e-3, "the noisy views must not count")
	require.Equal(t, best.C, res.Model.C())
	require.Equal(t, best.Norm, res.Model.Normalization())
	require.True(t, res.Model.Converged())
}

// Labels unrelated to the features call for the strongest regularisation; informative
// features for a weaker one, with a high cross-validated accuracy.
func TestFitCVChoosesRegularisation(t *testing.T) {
	noise := synthetic(5, 200, 20, 2, 0)
	r := rand.New(rand.NewPCG(6, 6))
	for i := range noise.Labels {
		noise.Labels[i] = r.IntN(2)
	}
	res, err := FitCV(context.Background(), noise, CVOptions{Seed: 1})
	require.NoError(t, err)
	require.LessOrEqual(t, res.Candidates[res.Best].C, 0.01, "candidates %+v", res.Candidates)

	signal := synthetic(5, 80, 20, 2, 3)
	res, err = FitCV(context.Background(), signal, CVOptions{Seed: 1, Norms: []Normalization{NormNone, NormL2}})
	require.NoError(t, err)
	require.Len(t, res.Candidates, 2*17)
	best := res.Candidates[res.Best]
	require.Greater(t, best.C, 0.01)
	require.GreaterOrEqual(t, best.Accuracy, 0.9)
	for _, c := range res.Candidates {
		require.GreaterOrEqual(t, c.LogLoss, best.LogLoss-TieTolerance)
	}
}

func TestChooseBreaksTiesByAccuracy(t *testing.T) {
	cands := []Candidate{{LogLoss: 0.5, Accuracy: 0.8}, {LogLoss: 0.5 + TieTolerance/2, Accuracy: 0.9}, {LogLoss: 0.6, Accuracy: 0.95}}
	require.Equal(t, 1, choose(cands))
	cands[1].Accuracy = 0.8
	require.Equal(t, 0, choose(cands), "a full tie goes to the first candidate")
	cands[1].LogLoss = 0.5 + 2*TieTolerance
	cands[1].Accuracy = 1
	require.Equal(t, 0, choose(cands))
}

func TestFitCVRejectsBadOptions(t *testing.T) {
	ds := synthetic(1, 20, 3, 2, 1)
	ctx := context.Background()
	_, err := FitCV(ctx, ds, CVOptions{Folds: 1})
	require.ErrorContains(t, err, "at least 2")
	_, err = FitCV(ctx, ds, CVOptions{Cs: []float64{1, 0.1}})
	require.ErrorContains(t, err, "ascend")
	_, err = FitCV(ctx, ds, CVOptions{Cs: []float64{}})
	require.ErrorContains(t, err, "at least one C")
	_, err = FitCV(ctx, ds, CVOptions{Norms: []Normalization{9}})
	require.ErrorContains(t, err, "unknown normalization")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = FitCV(cancelled, ds, CVOptions{Folds: 2})
	require.ErrorIs(t, err, context.Canceled)
}
