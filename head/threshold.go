package head

import (
	"fmt"
	"math"
	"slices"
)

// SensitivityThreshold returns the decision threshold of a binary head that reaches the target
// sensitivity on the given rows: probs[i] is row i's probability of class 1 (e.g. FitCV's
// out-of-fold OOF[i][1]) and labels[i] its class (0 or 1).
//
// The rule is "class 1 when p >= t": rows whose probability equals the threshold are called
// positive. With P positive rows, t is the m-th largest of their probabilities, m =
// ⌈target·P⌉, which is the largest threshold whose sensitivity on these rows is at least
// target (a larger threshold would miss one more positive, so it also calls the fewest
// negatives positive).
func SensitivityThreshold(probs []float64, labels []int, target float64) (float64, error) {
	if len(probs) != len(labels) {
		return 0, fmt.Errorf("head: %d probabilities for %d labels", len(probs), len(labels))
	}
	if !(target > 0 && target <= 1) {
		return 0, fmt.Errorf("head: target sensitivity %v, want 0 < target <= 1", target)
	}
	var pos []float64
	for i, y := range labels {
		if y != 0 && y != 1 {
			return 0, fmt.Errorf("head: row %d has label %d; a sensitivity threshold needs binary labels", i, y)
		}
		if p := probs[i]; math.IsNaN(p) {
			return 0, fmt.Errorf("head: row %d has probability NaN", i)
		}
		if y == 1 {
			pos = append(pos, probs[i])
		}
	}
	if len(pos) == 0 {
		return 0, fmt.Errorf("head: no positive (class 1) rows to reach a sensitivity of %v on", target)
	}
	slices.Sort(pos)
	// 1e-9 keeps e.g. 0.9·10 = 9.000000000000002 at 9.
	m := int(math.Ceil(target*float64(len(pos)) - 1e-9))
	m = max(1, min(m, len(pos)))
	return pos[len(pos)-m], nil
}
