package report

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// A small binary set worked by hand: positives 0.9, 0.8, 0.4 and negatives 0.7, 0.4, 0.2, 0.1.
var (
	dlPos    = []bool{true, true, true, false, false, false, false}
	dlScores = []float64{0.9, 0.8, 0.4, 0.7, 0.4, 0.2, 0.1}
)

func TestDeLongByHand(t *testing.T) {
	e, err := DeLong(dlPos, dlScores, 0.95)
	require.NoError(t, err)
	// Structural components: V10 = 1, 1, 0.625 (0.4 ties one negative); V01 = 2/3, 5/6, 1, 1.
	require.InDelta(t, 0.875, e.Value, eps)
	s10 := (2*0.125*0.125 + 0.25*0.25) / 2
	d := []float64{2.0/3 - 0.875, 5.0/6 - 0.875, 0.125, 0.125}
	s01 := (d[0]*d[0] + d[1]*d[1] + d[2]*d[2] + d[3]*d[3]) / 3
	half := distuv.UnitNormal.Quantile(0.975) * math.Sqrt(s10/3+s01/4)
	require.InDelta(t, 0.875-half, e.Low, eps)
	require.Equal(t, 1.0, e.High, "clipped at 1")

	narrow, err := DeLong(dlPos, dlScores, 0.5)
	require.NoError(t, err)
	require.Greater(t, narrow.Low, e.Low, "a lower level gives a narrower interval")
}

func TestDeLongEdges(t *testing.T) {
	// Perfect separation: DeLong's variance is 0.
	e, err := DeLong([]bool{true, true, false, false}, []float64{0.9, 0.8, 0.2, 0.1}, 0.95)
	require.NoError(t, err)
	require.Equal(t, Estimate{1, 1, 1}, e)
	// One positive: the AUC is defined, its variance is not.
	e, err = DeLong([]bool{true, false, false}, []float64{0.5, 0.9, 0.1}, 0.95)
	require.NoError(t, err)
	require.InDelta(t, 0.5, e.Value, eps)
	require.True(t, math.IsNaN(e.Low) && math.IsNaN(e.High))
	// All tied: AUC 1/2.
	e, err = DeLong([]bool{true, false, true, false}, []float64{0.3, 0.3, 0.3, 0.3}, 0.95)
	require.NoError(t, err)
	require.InDelta(t, 0.5, e.Value, eps)

	for name, tc := range map[string]struct {
		pos    []bool
		scores []float64
		conf   float64
	}{
		"no negatives":  {[]bool{true, true}, []float64{0.1, 0.2}, 0.95},
		"no positives":  {[]bool{false, false}, []float64{0.1, 0.2}, 0.95},
		"length":        {[]bool{true, false}, []float64{0.1}, 0.95},
		"NaN score":     {[]bool{true, false}, []float64{math.NaN(), 0.2}, 0.95},
		"level 1":       {[]bool{true, false}, []float64{0.1, 0.2}, 1},
		"empty":         {nil, nil, 0.95},
		"infinite":      {[]bool{true, false}, []float64{math.Inf(1), 0.2}, 0.95},
		"level NaN":     {[]bool{true, false}, []float64{0.1, 0.2}, math.NaN()},
		"negative conf": {[]bool{true, false}, []float64{0.1, 0.2}, -0.5},
	} {
		_, err := DeLong(tc.pos, tc.scores, tc.conf)
		require.Error(t, err, name)
	}
}

func TestMidranks(t *testing.T) {
	require.Equal(t, []float64{3, 1.5, 4, 1.5}, midranks([]float64{0.5, 0.2, 0.9, 0.2}))
}

func TestPrecisionRecallByHand(t *testing.T) {
	// 0.9 P, 0.8 N, 0.7 P and N tied, 0.3 P.
	c, err := PrecisionRecall([]bool{true, false, true, false, true}, []float64{0.9, 0.8, 0.7, 0.7, 0.3})
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1}, c.Recall, eps)
	require.InDeltaSlice(t, []float64{1, 1, 0.5, 0.5, 0.6}, c.Precision, eps)
	require.Equal(t, []float64{0.9, 0.8, 0.7, 0.3}, c.Thresholds)
	require.InDelta(t, (1+0.5+0.6)/3, c.AP, eps)
	require.InDelta(t, 0.6, c.Prevalence, eps)

	_, err = PrecisionRecall([]bool{false, false}, []float64{0.1, 0.2})
	require.Error(t, err)
}

