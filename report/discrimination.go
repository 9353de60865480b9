package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimate is a value with a confidence interval. Any of the three is NaN when undefined, and
// then null in JSON.
type Estimate struct {
	Value, Low, High float64
}

type estimateJSON struct {
	Value *float64 `json:"value"`
	Low   *float64 `json:"low"`
	High  *float64 `json:"high"`
}

// MarshalJSON writes {"value", "low", "high"}, NaN as null.
func (e Estimate) MarshalJSON() ([]byte, error) {
	return json.Marshal(estimateJSON{nullable(e.Value), nullable(e.Low), nullable(e.High)})
}

// UnmarshalJSON reads what MarshalJSON writes; null or missing becomes NaN.
func (e *Estimate) UnmarshalJSON(b []byte) error {
	var j estimateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Estimate{fromNullable(j.Value), fromNullable(j.Low), fromNullable(j.High)}
	return nil
}

// nullable is nil for NaN, else a pointer to a copy of x.
func nullable(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

func fromNullable(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// proportion is k/n with its Wilson interval at conf; the value is NaN when n is 0.
func proportion(k, n int, conf float64) Estimate {
	lo, hi := Wilson(k, n, conf)
	if n == 0 {
		return Estimate{math.NaN(), lo, hi}
	}
	return Estimate{float64(k) / float64(n), lo, hi}
}

// checkScores reports a length mismatch or a non-finite score, and counts the positives.
func checkScores(positive []bool, scores []float64) (nPos int, err error) {
	if len(positive) != len(scores) {
		return 0, fmt.Errorf("%d labels but %d scores", len(positive), len(scores))
	}
	if len(scores) == 0 {
		return 0, errors.New("no examples")
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, fmt.Errorf("example %d has score %v", i, s)
		}
		if positive[i] {
			nPos++
		}
	}
	return nPos, nil
}

// DeLong returns the ROC AUC of scores for telling the positive examples from the others, with
// its two-sided confidence interval at level conf (e.g. 0.95) by the method of DeLong, DeLong and
// Clarke-Pearson (Biometrics 1988): the variance of the AUC, a two-sample U statistic, is
// estimated from its structural components, computed from midranks (Sun and Xu, 2014), and the
// interval is AUC -/+ z*SE clipped to [0, 1]. Tied scores count 1/2.
//
// The interval is NaN when there is only one positive or one negative example. When the two
// classes are perfectly separated it has zero width: DeLong's variance estimate is then 0, which
// says more about the sample's size than the model's certainty. It returns an error when there are
// no positives or no negatives, scores and labels differ in length, a score is not finite, or conf
// is not strictly between 0 and 1.
func DeLong(positive []bool, scores []float64, conf float64) (Estimate, error) {
	if !(conf > 0 && conf < 1) {
		return Estimate{}, fmt.Errorf("delong: confidence level %v, want strictly between 0 and 1", conf)
	}
	nPos, err := checkScores(positive, scores)
	if err != nil {
		return Estimate{}, fmt.Errorf("delong: %w", err)
	}
	m, n := nPos, len(scores)-nPos
	if m == 0 || n == 0 {
		return Estimate{}, fmt.Errorf("delong: %d positive and %d negative examples, need both", m, n)
	}
	x := make([]float64, 0, m) // positive scores
	y := make([]float64, 0, n)
	for i, s := range scores {
		if positive[i] {
			x = append(x, s)
		} else {
			y = append(y, s)
		}
	}
	tz := midranks(append(slices.Clone(x), y...))
	tx, ty := midranks(x), midranks(y)
	mf, nf := float64(m), float64(n)
	v10 := make([]float64, m) // per positive: the fraction of negatives it outscores
	v01 := make([]float64, n) // per negative: the fraction of positives that outscore it
	sum := 0.0
	for i := range m {
		v10[i] = (tz[i] - tx[i]) / nf
		sum += v10[i]
	}
	for j := range n {
		v01[j] = 1 - (tz[m+j]-ty[j])/mf
	}
	auc := sum / mf
	if m < 2 || n < 2 {
		return Estimate{auc, math.NaN(), math.NaN()}, nil
	}
	se := math.Sqrt(sampleVariance(v10)/mf + sampleVariance(v01)/nf)
	z := distuv.UnitNormal.Quantile(1 - (1-conf)/2)
	return Estimate{auc, math.Max(0, auc-z*se), math.Min(1, auc+z*se)}, nil
}

// midranks are the 1-based ranks of x, ties sharing their mean rank.
func midranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // the mean of i+1..j
		for _, k := range idx[i:j] {
			r[k] = rank
		}
		i = j
	}
	return r
}

