package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Metrics are the scores of one model on one labelled set.
//
// In JSON, AUC, its interval and AveragePrecision are null when undefined (NaN), and the
// two-class fields (positive, threshold, sensitivity, specificity, operating points) are present,
// even when zero, exactly when there are two classes.
type Metrics struct {
	// N is the number of examples.
	N int `json:"n"`
	// Correct is the number of examples whose predicted class is the true class.
	Correct int `json:"correct"`
	// Accuracy is Correct/N.
	Accuracy float64 `json:"accuracy"`
	// AccuracyLow and AccuracyHigh bound the 95% Wilson score interval of Accuracy.
	AccuracyLow  float64 `json:"accuracy_low"`
	AccuracyHigh float64 `json:"accuracy_high"`
	// AUC is, for two classes, the ROC AUC of the positive class's probability; for more classes,
	// the unweighted (macro) mean of the one-vs-rest ROC AUCs of every class. It does not depend
	// on the threshold. It is NaN when undefined: when a class has no examples (or, for two
	// classes, when either class has none), since its ROC curve then has no positives or no
	// negatives.
	AUC float64 `json:"auc"`
	// AUCLow and AUCHigh bound the 95% DeLong interval of AUC for two classes (see DeLong). They
	// are NaN for more classes, whose per-class intervals are in PerClass.
	AUCLow  float64 `json:"auc_low"`
	AUCHigh float64 `json:"auc_high"`
	// AveragePrecision is, for two classes, the average precision of the positive class (see
	// PRCurve); for more, the macro mean over classes. NaN when a class has no examples.
	AveragePrecision float64 `json:"average_precision"`
	// Brier is the mean squared error of the probabilities: for two classes that of the positive
	// class's probability against 0/1 (scikit-learn's brier_score_loss, 0..1); for more, the sum
	// over classes of the squared errors, averaged over examples (Brier's original score, 0..2).
	Brier float64 `json:"brier"`
	// Calibration is the reliability table, 10 equal-width bins (see Reliability): for two classes
	// of the positive class's probability; for more, of the predicted class's probability against
	// whether the prediction is right (top-label calibration).
	Calibration []CalibrationBin `json:"calibration"`
	// PerClass has one entry per class, in the order of the classes.
	PerClass []ClassMetrics `json:"per_class"`
	// Confusion counts examples as Confusion[true class][predicted class].
	Confusion [][]int `json:"confusion"`

	// The rest are set for two classes only.

	// Positive is the name of the positive class.
	Positive string `json:"positive,omitempty"`
	// Threshold is the probability of the positive class at or above which an example is
	// predicted positive.
	Threshold float64 `json:"threshold,omitempty"`
	// Sensitivity is the recall of the positive class at Threshold (true positive rate).
	Sensitivity float64 `json:"sensitivity,omitempty"`
	// Specificity is the recall of the negative class at Threshold (true negative rate).
	Specificity float64 `json:"specificity,omitempty"`
	// OperatingPoints is the table of OperatingPoints at Threshold: sensitivity, specificity, PPV
	// and NPV with 95% Wilson intervals, there and at thresholds chosen on these examples.
	OperatingPoints []OperatingPoint `json:"operating_points,omitempty"`

	// ROC holds the curves behind AUC, for plotting: for two classes the positive class's curve,
	// for more one one-vs-rest curve per class. Classes whose curve is undefined are left out.
	ROC []ROCCurve `json:"-"`
	// PR holds the precision-recall curves behind AveragePrecision, in the same way as ROC.
	PR []PRCurve `json:"-"`
}

// ClassMetrics are the scores of one class, treated as the positive class against all others.
//
// As with scikit-learn's zero_division=0, Precision is 0 when the class is never predicted,
// Recall is 0 when the class has no examples (Support 0), and F1 is 0 when Precision+Recall is 0.
// A 0 next to Support 0, or next to a column of zeros in the confusion matrix, therefore means
// "undefined", not "always wrong".
type ClassMetrics struct {
	// Class is the class name.
	Class string `json:"class"`
	// Precision is the fraction of the examples predicted as Class that are of Class.
	Precision float64 `json:"precision"`
	// Recall is the fraction of the examples of Class that are predicted as Class.
	Recall float64 `json:"recall"`
	// RecallLow and RecallHigh bound the 95% Wilson interval of Recall ([0, 1] at Support 0).
	RecallLow  float64 `json:"recall_low"`
	RecallHigh float64 `json:"recall_high"`
	// F1 is the harmonic mean of Precision and Recall.
	F1 float64 `json:"f1"`
	// Support is the number of examples of Class.
	Support int `json:"support"`
	// AUC is the one-vs-rest ROC AUC of the class's probability with its 95% DeLong interval; all
	// NaN when the class has no examples or no other class has.
	AUC Estimate `json:"auc"`
}

