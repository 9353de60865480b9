// Command metrics is the Go side of tests/test_metrics.py: it reads labelled class probabilities
// as JSON on standard input, scores them with report.Evaluate and the binary building blocks,
// and prints the results as JSON for the test to compare with scikit-learn and scipy.
//
// Input: {"classes": [...], "labels": [...], "probs": [[...], ...], "positive": 1,
// "threshold": 0.5, "bins": 10}. Output: {"metrics": Metrics, "pr": [PRCurve...],
// "calibration_uniform": [...], "calibration_quantile": [...]} where the two calibration
// tables are of the positive class's probability (two classes) with "bins" bins.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/lessdata/lessdata/report"
)

type input struct {
	Classes   []string    `json:"classes"`
	Labels    []int       `json:"labels"`
	Probs     [][]float32 `json:"probs"`
	Positive  int         `json:"positive"`
	Threshold float64     `json:"threshold"`
	Bins      int         `json:"bins"`
}

type output struct {
	Metrics             report.Metrics          `json:"metrics"`
	PR                  []report.PRCurve        `json:"pr"`
	CalibrationUniform  []report.CalibrationBin `json:"calibration_uniform,omitempty"`
	CalibrationQuantile []report.CalibrationBin `json:"calibration_quantile,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("read the input JSON on standard input: %w", err)
	}
	m, err := report.Score(in.Classes, in.Labels, in.Probs, in.Positive, in.Threshold)
	if err != nil {
		return err
	}
	out := output{Metrics: m, PR: m.PR}
	if len(in.Classes) == 2 {
		isPos := make([]bool, len(in.Labels))
		scores := make([]float64, len(in.Labels))
		for i, l := range in.Labels {
			isPos[i], scores[i] = l == in.Positive, float64(in.Probs[i][in.Positive])
		}
		if out.CalibrationUniform, err = report.Reliability(isPos, scores, in.Bins, false); err != nil {
			return err
		}
		if out.CalibrationQuantile, err = report.Reliability(isPos, scores, in.Bins, true); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
