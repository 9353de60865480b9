package head

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

// Solver settings. Tolerances bound the largest absolute gradient entry of the objective
// divided by C·Σweights (scikit-learn's scaling: mean weighted log-loss plus ||W||²/(2·C·Σweights)).
const (
	// FitTolerance is the gradient tolerance of Fit and of FitCV's final model, close to the
	// level below which float64 line searches can no longer decrease the objective.
	FitTolerance = 1e-8
	// CVTolerance is the gradient tolerance of the fits inside cross-validation, which only
	// need held-out losses to a few digits.
	CVTolerance = 1e-6
	// MaxIterations bounds the L-BFGS iterations of one fit.
	MaxIterations = 5000
	// roundingSlack is how far above the tolerance a gradient may end when the line search
	// fails because objective changes have fallen below float64 resolution.
	roundingSlack = 10
	// lbfgsStore is the number of correction pairs L-BFGS keeps (SciPy's default is 10).
	lbfgsStore = 10
)

// Dataset is a training set of feature vectors for a linear head.
type Dataset struct {
	// X holds one feature vector per row, all of the same length.
	X [][]float32
	// Labels holds each row's class, 0..Classes-1.
	Labels []int
	// Classes is the number of classes, at least 2.
	Classes int
	// Weights multiplies each row's log-loss (nil: 1 for every row).
	Weights []float64
	// Groups ties rows together for cross-validation: rows with the same id (the views of one
	// image) always fall in the same fold, so they must share a label. Nil: every row is its
	// own group. Fit ignores it.
	Groups []int
	// Valid marks the rows that cross-validation scores when their group is held out (the
	// plain view of each image). Nil: every row. Fit ignores it.
	Valid []bool
}

// check validates the dataset and returns the feature length.
func (ds Dataset) check() (int, error) {
	n := len(ds.X)
	if n < 2 {
		return 0, fmt.Errorf("head: %d feature rows, need at least 2", n)
	}
	if ds.Classes < 2 {
		return 0, fmt.Errorf("head: %d classes, need at least 2", ds.Classes)
	}
	if len(ds.Labels) != n {
		return 0, fmt.Errorf("head: %d labels for %d feature rows", len(ds.Labels), n)
	}
	for _, f := range []struct {
		name string
		len  int
	}{{"weights", len(ds.Weights)}, {"groups", len(ds.Groups)}, {"valid marks", len(ds.Valid)}} {
		if f.len != 0 && f.len != n {
			return 0, fmt.Errorf("head: %d %s for %d feature rows (give one per row or none)", f.len, f.name, n)
		}
	}
	d := len(ds.X[0])
	if d == 0 {
		return 0, errors.New("head: empty feature vectors")
	}
	seen := make([]bool, ds.Classes)
	var total float64
	for i, row := range ds.X {
		if len(row) != d {
			return 0, fmt.Errorf("head: feature row %d has length %d, row 0 has %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("head: feature row %d, entry %d is %v", i, j, v)
			}
		}
		if y := ds.Labels[i]; y < 0 || y >= ds.Classes {
			return 0, fmt.Errorf("head: row %d has label %d, want 0..%d", i, y, ds.Classes-1)
		}
		w := ds.weight(i)
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return 0, fmt.Errorf("head: row %d has weight %v, want a finite weight >= 0", i, w)
		}
		if w > 0 {
			seen[ds.Labels[i]] = true
		}
		total += w
	}
	if total == 0 {
		return 0, errors.New("head: every row has weight 0")
	}
	for k, ok := range seen {
		if !ok {
			return 0, fmt.Errorf("head: class %d has no row of positive weight", k)
		}
	}
	return d, nil
}

func (ds Dataset) weight(i int) float64 {
	if ds.Weights == nil {
		return 1
	}
	return ds.Weights[i]
}

func (ds Dataset) weights() []float64 {
	if ds.Weights != nil {
		return ds.Weights
	}
	w := make([]float64, len(ds.X))
	for i := range w {
		w[i] = 1
	}
	return w
}

