package report

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

const eps = 1e-9

func TestWilsonKnownValues(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{55, 58, 0.859, 0.982}, // the README's 0.948 [0.859, 0.982]
		// Wilson gives [0.9086, 0.9777] for 146/153; the brief's [0.900, 0.973] is 145/153's.
		{146, 153, 0.9086, 0.9777},
		{145, 153, 0.900, 0.973},
		{84, 100, 0.756, 0.899},
		{1, 2, 0.0945, 0.9055},
	} {
		lo, hi := Wilson(tc.k, tc.n, 0.95)
		require.InDelta(t, tc.lo, lo, 0.0005, "%d/%d low", tc.k, tc.n)
		require.InDelta(t, tc.hi, hi, 0.0005, "%d/%d high", tc.k, tc.n)
		p := float64(tc.k) / float64(tc.n)
		require.Less(t, lo, p)
		require.Greater(t, hi, p)
	}
	// A higher confidence level gives a wider interval.
	lo90, hi90 := Wilson(84, 100, 0.90)
	lo99, hi99 := Wilson(84, 100, 0.99)
	require.Greater(t, lo90, lo99)
	require.Less(t, hi90, hi99)
}

func TestWilsonEdges(t *testing.T) {
	lo, hi := Wilson(0, 20, 0.95)
	require.Equal(t, 0.0, lo)
	require.InDelta(t, 0.161, hi, 0.0005) // z²/(n+z²) = 3.8415/23.8415
	lo, hi = Wilson(20, 20, 0.95)
	require.InDelta(t, 0.839, lo, 0.0005)
	require.Equal(t, 1.0, hi)
	lo, hi = Wilson(0, 0, 0.95)
	require.Equal(t, 0.0, lo)
	require.Equal(t, 1.0, hi)
	for _, bad := range []struct {
		k, n int
		conf float64
	}{{-1, 5, 0.95}, {6, 5, 0.95}, {1, -1, 0.95}, {1, 5, 0}, {1, 5, 1}, {1, 5, math.NaN()}} {
		lo, hi := Wilson(bad.k, bad.n, bad.conf)
		require.True(t, math.IsNaN(lo) && math.IsNaN(hi), "%+v", bad)
	}
}

// twoClass turns positive-class probabilities into rows [1-p, p].
func twoClass(p1 ...float32) [][]float32 {
	out := make([][]float32, len(p1))
	for i, p := range p1 {
		out[i] = []float32{1 - p, p}
	}
	return out
}

func TestAUCExtremes(t *testing.T) {
	classes := []string{"benign", "malignant"}
	labels := []int{0, 0, 0, 1, 1}

	m, err := Score(classes, labels, twoClass(0.1, 0.2, 0.3, 0.8, 0.9), 1, 0)
	require.NoError(t, err)
	require.InDelta(t, 1, m.AUC, eps)

	m, err = Score(classes, labels, twoClass(0.8, 0.9, 0.7, 0.1, 0.2), 1, 0)
	require.NoError(t, err)
	require.InDelta(t, 0, m.AUC, eps)

	m, err = Score(classes, labels, twoClass(0.4, 0.4, 0.4, 0.4, 0.4), 1, 0)
	require.NoError(t, err)
	require.InDelta(t, 0.5, m.AUC, eps)
	require.Len(t, m.ROC, 1)
	// All tied: a single diagonal segment from (0,0) to (1,1).
	require.Equal(t, []float64{0, 1}, m.ROC[0].FPR)
	require.Equal(t, []float64{0, 1}, m.ROC[0].TPR)
}

func TestAUCTiesMannWhitney(t *testing.T) {
	// Positives score 0.8, 0.6, 0.4; negatives 0.6, 0.4, 0.2, 0.1.
	// Mann-Whitney U, counting a win 1 and a tie 1/2 over the 3*4 pairs:
	//   0.8 beats all 4 negatives              -> 4
	//   0.6 ties 0.6, beats 0.4, 0.2, 0.1      -> 3.5
	//   0.4 loses to 0.6, ties 0.4, beats 2    -> 2.5
	// U = 10, AUC = 10/12.
	classes := []string{"neg", "pos"}
	labels := []int{1, 0, 1, 0, 1, 0, 0}
	probs := twoClass(0.8, 0.6, 0.6, 0.4, 0.4, 0.2, 0.1)
	m, err := Score(classes, labels, probs, 1, 0)
	require.NoError(t, err)
	require.InDelta(t, 10.0/12, m.AUC, eps)
	require.InDelta(t, 10.0/12, m.ROC[0].AUC, eps)
	c := m.ROC[0]
	require.Equal(t, "pos", c.Class)
	require.Equal(t, 0.0, c.FPR[0])
	require.Equal(t, 0.0, c.TPR[0])
	require.Equal(t, 1.0, c.FPR[len(c.FPR)-1])
	require.Equal(t, 1.0, c.TPR[len(c.TPR)-1])
	// One point per distinct score plus the origin.
	require.Len(t, c.FPR, 6)
	// Order of examples does not matter.
	m2, err := Score(classes, []int{0, 0, 1, 1, 0, 1, 0}, twoClass(0.1, 0.4, 0.4, 0.6, 0.6, 0.8, 0.2), 1, 0)
	require.NoError(t, err)
	require.InDelta(t, m.AUC, m2.AUC, eps)
}

