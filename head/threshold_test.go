package head

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSensitivityThreshold(t *testing.T) {
	probs := []float64{0.9, 0.8, 0.1, 0.8, 0.85, 0.3, 0.2}
	labels := []int{1, 1, 0, 1, 0, 1, 0}
	for _, tc := range []struct{ target, want float64 }{
		{0.25, 0.9}, // 1 of 4 positives
		{0.5, 0.8},  // 2 of 4: the tie at 0.8 counts as positive, reaching 3 of 4
		{0.75, 0.8},
		{0.76, 0.3},
		{1, 0.3},
	} {
		got, err := SensitivityThreshold(probs, labels, tc.target)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "target %v", tc.target)
		hits := 0
		for i, p := range probs {
			if labels[i] == 1 && p >= got {
				hits++
			}
		}
		require.GreaterOrEqual(t, float64(hits)/4, tc.target)
	}
	ten := make([]float64, 10)
	tenLabels := make([]int, 10)
	for i := range ten {
		ten[i], tenLabels[i] = float64(i+1)/10, 1
	}
	got, err := SensitivityThreshold(ten, tenLabels, 0.9) // 0.9·10 rounds to 9.000000000000002
	require.NoError(t, err)
	require.Equal(t, 0.2, got)
}

func TestSensitivityThresholdRejectsBadInput(t *testing.T) {
	_, err := SensitivityThreshold([]float64{0.5}, []int{1, 0}, 0.9)
	require.ErrorContains(t, err, "1 probabilities for 2 labels")
	_, err = SensitivityThreshold([]float64{0.5}, []int{1}, 0)
	require.ErrorContains(t, err, "0 < target <= 1")
	_, err = SensitivityThreshold([]float64{0.5}, []int{2}, 0.9)
	require.ErrorContains(t, err, "binary labels")
	_, err = SensitivityThreshold([]float64{0.5}, []int{0}, 0.9)
	require.ErrorContains(t, err, "no positive")
}