// sampleVariance is the unbiased variance of x (len(x) >= 2).
func sampleVariance(x []float64) float64 {
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return ss / float64(len(x)-1)
}

// PRCurve is a precision-recall curve: precision against recall as the threshold on the score
// falls through every distinct score, as scikit-learn's precision_recall_curve.
type PRCurve struct {
	// Class is the positive class of the curve.
	Class string `json:"class"`
	// Recall and Precision are the curve's points, recall ascending. The first point is (0, 1),
	// before any example is called positive; point i > 0 is at Thresholds[i-1].
	Recall    []float64 `json:"recall"`
	Precision []float64 `json:"precision"`
	// Thresholds are the distinct scores, descending.
	Thresholds []float64 `json:"thresholds"`
	// AP is the average precision, sum over points of (R_i - R_{i-1}) P_i: the area under the
	// curve drawn as a step function, without interpolation (scikit-learn's definition).
	AP float64 `json:"average_precision"`
	// Prevalence is the fraction of positive examples: the precision of a model without skill.
	Prevalence float64 `json:"prevalence"`
}

// PrecisionRecall returns the precision-recall curve and average precision of scores for the
// positive examples. It returns an error when there are no positive examples (recall is then
// undefined), labels and scores differ in length, or a score is not finite.
func PrecisionRecall(positive []bool, scores []float64) (PRCurve, error) {
	nPos, err := checkScores(positive, scores)
	if err != nil {
		return PRCurve{}, fmt.Errorf("precision-recall: %w", err)
	}
	if nPos == 0 {
		return PRCurve{}, errors.New("precision-recall: no positive examples")
	}
	c := PRCurve{Recall: []float64{0}, Precision: []float64{1}, Prevalence: float64(nPos) / float64(len(scores))}
	sweep(positive, scores, func(t float64, tp, fp int) {
		r := float64(tp) / float64(nPos)
		p := float64(tp) / float64(tp+fp)
		c.AP += (r - c.Recall[len(c.Recall)-1]) * p
		c.Recall = append(c.Recall, r)
		c.Precision = append(c.Precision, p)
		c.Thresholds = append(c.Thresholds, t)
	})
	return c, nil
}

// sweep calls at, for every distinct score from the highest down, with that score as the
// threshold and the numbers of positive (tp) and negative (fp) examples scoring at least it.
func sweep(positive []bool, scores []float64, at func(t float64, tp, fp int)) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	tp, fp := 0, 0
	for i := 0; i < len(idx); {
		t := scores[idx[i]]
		for ; i < len(idx) && scores[idx[i]] == t; i++ {
			if positive[idx[i]] {
				tp++
			} else {
				fp++
			}
		}
		at(t, tp, fp)
	}
}

// CalibrationBin is one bin of a reliability table.
type CalibrationBin struct {
	// Low and High are the bin's edges; it holds the scores above Low up to High (the first bin
	// also Low itself).
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// N is the number of examples in the bin.
	N int `json:"n"`
	// MeanScore is their mean predicted probability.
	MeanScore float64 `json:"mean_predicted"`
	// Observed is the fraction of them that are positive.
	Observed float64 `json:"observed"`
}