func TestReliabilityByHand(t *testing.T) {
	pos := []bool{false, false, true, false, true}
	scores := []float64{0, 0.1, 0.5, 0.55, 1}
	for _, quantile := range []bool{false, true} { // the median is 0.5, so both split at 0.5
		bins, err := Reliability(pos, scores, 2, quantile)
		require.NoError(t, err)
		require.Len(t, bins, 2)
		require.Equal(t, 3, bins[0].N, "0.5 on the edge falls in the lower bin")
		require.InDelta(t, 0.2, bins[0].MeanScore, eps)
		require.InDelta(t, 1.0/3, bins[0].Observed, eps)
		require.Equal(t, 2, bins[1].N)
		require.InDelta(t, 0.775, bins[1].MeanScore, eps)
		require.InDelta(t, 0.5, bins[1].Observed, eps)
		require.InDelta(t, 0.5, bins[1].Low, eps)
		require.Equal(t, 1.0, bins[1].High)
	}
	bins, err := Reliability(pos, scores, 5, false)
	require.NoError(t, err)
	require.Len(t, bins, 3, "empty bins are left out")
	require.InDelta(t, 0.4, bins[1].Low, eps)
	require.Equal(t, 2, bins[1].N)

	_, err = Reliability(pos, scores, 0, false)
	require.Error(t, err)
	_, err = Reliability([]bool{true}, []float64{1.2}, 10, false)
	require.Error(t, err)
}

// Positives 0.9, 0.8, 0.6, 0.3; negatives 0.7, 0.4, 0.2, 0.1.
var (
	opPos    = []bool{true, true, true, true, false, false, false, false}
	opScores = []float64{0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1}
)

func TestOperatingPointAt(t *testing.T) {
	op, err := OperatingPointAt(opPos, opScores, 0.5, 0.95)
	require.NoError(t, err)
	require.Equal(t, [4]int{3, 1, 3, 1}, [4]int{op.TP, op.FN, op.TN, op.FP})
	lo, hi := Wilson(3, 4, 0.95)
	for _, e := range []Estimate{op.Sensitivity, op.Specificity, op.PPV, op.NPV} {
		require.Equal(t, Estimate{0.75, lo, hi}, e)
	}
	// Above every score nothing is called positive: PPV is undefined.
	op, err = OperatingPointAt(opPos, opScores, 0.95, 0.95)
	require.NoError(t, err)
	require.True(t, math.IsNaN(op.PPV.Value))
	require.Equal(t, [2]float64{0, 1}, [2]float64{op.PPV.Low, op.PPV.High})
	require.Equal(t, 0.0, op.Sensitivity.Value)

	_, err = OperatingPointAt(opPos, opScores, math.NaN(), 0.95)
	require.Error(t, err)
}

func TestThresholdForSensitivity(t *testing.T) {
	for target, want := range map[float64]float64{0.9: 0.3, 0.75: 0.6, 0.5: 0.8, 0.2: 0.9, 1: 0.3} {
		got, err := ThresholdForSensitivity(opPos, opScores, target)
		require.NoError(t, err)
		require.Equal(t, want, got, "target %v", target)
	}
	// 0.9 of 10 positives is 9 of them, not 10 by rounding.
	var pos []bool
	var scores []float64
	for i := 1; i <= 10; i++ {
		pos, scores = append(pos, true), append(scores, float64(i)/10)
	}
	got, err := ThresholdForSensitivity(pos, scores, 0.9)
	require.NoError(t, err)
	require.Equal(t, 0.2, got)

	for _, bad := range []float64{0, 1.1, math.NaN()} {
		_, err := ThresholdForSensitivity(opPos, opScores, bad)
		require.Error(t, err, "target %v", bad)
	}
	_, err = ThresholdForSensitivity([]bool{false}, []float64{0.5}, 0.9)
	require.Error(t, err)
}

func TestYoudenThreshold(t *testing.T) {
	// J is 0.5 at 0.8, 0.6 and 0.3; ties go to the highest.
	got, err := YoudenThreshold(opPos, opScores)
	require.NoError(t, err)
	require.Equal(t, 0.8, got)
	_, err = YoudenThreshold([]bool{true, true}, []float64{0.1, 0.2})
	require.Error(t, err)
}