// outputs is the number of linear outputs: one logit for two classes, one per class otherwise.
func outputs(classes int) int {
	if classes == 2 {
		return 1
	}
	return classes
}

// design returns the rows of x as a row-major float64 matrix transformed by norm. For
// NormStandardize the statistics come from the rows in train and are returned.
func design(x [][]float32, d int, norm Normalization, train []int, weight []float64) ([]float64, standardizer) {
	m := make([]float64, len(x)*d)
	for i, row := range x {
		out := m[i*d : (i+1)*d]
		for j, v := range row {
			out[j] = float64(v)
		}
		if norm == NormL2 {
			l2Normalize(out)
		}
	}
	var s standardizer
	if norm == NormStandardize {
		s = fitStandardizer(m, d, train, weight)
		for i := range x {
			s.apply(m[i*d : (i+1)*d])
		}
	}
	return m, s
}

// problem is one L2-regularised logistic regression: the rows listed in rows of the row-major
// matrix x. Its parameters theta hold the weights output by output (outputs×d), then the
// intercepts.
type problem struct {
	x       []float64
	d       int
	rows    []int
	labels  []int
	weight  []float64
	classes int
	c       float64

	z, r []float64 // scratch: logits and d(loss)/d(logits) of one row
}

func newProblem(x []float64, d int, rows, labels []int, weight []float64, classes int) *problem {
	k := outputs(classes)
	return &problem{x: x, d: d, rows: rows, labels: labels, weight: weight, classes: classes,
		z: make([]float64, k), r: make([]float64, k)}
}

func (p *problem) size() int { return outputs(p.classes) * (p.d + 1) }

// logits writes the outputs of theta for feature row xi into z.
func logits(theta, xi, z []float64) {
	d := len(xi)
	b := theta[len(z)*d:]
	for o := range z {
		z[o] = b[o] + floats.Dot(theta[o*d:(o+1)*d], xi)
	}
}

// rowLoss returns the log-loss of logits z for label y and, when r is not nil, writes its
// derivative with respect to z into r.
func rowLoss(z []float64, y int, r []float64) float64 {
	if len(z) == 1 {
		t := float64(y)
		loss := math.Max(z[0], 0) + math.Log1p(math.Exp(-math.Abs(z[0]))) - t*z[0]
		if r != nil {
			r[0] = sigmoid(z[0]) - t
		}
		return loss
	}
	lse := logSumExp(z)
	if r != nil {
		for o, v := range z {
			r[o] = math.Exp(v - lse)
		}
		r[y]--
	}
	return lse - z[y]
}

// probabilities writes the class probabilities of logits z into prob (one per class).
func probabilities(z, prob []float64) {
	if len(z) == 1 {
		prob[1] = sigmoid(z[0])
		prob[0] = 1 - prob[1]
		return
	}
	lse := logSumExp(z)
	for o, v := range z {
		prob[o] = math.Exp(v - lse)
	}
}

func sigmoid(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}