// Reliability bins the predicted probabilities scores of the positive examples into bins bins,
// of equal width on [0, 1], or with quantile true at the quantiles of the scores (equal counts,
// but for ties), and returns the non-empty bins in order: the table behind a reliability diagram,
// as scikit-learn's calibration_curve (same edges, each bin closed on the right). It returns an
// error when bins < 1, labels and scores differ in length, or a score is outside [0, 1].
func Reliability(positive []bool, scores []float64, bins int, quantile bool) ([]CalibrationBin, error) {
	if bins < 1 {
		return nil, fmt.Errorf("reliability: %d bins, want at least 1", bins)
	}
	if _, err := checkScores(positive, scores); err != nil {
		return nil, fmt.Errorf("reliability: %w", err)
	}
	for i, s := range scores {
		if s < 0 || s > 1 {
			return nil, fmt.Errorf("reliability: example %d has probability %v outside [0, 1]", i, s)
		}
	}
	edges := make([]float64, bins+1)
	sorted := slices.Sorted(slices.Values(scores))
	step := 1 / float64(bins)
	for i := range edges {
		q := float64(i) * step // as numpy's linspace, so that scores on an edge fall alike
		if i == bins {
			q = 1
		}
		if quantile {
			edges[i] = percentile(sorted, q)
		} else {
			edges[i] = q
		}
	}
	table := make([]CalibrationBin, bins)
	for i, s := range scores {
		// The number of inner edges below s (numpy's searchsorted on the left).
		b, _ := slices.BinarySearch(edges[1:bins], s)
		table[b].N++
		table[b].MeanScore += s
		if positive[i] {
			table[b].Observed++
		}
	}
	var out []CalibrationBin
	for b, t := range table {
		if t.N == 0 {
			continue
		}
		t.Low, t.High = edges[b], edges[b+1]
		t.MeanScore /= float64(t.N)
		t.Observed /= float64(t.N)
		out = append(out, t)
	}
	return out, nil
}

// percentile is the q-quantile of sorted by linear interpolation between order statistics
// (numpy's default).
func percentile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// OperatingPoint is a binary classifier's confusion counts and rates at one threshold: an example
// is called positive when its score is at or above Threshold.
type OperatingPoint struct {
	// Rule says how Threshold was chosen, e.g. "threshold in use" or "Youden's J".
	Rule string `json:"rule"`
	// Threshold is the score at or above which an example is called positive.
	Threshold float64 `json:"threshold"`
	// Optimistic is true when Threshold was chosen on the examples it is scored on, so its rates
	// overstate what new data would show.
	Optimistic bool `json:"optimistic"`
	// TP, FN, TN and FP are the true positives, false negatives, true negatives and false positives.
	TP int `json:"tp"`
	FN int `json:"fn"`
	TN int `json:"tn"`
	FP int `json:"fp"`
	// Sensitivity (TP/(TP+FN)), Specificity (TN/(TN+FP)), PPV (TP/(TP+FP)) and NPV (TN/(TN+FN))
	// have Wilson intervals; a rate with a zero denominator is NaN, with interval [0, 1].
	Sensitivity Estimate `json:"sensitivity"`
	Specificity Estimate `json:"specificity"`
	PPV         Estimate `json:"ppv"`
	NPV         Estimate `json:"npv"`
}

// OperatingPointAt returns the operating point at threshold, with intervals at level conf. It
// returns an error when labels and scores differ in length, there are none, a score or the
// threshold is not finite, or conf is not strictly between 0 and 1.
func OperatingPointAt(positive []bool, scores []float64, threshold, conf float64) (OperatingPoint, error) {
	if _, err := checkScores(positive, scores); err != nil {
		return OperatingPoint{}, fmt.Errorf("operating point: %w", err)
	}
	if math.IsNaN(threshold) || math.IsInf(threshold, 0) {
		return OperatingPoint{}, fmt.Errorf("operating point: threshold %v", threshold)
	}
	if !(conf > 0 && conf < 1) {
		return OperatingPoint{}, fmt.Errorf("operating point: confidence level %v, want strictly between 0 and 1", conf)
	}
	op := OperatingPoint{Threshold: threshold}
	for i, s := range scores {
		switch called := s >= threshold; {
		case positive[i] && called:
			op.TP++
		case positive[i]:
			op.FN++
		case called:
			op.FP++
		default:
			op.TN++
		}
	}
	op.Sensitivity = proportion(op.TP, op.TP+op.FN, conf)
	op.Specificity = proportion(op.TN, op.TN+op.FP, conf)
	op.PPV = proportion(op.TP, op.TP+op.FP, conf)
	op.NPV = proportion(op.TN, op.TN+op.FN, conf)
	return op, nil
}