func TestOperatingPointsTable(t *testing.T) {
	ops, err := OperatingPoints(opPos, opScores, 0.5)
	require.NoError(t, err)
	require.Len(t, ops, 4)
	var rules []string
	for _, op := range ops {
		rules = append(rules, op.Rule)
	}
	require.Equal(t, []string{"threshold in use", "sensitivity >= 0.90", "sensitivity >= 0.95", "Youden's J"}, rules)
	require.False(t, ops[0].Optimistic)
	require.Equal(t, 0.5, ops[0].Threshold)
	for _, op := range ops[1:] {
		require.True(t, op.Optimistic, op.Rule)
	}
	require.Equal(t, 0.3, ops[1].Threshold)
	require.Equal(t, 1.0, ops[2].Sensitivity.Value)
	require.Equal(t, 0.8, ops[3].Threshold)
}

func TestEstimateJSON(t *testing.T) {
	b, err := json.Marshal(Estimate{0.5, math.NaN(), 0.7})
	require.NoError(t, err)
	require.JSONEq(t, `{"value":0.5,"low":null,"high":0.7}`, string(b))
	var back Estimate
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, 0.5, back.Value)
	require.True(t, math.IsNaN(back.Low))
	require.Equal(t, 0.7, back.High)
}

func TestEvaluateBinaryExtras(t *testing.T) {
	labels := []int{1, 1, 1, 1, 0, 0, 0, 0}
	var p1 []float32
	for _, s := range opScores {
		p1 = append(p1, float32(s))
	}
	m, err := Score(binClasses, labels, twoClass(p1...), 1, 0.5)
	require.NoError(t, err)
	scores := make([]float64, len(p1))
	for i, p := range p1 {
		scores[i] = float64(p)
	}
	want, err := DeLong(opPos, scores, 0.95)
	require.NoError(t, err)
	require.InDelta(t, want.Value, m.AUC, eps)
	require.Equal(t, [2]float64{want.Low, want.High}, [2]float64{m.AUCLow, m.AUCHigh})
	require.Equal(t, want, m.PerClass[1].AUC)
	require.Len(t, m.PR, 1)
	require.Equal(t, m.PR[0].AP, m.AveragePrecision)
	brier := 0.0
	for i, s := range scores {
		y := float64(labels[i])
		brier += (s - y) * (s - y)
	}
	require.InDelta(t, brier/8, m.Brier, 1e-7)
	require.Len(t, m.OperatingPoints, 4)
	require.Equal(t, m.Sensitivity, m.OperatingPoints[0].Sensitivity.Value)
	lo, hi := Wilson(3, 4, 0.95)
	require.Equal(t, [2]float64{lo, hi}, [2]float64{m.PerClass[1].RecallLow, m.PerClass[1].RecallHigh})
	n := 0
	for _, b := range m.Calibration {
		n += b.N
	}
	require.Equal(t, 8, n)
}

func TestEvaluateMultiClassJSONWithAbsentClass(t *testing.T) {
	probs := [][]float32{{0.7, 0.2, 0.1}, {0.2, 0.7, 0.1}, {0.6, 0.3, 0.1}, {0.3, 0.6, 0.1}}
	m, err := Score([]string{"a", "b", "c"}, []int{0, 1, 0, 1}, probs, 0, 0)
	require.NoError(t, err)
	require.True(t, math.IsNaN(m.AUC) && math.IsNaN(m.AveragePrecision))
	require.Len(t, m.ROC, 2)
	require.Len(t, m.PR, 2)
	require.Nil(t, m.OperatingPoints)
	// Top-label reliability: the predicted class's probabilities (0.6 and 0.7 as float32, in one
	// bin), all right.
	require.Len(t, m.Calibration, 1)
	require.Equal(t, 4, m.Calibration[0].N)
	require.Equal(t, 1.0, m.Calibration[0].Observed)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, key := range []string{"auc", "auc_low", "auc_high", "average_precision"} {
		require.Contains(t, raw, key)
		require.Nil(t, raw[key], key)
	}
	require.NotContains(t, raw, "operating_points")
	c := raw["per_class"].([]any)[2].(map[string]any)
	require.Equal(t, map[string]any{"value": nil, "low": nil, "high": nil}, c["auc"])
	require.Equal(t, 1.0, c["recall_high"])
}
