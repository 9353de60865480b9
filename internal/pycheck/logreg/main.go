// Command logreg fits lessdata's linear head (head.Fit) for the Python cross-check against
// scikit-learn's LogisticRegression (tests/test_linear_head.py).
//
// It reads one JSON object on standard input:
//
//	{"x": [[...], ...], "labels": [...], "classes": K, "c": C,
//	 "normalization": "none" | "l2" | "standardize", "weights": [...] (optional)}
//
// and prints the fitted head.Weights with the training rows' class probabilities, the
// iteration count and whether the solver converged.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/lessdata/lessdata/head"
)

type input struct {
	X             [][]float32        `json:"x"`
	Labels        []int              `json:"labels"`
	Classes       int                `json:"classes"`
	C             float64            `json:"c"`
	Normalization head.Normalization `json:"normalization"`
	Weights       []float64          `json:"weights"`
}

type output struct {
	head.Weights
	Probabilities [][]float64 `json:"probabilities"`
	Iterations    int         `json:"iterations"`
	Converged     bool        `json:"converged"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "logreg:", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading the JSON input on stdin: %w", err)
	}
	ds := head.Dataset{X: in.X, Labels: in.Labels, Classes: in.Classes, Weights: in.Weights}
	m, err := head.Fit(context.Background(), ds, in.C, in.Normalization)
	if err != nil {
		return err
	}
	probs, err := m.Predict(in.X)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(output{Weights: m.Weights(), Probabilities: probs,
		Iterations: m.Iterations(), Converged: m.Converged()})
}