// ThresholdForSensitivity returns the highest threshold at which at least a fraction target of
// the positive examples score at or above it: the most specific threshold reaching that
// sensitivity on these examples. It returns an error when there are no positives, target is not
// in (0, 1], labels and scores differ in length, or a score is not finite.
func ThresholdForSensitivity(positive []bool, scores []float64, target float64) (float64, error) {
	if !(target > 0 && target <= 1) {
		return 0, fmt.Errorf("threshold for sensitivity: target %v, want in (0, 1]", target)
	}
	nPos, err := checkScores(positive, scores)
	if err != nil {
		return 0, fmt.Errorf("threshold for sensitivity: %w", err)
	}
	if nPos == 0 {
		return 0, errors.New("threshold for sensitivity: no positive examples")
	}
	var pos []float64
	for i, s := range scores {
		if positive[i] {
			pos = append(pos, s)
		}
	}
	slices.Sort(pos)
	slices.Reverse(pos)
	// The k-th highest positive score, k the fewest positives that reach target (the small
	// tolerance keeps 0.9*10 from rounding up to 10).
	k := max(1, int(math.Ceil(target*float64(nPos)-1e-9)))
	return pos[k-1], nil
}

// YoudenThreshold returns the threshold, among the distinct scores, that maximises Youden's J =
// sensitivity + specificity - 1 on these examples; ties go to the highest threshold. It returns an
// error when there are no positives or no negatives, labels and scores differ in length, or a
// score is not finite.
func YoudenThreshold(positive []bool, scores []float64) (float64, error) {
	nPos, err := checkScores(positive, scores)
	if err != nil {
		return 0, fmt.Errorf("youden threshold: %w", err)
	}
	nNeg := len(scores) - nPos
	if nPos == 0 || nNeg == 0 {
		return 0, fmt.Errorf("youden threshold: %d positive and %d negative examples, need both", nPos, nNeg)
	}
	best, bestJ := 0.0, math.Inf(-1)
	sweep(positive, scores, func(t float64, tp, fp int) {
		if j := float64(tp)/float64(nPos) - float64(fp)/float64(nNeg); j > bestJ {
			best, bestJ = t, j
		}
	})
	return best, nil
}

// OperatingPoints returns the table of a binary classifier's operating points, with 95% Wilson
// intervals: at the threshold in use, at the thresholds reaching sensitivity 0.90 and 0.95
// (ThresholdForSensitivity) and at Youden's J (YoudenThreshold). The last three are chosen on
// these examples and marked Optimistic. It returns an error when there are no positives or no
// negatives, labels and scores differ in length, or a score or threshold is not finite.
func OperatingPoints(positive []bool, scores []float64, threshold float64) ([]OperatingPoint, error) {
	inUse, err := OperatingPointAt(positive, scores, threshold, 0.95)
	if err != nil {
		return nil, err
	}
	inUse.Rule = "threshold in use"
	out := []OperatingPoint{inUse}
	for _, target := range []float64{0.90, 0.95} {
		t, err := ThresholdForSensitivity(positive, scores, target)
		if err != nil {
			return nil, err
		}
		op, err := OperatingPointAt(positive, scores, t, 0.95)
		if err != nil {
			return nil, err
		}
		op.Rule, op.Optimistic = fmt.Sprintf("sensitivity >= %.2f", target), true
		out = append(out, op)
	}
	t, err := YoudenThreshold(positive, scores)
	if err != nil {
		return nil, err
	}
	op, err := OperatingPointAt(positive, scores, t, 0.95)
	if err != nil {
		return nil, err
	}
	op.Rule, op.Optimistic = "Youden's J", true
	return append(out, op), nil
}
