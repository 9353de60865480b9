package study

import (
	"slices"
	"strconv"
)

// MethodSummary is one method's mean and interval over the cells of a study.
type MethodSummary struct {
	Accuracy Interval `json:"accuracy"`
	AUC      Interval `json:"auc"`
	Seconds  float64  `json:"mean_seconds"`
}

// CVSummary sums up a cross-validation (or repeated) comparison: each method's mean and
// interval, and the paired difference of every method against the first.
type CVSummary struct {
	Methods []string                 `json:"methods"`
	Means   map[string]MethodSummary `json:"summary"`
	// Differences maps "B - A" (A the first method) to the paired differences of accuracy and
	// AUC over the folds or repeats where both finished.
	Differences map[string]map[string]Interval `json:"differences"`
	Cells       []*Result                      `json:"cells"`
}

// SummarizeCV sums up the finished cells (nil ones are skipped) of a comparison of methods.
func SummarizeCV(results []*Result, methods []string) *CVSummary {
	sum := &CVSummary{Methods: methods, Means: map[string]MethodSummary{}, Differences: map[string]map[string]Interval{}}
	by := map[string]map[[2]int]*Result{}
	for _, r := range results {
		if r == nil {
			continue
		}
		sum.Cells = append(sum.Cells, r)
		if by[r.Method] == nil {
			by[r.Method] = map[[2]int]*Result{}
		}
		by[r.Method][[2]int{r.Repeat, r.Fold}] = r
	}
	for _, m := range methods {
		var acc, auc, secs []float64
		for _, r := range sum.Cells {
			if r.Method == m {
				acc, auc, secs = append(acc, r.Accuracy), append(auc, r.AUC), append(secs, r.Seconds)
			}
		}
		if len(acc) == 0 {
			continue
		}
		sum.Means[m] = MethodSummary{Accuracy: TInterval(acc, 0.95).Clip01(), AUC: TInterval(auc, 0.95).Clip01(), Seconds: TInterval(secs, 0.95).Mean}
	}
	if len(methods) < 2 {
		return sum
	}
	base := methods[0]
	keys := make([][2]int, 0, len(by[base]))
	for k := range by[base] {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, m := range methods[1:] {
		var ba, ma, bu, mu []float64
		for _, k := range keys {
			if r, ok := by[m][k]; ok {
				s := by[base][k]
				ba, ma, bu, mu = append(ba, s.Accuracy), append(ma, r.Accuracy), append(bu, s.AUC), append(mu, r.AUC)
			}
		}
		sum.Differences[m+" - "+base] = map[string]Interval{"accuracy": PairedDifference(ba, ma, 0.95), "auc": PairedDifference(bu, mu, 0.95)}
	}
	return sum
}

// CurvePoint is one method at one training-set size, over repeats.
type CurvePoint struct {
	Method string `json:"method"`
	// Size is the size asked for ("all" for the whole training set).
	Size           string   `json:"size"`
	ImagesPerClass float64  `json:"images_per_class"`
	Accuracy       Interval `json:"accuracy"`
	AUC            Interval `json:"auc"`
	MeanSeconds    float64  `json:"mean_seconds"`
	NTrain         int      `json:"n_train"`
	// Repeats is how many repeats finished, of Asked.
	Repeats int `json:"repeats"`
	Asked   int `json:"repeats_asked"`
}

// AggregateCurve sums up finished cells (nil ones are skipped) per method and size.
func AggregateCurve(results []*Result, methods []string, sizes []int, classes, repeats int) []CurvePoint {
	var points []CurvePoint
	for _, m := range methods {
		for _, size := range sizes {
			var acc, auc, secs []float64
			n := 0
			for _, r := range results {
				if r != nil && r.Method == m && r.Size == size {
					acc, auc, secs = append(acc, r.Accuracy), append(auc, r.AUC), append(secs, r.Seconds)
					n = r.NTrain
				}
			}
			if len(acc) == 0 {
				continue
			}
			label := strconv.Itoa(size)
			if size == 0 {
				label = "all"
			}
			points = append(points, CurvePoint{Method: m, Size: label, ImagesPerClass: float64(n) / float64(classes),
				Accuracy: TInterval(acc, 0.95).Clip01(), AUC: TInterval(auc, 0.95).Clip01(),
				MeanSeconds: TInterval(secs, 0.95).Mean, NTrain: n, Repeats: len(acc), Asked: repeats})
		}
	}
	return points
}
