package backbone

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// BenchmarkFeatures measures feature extraction of the converted MobileNetV2 on normalised
// 224x224 input, as bench/features.sh compares with TensorFlow in Python. It uses the backbone
// folder in $LESSDATA_BENCH_BACKBONE, or converts MobileNetV2 from ../shared.
func BenchmarkFeatures(b *testing.B) {
	dir := os.Getenv("LESSDATA_BENCH_BACKBONE")
	if dir == "" {
		dir = fetched(b, "mobilenet_v2")
	}
	bb, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	w, h := bb.InputSize()
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			in := make([]float32, n*w*h*3)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range in {
				in[i] = r.Float32()*2 - 1
			}
			if _, _, err := bb.RunNormalized(in, n, false); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := bb.RunNormalized(in, n, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
