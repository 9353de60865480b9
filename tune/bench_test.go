package tune

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkTrainStep times one Adam step at batch 32 on MobileNetV2 with the top N blocks
// unfrozen. Peak memory: go test -c ./tune && /usr/bin/time -v ./tune.test -test.run '^$'
// -test.bench 'TrainStep/unfreeze=4$' -test.benchtime 10x
func BenchmarkTrainStep(b *testing.B) {
	dir := real(b, "mobilenet_v2")
	for _, n := range []int{0, 1, 2, 4, 18} {
		b.Run(fmt.Sprintf("unfreeze=%d", n), func(b *testing.B) {
			m, err := Open(dir, Options{Unfreeze: n, Classes: 2, Seed: 1})
			require.NoError(b, err)
			defer m.Close()
			w, h := m.InputSize()
			batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 32, w, h, 2)
			_, _, err = m.TrainBatch(batch) // the first step allocates TensorFlow's buffers
			require.NoError(b, err)
			for b.Loop() {
				if _, _, err := m.TrainBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.TrainableParams()), "params")
		})
	}
}