// ROCCurve is a receiver operating characteristic curve: the true positive rate against the false
// positive rate as the threshold on the positive class's probability falls from above the highest
// score to the lowest. It runs from (0, 0) to (1, 1); examples with tied scores move it along a
// diagonal segment.
type ROCCurve struct {
	// Class is the positive class of the curve.
	Class string `json:"class"`
	// FPR and TPR are the false and true positive rates, FPR ascending.
	FPR []float64 `json:"fpr"`
	TPR []float64 `json:"tpr"`
	// AUC is the area under the curve (trapezoidal rule).
	AUC float64 `json:"auc"`
	// Low and High bound the 95% DeLong interval of AUC (NaN with a single positive or negative).
	Low  float64 `json:"-"`
	High float64 `json:"-"`
}

// Evaluate scores probabilities (one row per example, one column per class, rows sum to 1) against labels.
// For two classes the prediction is positive when probs[i][positive] >= threshold (threshold 0 means 0.5); for more, argmax.
// positive is the positive class index for two classes (ignored otherwise).
//
// Beyond the counts, Evaluate fills the ROC and precision-recall curves, DeLong intervals,
// average precision, Brier score, reliability table and, for two classes, the OperatingPoints.
//
// Argmax ties go to the lowest class index. The rows are not checked to sum to 1 (AUC depends only
// on how the scores rank), but every probability must be finite. Evaluate returns an error when
// there are fewer than 2 classes, no examples, a length mismatch between labels, probs and their
// rows and classes, a label out of range, a non-finite probability, or, for two classes, a
// positive index other than 0 or 1 or a threshold outside [0, 1]. A class without examples is
// not an error: its AUC, and so the model's, is NaN.
func Score(classes []string, labels []int, probs [][]float32, positive int, threshold float64) (Metrics, error) {
	threshold, err := checkProbs(classes, labels, probs, positive, threshold)
	if err != nil {
		return Metrics{}, fmt.Errorf("evaluate: %w", err)
	}
	k, binary := len(classes), len(classes) == 2
	n := len(labels)
	m := Metrics{N: n, Confusion: make([][]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	preds := predict(probs, binary, positive, threshold)
	for i, pred := range preds {
		m.Confusion[labels[i]][pred]++
	}

	predicted := make([]int, k) // column sums
	for i := range k {
		for j := range k {
			predicted[j] += m.Confusion[i][j]
		}
	}
	m.PerClass = make([]ClassMetrics, k)
	for c := range k {
		tp := m.Confusion[c][c]
		m.Correct += tp
		support := 0
		for _, v := range m.Confusion[c] {
			support += v
		}
		cm := ClassMetrics{Class: classes[c], Support: support}
		if predicted[c] > 0 {
			cm.Precision = float64(tp) / float64(predicted[c])
		}
		if support > 0 {
			cm.Recall = float64(tp) / float64(support)
		}
		cm.RecallLow, cm.RecallHigh = Wilson(tp, support, 0.95)
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass[c] = cm
	}
	m.Accuracy = float64(m.Correct) / float64(n)
	m.AccuracyLow, m.AccuracyHigh = Wilson(m.Correct, n, 0.95)

	// One-vs-rest curves of every class: the ROC and PR curves of an absent class are left out,
	// and its NaN AUC and AP make the macro means NaN.
	aucSum, apSum := 0.0, 0.0
	for c := range k {
		curve, ok := rocCurve(classes[c], labels, probs, c)
		m.PerClass[c].AUC = Estimate{curve.AUC, curve.Low, curve.High}
		aucSum += curve.AUC
		ap := math.NaN()
		if ok {
			keep := !binary || c == positive // two classes plot the positive one's curves only
			if keep {
				m.ROC = append(m.ROC, curve)
			}
			isPos, scores := oneVsRest(labels, probs, c)
			pr, err := PrecisionRecall(isPos, scores)
			if err != nil {
				return Metrics{}, fmt.Errorf("evaluate: class %s: %w", classes[c], err)
			}
			pr.Class = classes[c]
			if keep {
				m.PR = append(m.PR, pr)
			}
			ap = pr.AP
		}
		apSum += ap
	}
	m.AUC, m.AveragePrecision = aucSum/float64(k), apSum/float64(k)
	m.AUCLow, m.AUCHigh = math.NaN(), math.NaN()

	if binary {
		m.Positive = classes[positive]
		m.Threshold = threshold
		m.Sensitivity = m.PerClass[positive].Recall
		m.Specificity = m.PerClass[1-positive].Recall
		pc := m.PerClass[positive]
		m.AUC, m.AUCLow, m.AUCHigh = pc.AUC.Value, pc.AUC.Low, pc.AUC.High
		m.AveragePrecision = math.NaN()
		if len(m.PR) == 1 {
			m.AveragePrecision = m.PR[0].AP
		}
		isPos, scores := oneVsRest(labels, probs, positive)
		m.Brier = brier(isPos, scores)
		if m.Calibration, err = Reliability(isPos, clip01(scores), 10, false); err != nil {
			return Metrics{}, fmt.Errorf("evaluate: %w", err)
		}
		if len(m.ROC) == 1 { // both classes present
			if m.OperatingPoints, err = OperatingPoints(isPos, scores, threshold); err != nil {
				return Metrics{}, fmt.Errorf("evaluate: %w", err)
			}
		}
		return m, nil
	}
	right := make([]bool, n)
	conf := make([]float64, n)
	for i, row := range probs {
		right[i] = preds[i] == labels[i]
		conf[i] = float64(row[preds[i]])
		for c, p := range row {
			d := float64(p)
			if c == labels[i] {
				d--
			}
			m.Brier += d * d
		}
	}
	m.Brier /= float64(n)
	if m.Calibration, err = Reliability(right, clip01(conf), 10, false); err != nil {
		return Metrics{}, fmt.Errorf("evaluate: %w", err)
	}
	return m, nil
}

// checkProbs reports what Evaluate refuses, and returns the threshold in use (0 means 0.5).
func checkProbs(classes []string, labels []int, probs [][]float32, positive int, threshold float64) (float64, error) {
	k := len(classes)
	switch {
	case k < 2:
		return 0, fmt.Errorf("need at least 2 classes, have %d", k)
	case len(labels) == 0:
		return 0, errors.New("no examples")
	case len(labels) != len(probs):
		return 0, fmt.Errorf("%d labels but %d rows of probabilities", len(labels), len(probs))
	}
	for i, row := range probs {
		if len(row) != k {
			return 0, fmt.Errorf("example %d has %d probabilities for %d classes", i, len(row), k)
		}
		for j, p := range row {
			if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
				return 0, fmt.Errorf("example %d has probability %v for class %d", i, p, j)
			}
		}
		if labels[i] < 0 || labels[i] >= k {
			return 0, fmt.Errorf("example %d has label %d, want 0..%d", i, labels[i], k-1)
		}
	}
	binary := k == 2
	if binary {
		if positive != 0 && positive != 1 {
			return 0, fmt.Errorf("positive class index %d, want 0 or 1", positive)
		}
		if math.IsNaN(threshold) || threshold < 0 || threshold > 1 {
			return 0, fmt.Errorf("threshold %v outside [0, 1]", threshold)
		}
		if threshold == 0 {
			threshold = 0.5
		}
	}
	return threshold, nil
}

// predict is the predicted class of each row: for two classes the positive one when its
// probability reaches threshold, for more the argmax (ties to the lowest index).
func predict(probs [][]float32, binary bool, positive int, threshold float64) []int {
	preds := make([]int, len(probs))
	for i, row := range probs {
		pred := 0
		if binary {
			pred = 1 - positive
			if float64(row[positive]) >= threshold {
				pred = positive
			}
		} else {
			for j := range row {
				if row[j] > row[pred] {
					pred = j
				}
			}
		}
		preds[i] = pred
	}
	return preds
}

// oneVsRest is, per example, whether it is of class c and its probability of c.
func oneVsRest(labels []int, probs [][]float32, c int) ([]bool, []float64) {
	isPos := make([]bool, len(labels))
	scores := make([]float64, len(labels))
	for i, l := range labels {
		isPos[i], scores[i] = l == c, float64(probs[i][c])
	}
	return isPos, scores
}

// brier is the mean squared difference between scores and the 0/1 labels.
func brier(positive []bool, scores []float64) float64 {
	sum := 0.0
	for i, s := range scores {
		if positive[i] {
			s--
		}
		sum += s * s
	}
	return sum / float64(len(scores))
}

// clip01 clamps probabilities into [0, 1] against the rounding of a softmax.
func clip01(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = min(max(v, 0), 1)
	}
	return out
}

