package main

import (
	"fmt"

	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/report"
)

// printMetrics prints one line of validation metrics.
func printMetrics(ios streams, name string, m report.Metrics, seconds float64) {
	fmt.Fprintf(ios.Out, "%-9s accuracy %s  AUC %s", name, experiment.FormatEstimate(m.Accuracy, m.AccuracyLow, m.AccuracyHigh),
		experiment.FormatEstimate(m.AUC, m.AUCLow, m.AUCHigh))
	if m.Positive != "" {
		fmt.Fprintf(ios.Out, "  sensitivity %.3f  specificity %.3f (positive %s)", m.Sensitivity, m.Specificity, m.Positive)
	}
	fmt.Fprintf(ios.Out, "  %d images", m.N)
	if seconds > 0 {
		fmt.Fprintf(ios.Out, "  %.1fs", seconds)
	}
	fmt.Fprintln(ios.Out)
}

// printStop says how a fit ended when it did not simply complete.
func printStop(ios streams, name string, h *finetune.History) {
	last, _ := h.Last()
	best, _ := h.Best()
	switch h.Stopped {
	case finetune.StopInterrupted:
		fmt.Fprintf(ios.Err, "%s: interrupted after %d epochs: kept the model of epoch %d (val_loss %.4f)\n", name, len(h.Epochs), best.Epoch, best.ValLoss)
	case finetune.StopEarly:
		fmt.Fprintf(ios.Err, "%s: early stopping after epoch %d; best epoch %d\n", name, last.Epoch, best.Epoch)
	}
}
