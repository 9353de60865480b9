package head

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/tf"
)

// The frozen SavedModel computes what Predict computes, for every normalisation, two classes and
// more.
func TestFreezeMatchesPredict(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, classes := range []int{2, 4} {
		for _, norm := range []Normalization{NormNone, NormL2, NormStandardize} {
			ds := Dataset{Classes: classes}
			for i := 0; i < 60; i++ {
				y := i % classes
				row := make([]float32, 7)
				for j := range row {
					row[j] = float32(r.NormFloat64() + float64(y*j%3) + 2)
				}
				ds.X, ds.Labels = append(ds.X, row), append(ds.Labels, y)
			}
			m, err := Fit(context.Background(), ds, 0.5, norm)
			require.NoError(t, err)
			want, err := m.Predict(ds.X)
			require.NoError(t, err)
			dir := filepath.Join(t.TempDir(), "model")
			require.NoError(t, m.Weights().Freeze(dir))
			sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
			require.NoError(t, err)
			sig, err := sm.Signature(tf.DefaultSignature)
			require.NoError(t, err)
			in, err := sm.Output(sig.Inputs["input"].Name)
			require.NoError(t, err)
			out, err := sm.Output(sig.Outputs["probabilities"].Name)
			require.NoError(t, err)
			var flat []float32
			for _, row := range ds.X {
				flat = append(flat, row...)
			}
			x, err := tf.NewTensor([]int64{int64(len(ds.X)), 7}, flat)
			require.NoError(t, err)
			res, err := sm.Session.Run(map[tf.Output]*tf.Tensor{in: x}, []tf.Output{out}, nil)
			require.NoError(t, err)
			got, err := tf.Values[float32](res[0])
			require.NoError(t, err)
			for i, p := range want {
				if classes == 2 {
					require.InDelta(t, p[1], got[i], 1e-5, "%d classes, %v, row %d", classes, norm, i)
					continue
				}
				for k := range p {
					require.InDelta(t, p[k], got[i*classes+k], 1e-5, "%d classes, %v, row %d", classes, norm, i)
				}
			}
			res[0].Close()
			x.Close()
			sm.Close()
		}
	}
}