// rocCurve is the one-vs-rest ROC curve of class c scored by probs[i][c]. ok is false, and the
// AUC NaN, when the set has no examples of c or none of the other classes.
func rocCurve(name string, labels []int, probs [][]float32, c int) (curve ROCCurve, ok bool) {
	curve = ROCCurve{Class: name, AUC: math.NaN(), Low: math.NaN(), High: math.NaN()}
	isPos, y := oneVsRest(labels, probs, c)
	nPos := 0
	for _, p := range isPos {
		if p {
			nPos++
		}
	}
	if nPos == 0 || nPos == len(labels) {
		return curve, false
	}
	est, err := DeLong(isPos, y, 0.95)
	if err != nil { // unreachable: both classes are present and the scores were checked finite
		return curve, false
	}
	curve.Low, curve.High = est.Low, est.High
	// stat.ROC needs the scores ascending; with nil cutoffs it uses every distinct score, so tied
	// scores enter the curve together (a diagonal step) and the trapezoidal area counts each tied
	// positive-negative pair as 1/2, which is the Mann-Whitney U/(n1*n0), the AUC DeLong computes.
	stat.SortWeightedLabeled(y, isPos, nil)
	tpr, fpr, _ := stat.ROC(nil, y, isPos, nil)
	curve.FPR, curve.TPR = fpr, tpr
	curve.AUC = integrate.Trapezoidal(fpr, tpr)
	return curve, true
}