func logSumExp(z []float64) float64 {
	m := floats.Max(z)
	var s float64
	for _, v := range z {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// objective returns the scaled objective at theta and writes its gradient into grad:
// (Σ w_i·loss_i + ||W||²/(2C)) / Σ w_i, scikit-learn's scaling of 0.5·||W||² + C·Σ w_i·loss_i.
func (p *problem) objective(theta, grad []float64) float64 {
	d, k := p.d, len(p.z)
	w := theta[:k*d]
	gw, gb := grad[:k*d], grad[k*d:]
	for i := range grad {
		grad[i] = 0
	}
	var loss, total float64
	for _, i := range p.rows {
		s := p.weight[i]
		if s == 0 {
			continue
		}
		xi := p.x[i*d : (i+1)*d]
		logits(theta, xi, p.z)
		loss += s * rowLoss(p.z, p.labels[i], p.r)
		total += s
		for o, r := range p.r {
			if r != 0 {
				floats.AddScaled(gw[o*d:(o+1)*d], s*r, xi)
				gb[o] += s * r
			}
		}
	}
	alpha := 1 / (p.c * total)
	floats.Scale(1/total, grad)
	floats.AddScaled(gw, alpha, w)
	return loss/total + 0.5*alpha*floats.Dot(w, w)
}

// solution is the result of one solve.
type solution struct {
	theta      []float64
	iterations int
	converged  bool
}

// solve minimises the objective from theta0 by L-BFGS until the largest gradient entry is at
// most tol. It also stops when the line search can no longer decrease the objective in float64
// (converged if the gradient is then within roundingSlack·tol), or at MaxIterations.
func (p *problem) solve(ctx context.Context, theta0 []float64, tol float64) (solution, error) {
	n := len(theta0)
	last, grad := make([]float64, n), make([]float64, n)
	var lastF float64
	have := false
	eval := func(x []float64) float64 {
		if !have || !floats.Equal(x, last) {
			lastF = p.objective(x, grad)
			copy(last, x)
			have = true
		}
		return lastF
	}
	prob := optimize.Problem{
		Func: eval,
		Grad: func(g, x []float64) {
			eval(x)
			copy(g, grad)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: tol,
		MajorIterations:   MaxIterations,
		Converger:         optimize.NeverTerminate{},
	}
	method := &optimize.LBFGS{Store: lbfgsStore, Linesearcher: &optimize.MoreThuente{}, GradStopThreshold: math.NaN()}
	res, err := optimize.Minimize(prob, theta0, settings, method)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return solution{}, fmt.Errorf("head: logistic regression: %w", ctxErr)
	}
	if res == nil || res.X == nil {
		return solution{}, fmt.Errorf("head: logistic regression: %w", err)
	}
	sol := solution{theta: res.X, iterations: res.Stats.MajorIterations, converged: res.Status == optimize.GradientThreshold}
	if !sol.converged && (res.Status != optimize.IterationLimit || err != nil) {
		eval(res.X)
		sol.converged = floats.Norm(grad, math.Inf(1)) <= roundingSlack*tol
	}
	for _, v := range sol.theta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return solution{}, errors.New("head: logistic regression diverged (non-finite weights); check the features for huge values")
		}
	}
	return sol, nil
}

// Model is a fitted linear head: L2-regularised logistic regression on normalised features.
type Model struct {
	classes    int
	norm       Normalization
	std        standardizer
	d          int
	theta      []float64
	c          float64
	iterations int
	converged  bool
}

// Fit solves the L2-regularised logistic regression of scikit-learn's LogisticRegression
// (lbfgs, multinomial for three classes or more) on all rows of ds:
//
//	minimise 0.5·||W||² + C·Σ_i w_i·logloss_i   (intercepts not penalised)
//
// after normalising the features with norm (NormStandardize measures the rows' weighted mean
// and standard deviation). It stops at FitTolerance.
func Fit(ctx context.Context, ds Dataset, c float64, norm Normalization) (*Model, error) {
	d, err := ds.check()
	if err != nil {
		return nil, err
	}
	if err := checkC(c); err != nil {
		return nil, err
	}
	return fit(ctx, ds, d, c, norm, nil)
}

func checkC(c float64) error {
	if !(c > 0) || math.IsInf(c, 0) {
		return fmt.Errorf("head: regularisation C %v, want a finite C > 0", c)
	}
	return nil
}

// fit solves on all rows of the checked dataset ds from theta0 (nil: zeros).
func fit(ctx context.Context, ds Dataset, d int, c float64, norm Normalization, theta0 []float64) (*Model, error) {
	if norm < NormNone || norm > NormStandardize {
		return nil, fmt.Errorf("head: unknown normalization %d", int(norm))
	}
	rows := make([]int, len(ds.X))
	for i := range rows {
		rows[i] = i
	}
	weight := ds.weights()
	x, std := design(ds.X, d, norm, rows, weight)
	p := newProblem(x, d, rows, ds.Labels, weight, ds.Classes)
	p.c = c
	if theta0 == nil {
		theta0 = make([]float64, p.size())
	}
	sol, err := p.solve(ctx, theta0, FitTolerance)
	if err != nil {
		return nil, err
	}
	m := &Model{classes: ds.Classes, norm: norm, std: std, d: d, theta: sol.theta, c: c,
		iterations: sol.iterations, converged: sol.converged}
	m.centerIntercepts()
	return m, nil
}

