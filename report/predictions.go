package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/lessdata/lessdata/internal/files"
)

// MethodProbs are one method's class probabilities for every image of a labelled set, with its
// prediction rule (as Evaluate's positive and threshold).
type MethodProbs struct {
	Method    string
	Probs     [][]float32
	Positive  int
	Threshold float64
}

// WritePredictionsCSV writes, atomically to path, one CSV row per image and method: method, path,
// true class, predicted class, correct (true/false), loss (as Example.Loss) and p_<class> for each
// class, the probabilities written exactly (shortest float32 form). paths[i] and labels[i]
// describe image i; each method must pass Evaluate's checks against classes and labels.
func WritePredictionsCSV(path string, classes, paths []string, labels []int, methods []MethodProbs) error {
	if len(paths) != len(labels) {
		return fmt.Errorf("predictions csv %s: %d paths for %d labels", path, len(paths), len(labels))
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"method", "path", "true", "predicted", "correct", "loss"}
	for _, c := range classes {
		head = append(head, "p_"+c)
	}
	if err := w.Write(head); err != nil {
		return fmt.Errorf("predictions csv %s: %w", path, err)
	}
	for _, m := range methods {
		threshold, err := checkProbs(classes, labels, m.Probs, m.Positive, m.Threshold)
		if err != nil {
			return fmt.Errorf("predictions csv %s: method %s: %w", path, m.Method, err)
		}
		preds := predict(m.Probs, len(classes) == 2, m.Positive, threshold)
		for i, row := range m.Probs {
			l := labels[i]
			rec := []string{m.Method, paths[i], classes[l], classes[preds[i]], strconv.FormatBool(preds[i] == l),
				strconv.FormatFloat(lossOf(float64(row[l])), 'g', 6, 64)}
			for _, p := range row {
				rec = append(rec, strconv.FormatFloat(float64(p), 'g', -1, 32))
			}
			if err := w.Write(rec); err != nil {
				return fmt.Errorf("predictions csv %s: %w", path, err)
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("predictions csv %s: %w", path, err)
	}
	if err := files.WriteAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("predictions csv: %w", err)
	}
	return nil
}
