package head

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// Three Gaussian clusters in 16 dimensions are separable by a linear head and by a hidden one.
func TestHeadsLearnClusters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const dim, per = 16, 30
	centers := make([][]float64, 3)
	for c := range centers {
		centers[c] = make([]float64, dim)
		for d := range centers[c] {
			centers[c][d] = r.NormFloat64() * 2
		}
	}
	var b nn.Batch
	for i := 0; i < 3*per; i++ {
		c := i % 3
		for d := 0; d < dim; d++ {
			b.X = append(b.X, float32(centers[c][d]+r.NormFloat64()*0.5))
		}
		b.Labels = append(b.Labels, c)
	}
	b.Count = 3 * per
	for _, o := range []Options{Default(), {Hidden: 32, Dropout: 0.3, L2: 1e-3, LearningRate: 0.01}} {
		net, err := New(dim, 3, o, 5, tf.SessionOptions{})
		require.NoError(t, err)
		for i := 0; i < 150; i++ {
			_, _, err := net.TrainBatch(b)
			require.NoError(t, err)
		}
		probs, err := net.Predict(b)
		require.NoError(t, err)
		correct := 0
		for i, p := range probs {
			best := 0
			for k := range p {
				if p[k] > p[best] {
					best = k
				}
			}
			if best == b.Labels[i] {
				correct++
			}
		}
		require.GreaterOrEqual(t, correct, 3*per-2, "options %+v", o)
		net.Close()
	}
}

func TestHeadRejectsBadOptions(t *testing.T) {
	_, err := New(8, 2, Options{Dropout: 1}, 1, tf.SessionOptions{})
	require.ErrorContains(t, err, "dropout")
	_, err = New(0, 2, Default(), 1, tf.SessionOptions{})
	require.ErrorContains(t, err, "feature length")
	_, err = New(8, 2, Options{Hidden: -1}, 1, tf.SessionOptions{})
	require.Error(t, err)
}