// mannWhitneyAUC is the brute-force pairwise AUC: wins count 1, ties 1/2.
func mannWhitneyAUC(pos, neg []float32) float64 {
	u := 0.0
	for _, p := range pos {
		for _, q := range neg {
			switch {
			case p > q:
				u++
			case p == q:
				u += 0.5
			}
		}
	}
	return u / float64(len(pos)*len(neg))
}

func TestAUCMatchesMannWhitneyRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 5 + r.IntN(40)
		labels := make([]int, n)
		p1 := make([]float32, n)
		var pos, neg []float32
		for i := range n {
			labels[i] = r.IntN(2)
			if i < 2 {
				labels[i] = i // both classes present
			}
			// Coarse scores so that ties are common.
			p1[i] = float32(r.IntN(6)) / 5
			if labels[i] == 1 {
				p1[i] = min(1, p1[i]+float32(r.IntN(2))/5)
				pos = append(pos, p1[i])
			} else {
				neg = append(neg, p1[i])
			}
		}
		m, err := Score([]string{"a", "b"}, labels, twoClass(p1...), 1, 0)
		require.NoError(t, err)
		// Scores of the positive class, as the ROC sees them: p1 as stored in the row.
		require.InDelta(t, mannWhitneyAUC(pos, neg), m.AUC, 1e-12, "trial %d", trial)
	}
}

func TestMultiClassMacroAUC(t *testing.T) {
	classes := []string{"a", "b", "c"}
	labels := []int{0, 0, 1, 1, 2, 2}
	probs := [][]float32{
		{0.7, 0.2, 0.1},
		{0.4, 0.5, 0.1},
		{0.3, 0.6, 0.1},
		{0.5, 0.3, 0.2},
		{0.1, 0.2, 0.7},
		{0.2, 0.2, 0.6},
	}
	// One-vs-rest, pairs won out of 2*4:
	//   a: positives 0.7, 0.4 vs 0.3, 0.5, 0.1, 0.2 -> 4 + 3 = 7
	//   b: positives 0.6, 0.3 vs 0.2, 0.5, 0.2, 0.2 -> 4 + 3 = 7
	//   c: positives 0.7, 0.6 vs 0.1, 0.1, 0.1, 0.2 -> 8
	m, err := Score(classes, labels, probs, 0, 0.9) // positive and threshold ignored
	require.NoError(t, err)
	require.InDelta(t, (7.0/8+7.0/8+1)/3, m.AUC, eps)
	require.Len(t, m.ROC, 3)
	for i, want := range []float64{7.0 / 8, 7.0 / 8, 1} {
		require.Equal(t, classes[i], m.ROC[i].Class)
		require.InDelta(t, want, m.ROC[i].AUC, eps)
	}

	// Argmax predictions: a, b, b, a, c, c.
	require.Equal(t, [][]int{{1, 1, 0}, {1, 1, 0}, {0, 0, 2}}, m.Confusion)
	require.Equal(t, 6, m.N)
	require.Equal(t, 4, m.Correct)
	require.InDelta(t, 4.0/6, m.Accuracy, eps)
	lo, hi := Wilson(4, 6, 0.95)
	require.Equal(t, lo, m.AccuracyLow)
	require.Equal(t, hi, m.AccuracyHigh)
	want := []ClassMetrics{
		{Class: "a", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
		{Class: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
		{Class: "c", Precision: 1, Recall: 1, F1: 1, Support: 2},
	}
	requireClassMetrics(t, want, m.PerClass)
	require.Empty(t, m.Positive)
	require.Zero(t, m.Threshold)

	b, err := json.Marshal(m)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, key := range []string{"positive", "threshold", "sensitivity", "specificity"} {
		require.NotContains(t, raw, key)
	}
}

func TestThreeClassPrecisionRecall(t *testing.T) {
	// Asymmetric: class "x" is over-predicted, "z" never predicted.
	classes := []string{"x", "y", "z"}
	labels := []int{0, 0, 1, 1, 1, 2, 2}
	probs := [][]float32{
		{0.8, 0.1, 0.1}, // x -> x
		{0.6, 0.3, 0.1}, // x -> x
		{0.5, 0.4, 0.1}, // y -> x
		{0.2, 0.7, 0.1}, // y -> y
		{0.1, 0.8, 0.1}, // y -> y
		{0.5, 0.2, 0.3}, // z -> x
		{0.2, 0.5, 0.3}, // z -> y
	}
	m, err := Score(classes, labels, probs, 0, 0)
	require.NoError(t, err)
	require.Equal(t, [][]int{{2, 0, 0}, {1, 2, 0}, {1, 1, 0}}, m.Confusion)
	require.Equal(t, 4, m.Correct)
	// x: P = 2/4, R = 2/2, F1 = 2*0.5*1/1.5 = 2/3
	// y: P = 2/3, R = 2/3, F1 = 2/3
	// z: never predicted: P = 0 (zero_division=0), R = 0, F1 = 0
	requireClassMetrics(t, []ClassMetrics{
		{Class: "x", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 2},
		{Class: "y", Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3, Support: 3},
		{Class: "z", Precision: 0, Recall: 0, F1: 0, Support: 2},
	}, m.PerClass)
}

func requireClassMetrics(t *testing.T, want, got []ClassMetrics) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Class, got[i].Class)
		require.Equal(t, want[i].Support, got[i].Support, want[i].Class)
		require.InDelta(t, want[i].Precision, got[i].Precision, eps, "%s precision", want[i].Class)
		require.InDelta(t, want[i].Recall, got[i].Recall, eps, "%s recall", want[i].Class)
		require.InDelta(t, want[i].F1, got[i].F1, eps, "%s F1", want[i].Class)
	}
}