// Wilson returns the Wilson score interval for k successes out of n at confidence level conf (e.g. 0.95).
//
// With no trials (n 0) it returns the uninformative interval [0, 1]. It returns NaN, NaN when
// k is outside 0..n, n is negative, or conf is not strictly between 0 and 1.
func Wilson(k, n int, conf float64) (lo, hi float64) {
	if n < 0 || k < 0 || k > n || !(conf > 0 && conf < 1) {
		return math.NaN(), math.NaN()
	}
	if n == 0 {
		return 0, 1
	}
	z := distuv.UnitNormal.Quantile(1 - (1-conf)/2)
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z / denom * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = math.Max(0, center-half), math.Min(1, center+half)
	// Exact ends, free of rounding, at the extremes.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// metricsJSON is the JSON form of Metrics: undefined (NaN) numbers are null, and the two-class
// fields are pointers so that a zero sensitivity is written rather than omitted.
type metricsJSON struct {
	N                int              `json:"n"`
	Correct          int              `json:"correct"`
	Accuracy         float64          `json:"accuracy"`
	AccuracyLow      float64          `json:"accuracy_low"`
	AccuracyHigh     float64          `json:"accuracy_high"`
	AUC              *float64         `json:"auc"`
	AUCLow           *float64         `json:"auc_low"`
	AUCHigh          *float64         `json:"auc_high"`
	AveragePrecision *float64         `json:"average_precision"`
	Brier            *float64         `json:"brier"`
	Calibration      []CalibrationBin `json:"calibration"`
	PerClass         []ClassMetrics   `json:"per_class"`
	Confusion        [][]int          `json:"confusion"`
	Positive         *string          `json:"positive,omitempty"`
	Threshold        *float64         `json:"threshold,omitempty"`
	Sensitivity      *float64         `json:"sensitivity,omitempty"`
	Specificity      *float64         `json:"specificity,omitempty"`
	OperatingPoints  []OperatingPoint `json:"operating_points,omitempty"`
}

// MarshalJSON writes m with NaN numbers as null, and the two-class fields only when m has two
// classes (then even when they are zero; the operating points when both classes have examples).
func (m Metrics) MarshalJSON() ([]byte, error) {
	j := metricsJSON{
		N: m.N, Correct: m.Correct, Accuracy: m.Accuracy, AccuracyLow: m.AccuracyLow, AccuracyHigh: m.AccuracyHigh,
		AUC: nullable(m.AUC), AUCLow: nullable(m.AUCLow), AUCHigh: nullable(m.AUCHigh),
		AveragePrecision: nullable(m.AveragePrecision), Brier: nullable(m.Brier), Calibration: m.Calibration,
		PerClass: m.PerClass, Confusion: m.Confusion, OperatingPoints: m.OperatingPoints,
	}
	if len(m.Confusion) == 2 || len(m.PerClass) == 2 {
		j.Positive, j.Threshold, j.Sensitivity, j.Specificity = &m.Positive, &m.Threshold, &m.Sensitivity, &m.Specificity
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; a null or missing number becomes NaN. ROC and PR
// are not stored and stay empty.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var j metricsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Metrics{
		N: j.N, Correct: j.Correct, Accuracy: j.Accuracy, AccuracyLow: j.AccuracyLow, AccuracyHigh: j.AccuracyHigh,
		AUC: fromNullable(j.AUC), AUCLow: fromNullable(j.AUCLow), AUCHigh: fromNullable(j.AUCHigh),
		AveragePrecision: fromNullable(j.AveragePrecision), Brier: fromNullable(j.Brier), Calibration: j.Calibration,
		PerClass: j.PerClass, Confusion: j.Confusion, OperatingPoints: j.OperatingPoints,
	}
	if j.Positive != nil {
		m.Positive = *j.Positive
	}
	if j.Threshold != nil {
		m.Threshold = *j.Threshold
	}
	if j.Sensitivity != nil {
		m.Sensitivity = *j.Sensitivity
	}
	if j.Specificity != nil {
		m.Specificity = *j.Specificity
	}
	return nil
}