// centerIntercepts makes the multinomial intercepts sum to zero (as scikit-learn's, which start
// at zero and keep their sum); probabilities do not change.
func (m *Model) centerIntercepts() {
	k := outputs(m.classes)
	if k == 1 {
		return
	}
	b := m.theta[k*m.d:]
	mean := floats.Sum(b) / float64(k)
	for o := range b {
		b[o] -= mean
	}
}

// Classes returns the number of classes.
func (m *Model) Classes() int { return m.classes }

// C returns the inverse regularisation strength the model was fitted with.
func (m *Model) C() float64 { return m.c }

// Normalization returns the feature normalisation the model applies.
func (m *Model) Normalization() Normalization { return m.norm }

// Iterations returns the number of L-BFGS iterations of the fit.
func (m *Model) Iterations() int { return m.iterations }

// Converged reports whether the fit reached FitTolerance (or came within 10 times of it where
// float64 could resolve no further decrease); false means it stopped at MaxIterations or where
// the line search failed further from the optimum.
func (m *Model) Converged() bool { return m.converged }

// Predict returns the class probabilities of each feature vector.
func (m *Model) Predict(x [][]float32) ([][]float64, error) {
	out := make([][]float64, len(x))
	row := make([]float64, m.d)
	z := make([]float64, outputs(m.classes))
	for i, xi := range x {
		if len(xi) != m.d {
			return nil, fmt.Errorf("head: feature row %d has length %d, the model was fitted on %d", i, len(xi), m.d)
		}
		for j, v := range xi {
			row[j] = float64(v)
		}
		switch m.norm {
		case NormL2:
			l2Normalize(row)
		case NormStandardize:
			m.std.apply(row)
		}
		logits(m.theta, row, z)
		out[i] = make([]float64, m.classes)
		probabilities(z, out[i])
	}
	return out, nil
}

// Weights are a fitted linear head as plain numbers. For a feature vector x of length D the
// head computes
//
//	u = x / sqrt(max(Σ_j x_j², 1e-12))   Normalization "l2" (tf.math.l2_normalize)
//	u_j = (x_j − Mean[j]) / Scale[j]     Normalization "standardize"
//	u = x                                Normalization "none"
//	z_o = B[o] + Σ_j u_j·W[j][o]
//
// and, with two classes (one output), P(class 1) = 1/(1+exp(−z_0)), P(class 0) = 1 − P(class 1);
// with K ≥ 3 classes (K outputs), P(class k) = exp(z_k) / Σ_o exp(z_o) (softmax).
type Weights struct {
	Classes       int           `json:"classes"`
	Normalization Normalization `json:"normalization"`
	Mean          []float64     `json:"mean,omitempty"`
	Scale         []float64     `json:"scale,omitempty"`
	// W is D×outputs: W[j][o] multiplies feature j in output o.
	W [][]float64 `json:"w"`
	// B holds the outputs' intercepts.
	B []float64 `json:"b"`
}

// Weights returns a copy of the model's parameters (see Weights for the formula).
func (m *Model) Weights() Weights {
	k := outputs(m.classes)
	w := Weights{Classes: m.classes, Normalization: m.norm, W: make([][]float64, m.d),
		B: append([]float64(nil), m.theta[k*m.d:]...)}
	for j := range w.W {
		w.W[j] = make([]float64, k)
		for o := range k {
			w.W[j][o] = m.theta[o*m.d+j]
		}
	}
	if m.norm == NormStandardize {
		w.Mean = append([]float64(nil), m.std.mean...)
		w.Scale = append([]float64(nil), m.std.scale...)
	}
	return w
}