// binaryCase: labels 1 are the "malignant" class; scores are p(malignant).
var (
	binClasses = []string{"benign", "malignant"}
	binLabels  = []int{1, 1, 1, 0, 0, 0, 0, 1}
	binP1      = []float32{0.9, 0.7, 0.35, 0.6, 0.28, 0.2, 0.45, 0.25}
)

func TestTwoClassPrecisionRecall(t *testing.T) {
	m, err := Score(binClasses, binLabels, twoClass(binP1...), 1, 0)
	require.NoError(t, err)
	// Predicted malignant (p >= 0.5): examples 0, 1, 3.
	// TP = 2 (0, 1), FN = 2 (2, 7), FP = 1 (3), TN = 3 (4, 5, 6).
	require.Equal(t, [][]int{{3, 1}, {2, 2}}, m.Confusion)
	require.Equal(t, 5, m.Correct)
	require.InDelta(t, 5.0/8, m.Accuracy, eps)
	// benign: P = 3/5, R = 3/4, F1 = 2*0.6*0.75/1.35 = 2/3
	// malignant: P = 2/3, R = 1/2, F1 = 2*(2/3)*(1/2)/(7/6) = 4/7
	requireClassMetrics(t, []ClassMetrics{
		{Class: "benign", Precision: 0.6, Recall: 0.75, F1: 2.0 / 3, Support: 4},
		{Class: "malignant", Precision: 2.0 / 3, Recall: 0.5, F1: 4.0 / 7, Support: 4},
	}, m.PerClass)
	require.Equal(t, "malignant", m.Positive)
	require.Equal(t, 0.5, m.Threshold)
	require.InDelta(t, 0.5, m.Sensitivity, eps)
	require.InDelta(t, 0.75, m.Specificity, eps)
	// Pairs won: 0.9 -> 4, 0.7 -> 4, 0.35 -> 2 (0.28, 0.2), 0.25 -> 1 (0.2); 11 of 16.
	require.InDelta(t, 11.0/16, m.AUC, eps)
}

func TestTwoClassThresholdAndPositive(t *testing.T) {
	probs := twoClass(binP1...)
	for _, tc := range []struct {
		name       string
		positive   int
		threshold  float64
		sens, spec float64
	}{
		// p(malignant) >= 0.3: examples 0, 1, 2, 3, 6 -> TP 3 of 4, FP 2 of 4.
		{"malignant at 0.3", 1, 0.3, 0.75, 0.5},
		// p(malignant) >= 0.8: example 0 only.
		{"malignant at 0.8", 1, 0.8, 0.25, 1},
		{"malignant at 0.5", 1, 0.5, 0.5, 0.75},
		// Positive benign, same 0.5 cut: the two rates swap.
		{"benign at 0.5", 0, 0.5, 0.75, 0.5},
		// p(benign) = 0.1 0.3 0.65 0.4 0.72 0.8 0.55 0.75; >= 0.7: examples 4, 5, 7.
		// Benign (label 0) are 3, 4, 5, 6: TP 2 of 4; malignant 0, 1, 2, 7: FP 1 of 4.
		{"benign at 0.7", 0, 0.7, 0.5, 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Score(binClasses, binLabels, probs, tc.positive, tc.threshold)
			require.NoError(t, err)
			require.Equal(t, binClasses[tc.positive], m.Positive)
			require.Equal(t, tc.threshold, m.Threshold)
			require.InDelta(t, tc.sens, m.Sensitivity, eps)
			require.InDelta(t, tc.spec, m.Specificity, eps)
			require.Equal(t, m.PerClass[tc.positive].Recall, m.Sensitivity)
			require.Equal(t, m.PerClass[1-tc.positive].Recall, m.Specificity)
			// The ranking is the same read from either column: AUC does not move.
			require.InDelta(t, 11.0/16, m.AUC, 1e-6)
			require.Equal(t, binClasses[tc.positive], m.ROC[0].Class)
		})
	}
}

