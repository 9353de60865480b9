package head

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/floats"
)

// TieTolerance is how close (in mean log-loss, nats) two cross-validation candidates must be to
// count as tied; ties go to the higher accuracy.
const TieTolerance = 1e-4

// DefaultCs returns the default grid of C: 17 values log-spaced from 1e-4 to 1e4 (half a decade apart).
func DefaultCs() []float64 {
	cs := make([]float64, 17)
	for i := range cs {
		cs[i] = math.Pow(10, float64(i)/2-4)
	}
	return cs
}

// CVOptions configure FitCV.
type CVOptions struct {
	// Folds is the number of cross-validation folds (5 when 0).
	Folds int
	// Cs is the grid of C (DefaultCs when nil).
	Cs []float64
	// Norms are the candidate normalisations ({NormL2} when nil).
	Norms []Normalization
	// Seed shuffles the groups into folds.
	Seed uint64
	// Parallel bounds the folds solved at once (GOMAXPROCS when 0). Results do not depend on it.
	Parallel int
}

// Candidate is one (normalisation, C) pair and its cross-validation score.
type Candidate struct {
	Norm Normalization `json:"normalization"`
	C    float64       `json:"c"`
	// LogLoss is the weighted mean log-loss over the valid rows, each predicted by the fit that
	// did not see its group.
	LogLoss float64 `json:"log_loss"`
	// Accuracy is the weighted fraction of those rows whose most probable class is right.
	Accuracy float64 `json:"accuracy"`
	// Unconverged counts the folds whose fit did not converge (see Model.Converged).
	Unconverged int `json:"unconverged,omitempty"`
}

// CVResult is the outcome of FitCV.
type CVResult struct {
	// Model is fitted on every row with the chosen candidate.
	Model *Model
	// Candidates lists every candidate: normalisations in the order given, C ascending.
	Candidates []Candidate
	// Best indexes the chosen candidate.
	Best int
	// Fold holds each row's fold.
	Fold []int
	// OOF holds each row's out-of-fold class probabilities at the chosen candidate: the row is
	// predicted by the fit on the other folds (for every row, valid or not).
	OOF [][]float64
}

