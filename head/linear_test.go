package head

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
)

// The analytic gradient of the objective agrees with central finite differences, for the
// sigmoid and the softmax, with row weights.
func TestObjectiveGradientMatchesFiniteDifferences(t *testing.T) {
	for _, classes := range []int{2, 3} {
		ds := synthetic(2, 30, 6, classes, 1)
		r := rand.New(rand.NewPCG(5, 6))
		weight := make([]float64, len(ds.X))
		rows := make([]int, len(ds.X))
		for i := range weight {
			weight[i], rows[i] = 0.2+r.Float64(), i
		}
		x, _ := design(ds.X, 6, NormNone, rows, weight)
		p := newProblem(x, 6, rows, ds.Labels, weight, classes)
		p.c = 0.7
		theta := make([]float64, p.size())
		for i := range theta {
			theta[i] = r.NormFloat64()
		}
		grad := make([]float64, len(theta))
		p.objective(theta, grad)
		scratch := make([]float64, len(theta))
		for i := range theta {
			const h = 1e-6
			orig := theta[i]
			theta[i] = orig + h
			fp := p.objective(theta, scratch)
			theta[i] = orig - h
			fm := p.objective(theta, scratch)
			theta[i] = orig
			numeric := (fp - fm) / (2 * h)
			require.InDelta(t, numeric, grad[i], 1e-7+1e-6*math.Abs(numeric), "classes %d, parameter %d", classes, i)
		}
	}
}

// Fit stops at a point where the gradient is within FitTolerance (up to the rounding slack), the objective is lower than
// at nearby points, and the multinomial intercepts sum to zero.
func TestFitConverges(t *testing.T) {
	for _, classes := range []int{2, 4} {
		ds := synthetic(3, 120, 10, classes, 1)
		m, err := Fit(context.Background(), ds, 2, NormNone)
		require.NoError(t, err)
		require.True(t, m.Converged(), "classes %d: %d iterations", classes, m.Iterations())
		rows := make([]int, len(ds.X))
		for i := range rows {
			rows[i] = i
		}
		x, _ := design(ds.X, 10, NormNone, rows, ds.weights())
		p := newProblem(x, 10, rows, ds.Labels, ds.weights(), classes)
		p.c = 2
		grad := make([]float64, p.size())
		f := p.objective(m.theta, grad)
		require.LessOrEqual(t, floats.Norm(grad, math.Inf(1)), roundingSlack*FitTolerance)
		r := rand.New(rand.NewPCG(1, 2))
		for range 10 {
			moved := append([]float64(nil), m.theta...)
			for i := range moved {
				moved[i] += 1e-3 * r.NormFloat64()
			}
			require.Greater(t, p.objective(moved, grad), f)
		}
		if classes > 2 {
			require.InDelta(t, 0, floats.Sum(m.Weights().B), 1e-12)
		}
	}
}

// On linearly separable data the unregularised optimum is at infinity; the L2 penalty keeps the
// weights finite, within the bound 0.5·||W||² <= C·n·log 2 (the objective at zero).
func TestSeparableDataStaysFinite(t *testing.T) {
	ds := synthetic(4, 40, 8, 2, 20)
	var last float64
	for _, c := range []float64{1, 100, 1e4} {
		m, err := Fit(context.Background(), ds, c, NormNone)
		require.NoError(t, err)
		w := m.theta[:8]
		norm := floats.Norm(w, 2)
		require.LessOrEqual(t, 0.5*norm*norm, c*40*math.Ln2, "C=%g", c)
		require.Greater(t, norm, last, "C=%g: weaker regularisation must let the weights grow", c)
		last = norm
		probs, err := m.Predict(ds.X)
		require.NoError(t, err)
		for i, p := range probs {
			require.Greater(t, p[ds.Labels[i]], 0.5, "row %d", i)
		}
	}
}