func TestAbsentClassNaNAUC(t *testing.T) {
	// Three classes, "c" absent from the labels.
	m, err := Score([]string{"a", "b", "c"}, []int{0, 1, 0, 1},
		[][]float32{{0.8, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.6, 0.3, 0.1}, {0.3, 0.3, 0.4}}, 0, 0)
	require.NoError(t, err)
	require.True(t, math.IsNaN(m.AUC))
	require.Len(t, m.ROC, 2) // only the defined curves
	require.Equal(t, []string{"a", "b"}, []string{m.ROC[0].Class, m.ROC[1].Class})
	require.Equal(t, 0, m.PerClass[2].Support)
	require.Equal(t, 0.0, m.PerClass[2].Recall)
	require.Equal(t, 0.0, m.PerClass[2].Precision) // predicted once, never right

	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.True(t, json.Valid(b))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Contains(t, raw, "auc")
	require.Nil(t, raw["auc"])
	var back Metrics
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, math.IsNaN(back.AUC))
	require.Equal(t, m.Confusion, back.Confusion)

	// Two classes, one absent: NaN, no curve, still valid JSON with the two-class fields.
	m, err = Score(binClasses, []int{0, 0, 0}, twoClass(0.1, 0.7, 0.2), 1, 0)
	require.NoError(t, err)
	require.True(t, math.IsNaN(m.AUC))
	require.Empty(t, m.ROC)
	require.Equal(t, 0.0, m.Sensitivity) // no positives: recall 0 by convention
	require.InDelta(t, 2.0/3, m.Specificity, eps)
	b, err = json.Marshal(&m)
	require.NoError(t, err)
	require.True(t, json.Valid(b))
	raw = nil
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Nil(t, raw["auc"])
	require.Equal(t, 0.0, raw["sensitivity"]) // written even though zero
	require.Equal(t, "malignant", raw["positive"])
}

func TestMetricsJSONRoundTrip(t *testing.T) {
	m, err := Score(binClasses, binLabels, twoClass(binP1...), 1, 0.3)
	require.NoError(t, err)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, key := range []string{"n", "correct", "accuracy", "accuracy_low", "accuracy_high", "auc", "per_class",
		"confusion", "positive", "threshold", "sensitivity", "specificity"} {
		require.Contains(t, raw, key)
	}
	require.NotContains(t, raw, "ROC")
	pc := raw["per_class"].([]any)[0].(map[string]any)
	for _, key := range []string{"class", "precision", "recall", "f1", "support"} {
		require.Contains(t, pc, key)
	}
	var back Metrics
	require.NoError(t, json.Unmarshal(b, &back))
	m.ROC, m.PR = nil, nil
	require.Equal(t, m, back)
}

func TestEvaluateErrors(t *testing.T) {
	two := []string{"a", "b"}
	for _, tc := range []struct {
		name      string
		classes   []string
		labels    []int
		probs     [][]float32
		positive  int
		threshold float64
	}{
		{"empty", two, nil, nil, 1, 0},
		{"one class", []string{"a"}, []int{0}, [][]float32{{1}}, 0, 0},
		{"more labels than rows", two, []int{0, 1}, twoClass(0.3), 1, 0},
		{"more rows than labels", two, []int{0}, twoClass(0.3, 0.4), 1, 0},
		{"short row", two, []int{0, 1}, [][]float32{{0.5, 0.5}, {1}}, 1, 0},
		{"label too big", two, []int{0, 2}, twoClass(0.3, 0.4), 1, 0},
		{"negative label", two, []int{-1, 1}, twoClass(0.3, 0.4), 1, 0},
		{"NaN probability", two, []int{0, 1}, [][]float32{{0.5, 0.5}, {float32(math.NaN()), 0.5}}, 1, 0},
		{"positive out of range", two, []int{0, 1}, twoClass(0.3, 0.4), 2, 0},
		{"threshold above 1", two, []int{0, 1}, twoClass(0.3, 0.4), 1, 1.5},
		{"negative threshold", two, []int{0, 1}, twoClass(0.3, 0.4), 1, -0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Score(tc.classes, tc.labels, tc.probs, tc.positive, tc.threshold)
			require.Error(t, err)
		})
	}
}
