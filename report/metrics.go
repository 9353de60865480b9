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
// In JSON, AUC is null when it is undefined (NaN), and the two-class fields (positive, threshold,
// sensitivity, specificity) are present, even when zero, exactly when there are two classes.
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

	// ROC holds the curves behind AUC, for plotting: for two classes the positive class's curve,
	// for more one one-vs-rest curve per class. Classes whose curve is undefined are left out.
	ROC []ROCCurve `json:"-"`
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
	// F1 is the harmonic mean of Precision and Recall.
	F1 float64 `json:"f1"`
	// Support is the number of examples of Class.
	Support int `json:"support"`
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
}

// Evaluate scores probabilities (one row per example, one column per class, rows sum to 1) against labels.
// For two classes the prediction is positive when probs[i][positive] >= threshold (threshold 0 means 0.5); for more, argmax.
// positive is the positive class index for two classes (ignored otherwise).
//
// Argmax ties go to the lowest class index. The rows are not checked to sum to 1 (AUC depends only
// on how the scores rank), but every probability must be finite. Evaluate returns an error when
// there are fewer than 2 classes, no examples, a length mismatch between labels, probs and their
// rows and classes, a label out of range, a non-finite probability, or, for two classes, a
// positive index other than 0 or 1 or a threshold outside [0, 1]. A class without examples is
// not an error: its AUC, and so the model's, is NaN.
func Evaluate(classes []string, labels []int, probs [][]float32, positive int, threshold float64) (Metrics, error) {
	k := len(classes)
	switch {
	case k < 2:
		return Metrics{}, fmt.Errorf("evaluate: need at least 2 classes, have %d", k)
	case len(labels) == 0:
		return Metrics{}, errors.New("evaluate: no examples")
	case len(labels) != len(probs):
		return Metrics{}, fmt.Errorf("evaluate: %d labels but %d rows of probabilities", len(labels), len(probs))
	}
	for i, row := range probs {
		if len(row) != k {
			return Metrics{}, fmt.Errorf("evaluate: example %d has %d probabilities for %d classes", i, len(row), k)
		}
		for j, p := range row {
			if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
				return Metrics{}, fmt.Errorf("evaluate: example %d has probability %v for class %d", i, p, j)
			}
		}
		if labels[i] < 0 || labels[i] >= k {
			return Metrics{}, fmt.Errorf("evaluate: example %d has label %d, want 0..%d", i, labels[i], k-1)
		}
	}
	binary := k == 2
	if binary {
		if positive != 0 && positive != 1 {
			return Metrics{}, fmt.Errorf("evaluate: positive class index %d, want 0 or 1", positive)
		}
		if math.IsNaN(threshold) || threshold < 0 || threshold > 1 {
			return Metrics{}, fmt.Errorf("evaluate: threshold %v outside [0, 1]", threshold)
		}
		if threshold == 0 {
			threshold = 0.5
		}
	}

	n := len(labels)
	m := Metrics{N: n, Confusion: make([][]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	for i, row := range probs {
		var pred int
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
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass[c] = cm
	}
	m.Accuracy = float64(m.Correct) / float64(n)
	m.AccuracyLow, m.AccuracyHigh = Wilson(m.Correct, n, 0.95)

	if binary {
		m.Positive = classes[positive]
		m.Threshold = threshold
		m.Sensitivity = m.PerClass[positive].Recall
		m.Specificity = m.PerClass[1-positive].Recall
		curve, ok := rocCurve(classes[positive], labels, probs, positive)
		m.AUC = curve.AUC
		if ok {
			m.ROC = []ROCCurve{curve}
		}
		return m, nil
	}
	sum := 0.0
	for c := range k {
		curve, ok := rocCurve(classes[c], labels, probs, c)
		sum += curve.AUC // NaN for an absent class makes the mean NaN
		if ok {
			m.ROC = append(m.ROC, curve)
		}
	}
	m.AUC = sum / float64(k)
	return m, nil
}

// rocCurve is the one-vs-rest ROC curve of class c scored by probs[i][c]. ok is false, and the
// AUC NaN, when the set has no examples of c or none of the other classes.
func rocCurve(name string, labels []int, probs [][]float32, c int) (curve ROCCurve, ok bool) {
	curve = ROCCurve{Class: name, AUC: math.NaN()}
	y := make([]float64, len(labels))
	isPos := make([]bool, len(labels))
	nPos := 0
	for i, l := range labels {
		y[i] = float64(probs[i][c])
		isPos[i] = l == c
		if isPos[i] {
			nPos++
		}
	}
	if nPos == 0 || nPos == len(labels) {
		return curve, false
	}
	// stat.ROC needs the scores ascending; with nil cutoffs it uses every distinct score, so tied
	// scores enter the curve together (a diagonal step) and the trapezoidal area counts each tied
	// positive-negative pair as 1/2, which is the Mann-Whitney U/(n1*n0).
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

// metricsJSON is the JSON form of Metrics: AUC may be null, and the two-class fields are
// pointers so that a zero sensitivity is written rather than omitted.
type metricsJSON struct {
	N            int            `json:"n"`
	Correct      int            `json:"correct"`
	Accuracy     float64        `json:"accuracy"`
	AccuracyLow  float64        `json:"accuracy_low"`
	AccuracyHigh float64        `json:"accuracy_high"`
	AUC          *float64       `json:"auc"`
	PerClass     []ClassMetrics `json:"per_class"`
	Confusion    [][]int        `json:"confusion"`
	Positive     *string        `json:"positive,omitempty"`
	Threshold    *float64       `json:"threshold,omitempty"`
	Sensitivity  *float64       `json:"sensitivity,omitempty"`
	Specificity  *float64       `json:"specificity,omitempty"`
}

// MarshalJSON writes m with a NaN AUC as null, and the two-class fields only when m has two
// classes (then even when they are zero).
func (m Metrics) MarshalJSON() ([]byte, error) {
	j := metricsJSON{
		N: m.N, Correct: m.Correct, Accuracy: m.Accuracy, AccuracyLow: m.AccuracyLow, AccuracyHigh: m.AccuracyHigh,
		PerClass: m.PerClass, Confusion: m.Confusion,
	}
	if !math.IsNaN(m.AUC) {
		j.AUC = &m.AUC
	}
	if len(m.Confusion) == 2 || len(m.PerClass) == 2 {
		j.Positive, j.Threshold, j.Sensitivity, j.Specificity = &m.Positive, &m.Threshold, &m.Sensitivity, &m.Specificity
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; a null or missing AUC becomes NaN. ROC is not
// stored and stays empty.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var j metricsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Metrics{
		N: j.N, Correct: j.Correct, Accuracy: j.Accuracy, AccuracyLow: j.AccuracyLow, AccuracyHigh: j.AccuracyHigh,
		AUC: math.NaN(), PerClass: j.PerClass, Confusion: j.Confusion,
	}
	if j.AUC != nil {
		m.AUC = *j.AUC
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
