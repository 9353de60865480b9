package head

import (
	"context"
	"testing"
)

// BenchmarkFitCV times FitCV (5 folds over DefaultCs with L2 normalisation, then the final fit)
// on 1,000 rows of 1,280 features, the size of a large transfer set's MobileNetV2 features.
func BenchmarkFitCV(b *testing.B) {
	for _, bc := range []struct {
		name    string
		classes int
	}{{"binary", 2}, {"4classes", 4}} {
		ds := synthetic(1, 1000, 1280, bc.classes, 0.3)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := FitCV(context.Background(), ds, CVOptions{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				best := res.Candidates[res.Best]
				b.ReportMetric(best.C, "C")
				b.ReportMetric(best.Accuracy, "cv-accuracy")
			}
		})
	}
}