// Predict follows the formula documented on Weights, for every normalisation, and Weights
// survive JSON.
func TestWeightsFormula(t *testing.T) {
	for _, classes := range []int{2, 3} {
		for _, norm := range []Normalization{NormNone, NormL2, NormStandardize} {
			ds := synthetic(5, 60, 7, classes, 1)
			m, err := Fit(context.Background(), ds, 0.5, norm)
			require.NoError(t, err)
			var w Weights
			b, err := json.Marshal(m.Weights())
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &w))
			require.Equal(t, m.Weights(), w)
			require.Equal(t, norm, w.Normalization)
			probs, err := m.Predict(ds.X)
			require.NoError(t, err)
			for i, x := range ds.X {
				u := make([]float64, len(x))
				var ss float64
				for j, v := range x {
					u[j] = float64(v)
					ss += u[j] * u[j]
				}
				for j := range u {
					switch norm {
					case NormL2:
						u[j] /= math.Sqrt(math.Max(ss, 1e-12))
					case NormStandardize:
						u[j] = (u[j] - w.Mean[j]) / w.Scale[j]
					}
				}
				z := append([]float64(nil), w.B...)
				for j := range u {
					for o := range z {
						z[o] += u[j] * w.W[j][o]
					}
				}
				want := make([]float64, classes)
				if classes == 2 {
					want[1] = 1 / (1 + math.Exp(-z[0]))
					want[0] = 1 - want[1]
				} else {
					var s float64
					for o := range z {
						want[o] = math.Exp(z[o])
						s += want[o]
					}
					for o := range want {
						want[o] /= s
					}
				}
				require.InDeltaSlice(t, want, probs[i], 1e-12, "classes %d, %s, row %d", classes, norm, i)
			}
		}
	}
}

// Standardisation uses the rows' weighted mean and population standard deviation; a constant
// feature is only centred.
func TestStandardizer(t *testing.T) {
	x := []float64{1, 5, 3, 5, 5, 5}
	s := fitStandardizer(x, 2, []int{0, 1, 2}, []float64{1, 2, 1})
	require.InDeltaSlice(t, []float64{3, 5}, s.mean, 1e-15)
	require.InDeltaSlice(t, []float64{math.Sqrt(2), 1}, s.scale, 1e-15)
	row := []float64{4, 6}
	s.apply(row)
	require.InDeltaSlice(t, []float64{1 / math.Sqrt(2), 1}, row, 1e-15)
}

func TestNormalizationNames(t *testing.T) {
	for _, n := range []Normalization{NormNone, NormL2, NormStandardize} {
		got, err := ParseNormalization(n.String())
		require.NoError(t, err)
		require.Equal(t, n, got)
	}
	_, err := ParseNormalization("zscore")
	require.ErrorContains(t, err, "want none, l2 or standardize")
	_, err = Normalization(7).MarshalText()
	require.Error(t, err)
}

func TestFitRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	good := synthetic(6, 10, 3, 2, 1)
	for name, tc := range map[string]struct {
		edit func(*Dataset)
		c    float64
		want string
	}{
		"one class":      {func(d *Dataset) { d.Classes = 1 }, 1, "need at least 2"},
		"label range":    {func(d *Dataset) { d.Labels[3] = 2 }, 1, "row 3 has label 2"},
		"ragged":         {func(d *Dataset) { d.X[4] = d.X[4][:2] }, 1, "row 4 has length 2"},
		"nan":            {func(d *Dataset) { d.X[1][0] = float32(math.NaN()) }, 1, "entry 0 is NaN"},
		"weights length": {func(d *Dataset) { d.Weights = []float64{1} }, 1, "1 weights for 10"},
		"negative":       {func(d *Dataset) { d.Weights = make([]float64, 10); d.Weights[0] = -1 }, 1, "weight -1"},
		"absent class":   {func(d *Dataset) { d.Weights = make([]float64, 10); d.Weights[0] = 1 }, 1, "class 1 has no row"},
		"bad C":          {func(*Dataset) {}, 0, "want a finite C > 0"},
	} {
		ds := synthetic(6, 10, 3, 2, 1)
		tc.edit(&ds)
		_, err := Fit(ctx, ds, tc.c, NormNone)
		require.ErrorContains(t, err, tc.want, name)
	}
	m, err := Fit(ctx, good, 1, NormNone)
	require.NoError(t, err)
	_, err = m.Predict([][]float32{{1, 2}})
	require.ErrorContains(t, err, "fitted on 3")
}

func TestFitHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Fit(ctx, synthetic(7, 50, 5, 2, 1), 1, NormL2)
	require.ErrorIs(t, err, context.Canceled)
}