// FitCV chooses the normalisation and C by stratified, grouped k-fold cross-validation on ds,
// then fits the model on every row with the choice.
//
// Folds: the distinct group ids, each labelled by its rows' common class, are shuffled class by
// class (seeded) and dealt to the folds in turn, one class after another, so every fold gets
// its share of each class; all rows of a group fall in the same fold. The folds depend only on
// the groups, their classes and the seed, so datasets with the same groups (e.g. with and
// without augmented views) are split alike. Every class needs at least Folds groups.
//
// For each fold and normalisation the rows of the other folds are fitted along the C grid,
// ascending, each fit warm-started from the previous ones (extrapolated linearly in log C) and
// solved to CVTolerance; the normalisation's statistics come from those rows only. A
// candidate's score pools the held-out valid rows of all folds: weighted mean log-loss, the
// lower the better. Candidates within TieTolerance of the lowest log-loss are tied; among them
// the highest accuracy wins, then the first in Candidates order (normalisations in the order
// given, smaller C first). The final model is fitted to FitTolerance, warm-started from the
// mean of the folds' solutions. Results are identical bit for bit for any Parallel.
func FitCV(ctx context.Context, ds Dataset, o CVOptions) (*CVResult, error) {
	d, err := ds.check()
	if err != nil {
		return nil, err
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Cs == nil {
		o.Cs = DefaultCs()
	}
	if o.Norms == nil {
		o.Norms = []Normalization{NormL2}
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.Folds < 2 {
		return nil, fmt.Errorf("head: %d cross-validation folds, need at least 2", o.Folds)
	}
	if len(o.Cs) == 0 || len(o.Norms) == 0 {
		return nil, fmt.Errorf("head: cross-validation needs at least one C and one normalization (got %d and %d)", len(o.Cs), len(o.Norms))
	}
	for i, c := range o.Cs {
		if err := checkC(c); err != nil {
			return nil, err
		}
		if i > 0 && c <= o.Cs[i-1] {
			return nil, fmt.Errorf("head: the C grid must ascend strictly, got %v after %v", c, o.Cs[i-1])
		}
	}
	for _, n := range o.Norms {
		if n < NormNone || n > NormStandardize {
			return nil, fmt.Errorf("head: unknown normalization %d", int(n))
		}
	}
	fold, err := assignFolds(ds, o.Folds, o.Seed)
	if err != nil {
		return nil, err
	}

	run, err := crossValidate(ctx, ds, d, fold, o)
	if err != nil {
		return nil, err
	}
	nc := len(o.Cs)
	weight := ds.weights()
	res := &CVResult{Fold: fold, Candidates: make([]Candidate, len(run.loss))}
	for ni, norm := range o.Norms {
		for ci, c := range o.Cs {
			cand := ni*nc + ci
			res.Candidates[cand] = score(ds, weight, norm, c, run.loss[cand], run.prob[cand], run.unconverged[cand])
		}
	}
	res.Best = choose(res.Candidates)
	res.OOF = run.prob[res.Best]
	best := res.Candidates[res.Best]
	// Warm start: the mean of the folds' solutions at the chosen candidate.
	start := make([]float64, outputs(ds.Classes)*(d+1))
	for _, th := range run.theta[res.Best] {
		for j, v := range th {
			start[j] += v / float64(o.Folds)
		}
	}
	if res.Model, err = fit(ctx, ds, d, best.C, best.Norm, start); err != nil {
		return nil, err
	}
	return res, nil
}

// cvRun holds the fits of crossValidate, indexed by candidate (normalisation-major, then C),
// then by row or fold.
type cvRun struct {
	loss        [][]float64   // held-out log-loss of each row
	prob        [][][]float64 // held-out class probabilities of each row
	theta       [][][]float64 // each fold's solution
	unconverged [][]bool      // each fold's fit did not converge
}

// crossValidate fits, for each normalisation and fold, the rows outside the fold along the C
// grid, and predicts the fold's rows.
func crossValidate(ctx context.Context, ds Dataset, d int, fold []int, o CVOptions) (*cvRun, error) {
	n, nc, k := len(ds.X), len(o.Cs), outputs(ds.Classes)
	cands := len(o.Norms) * nc
	run := &cvRun{loss: make([][]float64, cands), prob: make([][][]float64, cands),
		theta: make([][][]float64, cands), unconverged: make([][]bool, cands)}
	for c := range cands {
		run.loss[c], run.prob[c] = make([]float64, n), make([][]float64, n)
		run.theta[c], run.unconverged[c] = make([][]float64, o.Folds), make([]bool, o.Folds)
	}
	weight := ds.weights()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallel)
	for ni, norm := range o.Norms {
		cand := func(ci int) int { return ni*nc + ci }
		for f := range o.Folds {
			g.Go(func() error {
				var train, held []int
				for i := range n {
					if fold[i] == f {
						held = append(held, i)
					} else {
						train = append(train, i)
					}
				}
				x, _ := design(ds.X, d, norm, train, weight)
				p := newProblem(x, d, train, ds.Labels, weight, ds.Classes)
				th, start := make([]float64, p.size()), make([]float64, p.size())
				z := make([]float64, k)
				for ci, c := range o.Cs {
					p.c = c
					copy(start, th)
					if ci >= 2 {
						// Extrapolate the path linearly in log C from the last two solutions.
						step := math.Log(c/o.Cs[ci-1]) / math.Log(o.Cs[ci-1]/o.Cs[ci-2])
						floats.AddScaled(start, step, th)
						floats.AddScaled(start, -step, run.theta[cand(ci-2)][f])
					}
					sol, err := p.solve(gctx, start, CVTolerance)
					if err != nil {
						return fmt.Errorf("fold %d, %s, C=%g: %w", f, norm, c, err)
					}
					th = sol.theta
					ca := cand(ci)
					run.theta[ca][f], run.unconverged[ca][f] = th, !sol.converged
					for _, i := range held {
						logits(th, x[i*d:(i+1)*d], z)
						run.loss[ca][i] = rowLoss(z, ds.Labels[i], nil)
						run.prob[ca][i] = make([]float64, ds.Classes)
						probabilities(z, run.prob[ca][i])
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("head: cross-validation: %w", err)
	}
	return run, nil
}

// score pools the held-out log-loss and accuracy of the valid rows.
func score(ds Dataset, weight []float64, norm Normalization, c float64, loss []float64, prob [][]float64, unconverged []bool) Candidate {
	cand := Candidate{Norm: norm, C: c}
	var total float64
	for i := range loss {
		if ds.Valid != nil && !ds.Valid[i] {
			continue
		}
		w := weight[i]
		total += w
		cand.LogLoss += w * loss[i]
		if argmax(prob[i]) == ds.Labels[i] {
			cand.Accuracy += w
		}
	}
	if total > 0 {
		cand.LogLoss /= total
		cand.Accuracy /= total
	} else {
		cand.LogLoss, cand.Accuracy = math.NaN(), math.NaN()
	}
	for _, u := range unconverged {
		if u {
			cand.Unconverged++
		}
	}
	return cand
}

// choose returns the winning candidate (see FitCV).
func choose(cands []Candidate) int {
	lowest := math.Inf(1)
	for _, c := range cands {
		lowest = math.Min(lowest, c.LogLoss)
	}
	best := -1
	for i, c := range cands {
		if c.LogLoss <= lowest+TieTolerance && (best < 0 || c.Accuracy > cands[best].Accuracy) {
			best = i
		}
	}
	return best
}

// argmax returns the index of the largest value (the first of equals).
func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// assignFolds deals the groups of ds to k folds (see FitCV) and returns each row's fold.
func assignFolds(ds Dataset, k int, seed uint64) ([]int, error) {
	group := func(i int) int {
		if ds.Groups == nil {
			return i
		}
		return ds.Groups[i]
	}
	label := map[int]int{}
	for i, y := range ds.Labels {
		g := group(i)
		if l, ok := label[g]; ok && l != y {
			return nil, fmt.Errorf("head: group %d holds rows of classes %d and %d; the rows of a group must share a class", g, l, y)
		}
		label[g] = y
	}
	byClass := make([][]int, ds.Classes)
	for g, y := range label {
		byClass[y] = append(byClass[y], g)
	}
	r := rand.New(rand.NewPCG(seed, 0x6c696e656172)) // stream "linear"
	foldOf := make(map[int]int, len(label))
	next := 0
	for y, groups := range byClass {
		if len(groups) < k {
			return nil, fmt.Errorf("head: class %d has %d groups (images), fewer than the %d cross-validation folds; use at most %d folds", y, len(groups), k, len(groups))
		}
		slices.Sort(groups)
		r.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		for _, g := range groups {
			foldOf[g] = next % k
			next++
		}
	}
	fold := make([]int, len(ds.X))
	for i := range fold {
		fold[i] = foldOf[group(i)]
	}
	return fold, nil
}
