package augment

import (
	"math/rand/v2"
	"testing"
)

func benchRandom(b *testing.B, size int) {
	src := randomImg(rand.New(rand.NewPCG(1, 2)), size, size)
	a := articleAugmenter(b, 1)
	dst := NewImage(size, size)
	b.ReportAllocs()
	b.SetBytes(int64(len(src.Pix) * 4))
	for b.Loop() {
		a.Random(dst, src)
	}
}

// BenchmarkRandom224 measures one Article() random transform + standardise
// of a 224×224 image.
func BenchmarkRandom224(b *testing.B) { benchRandom(b, 224) }

// BenchmarkRandom64 is BenchmarkRandom224 for 64×64.
func BenchmarkRandom64(b *testing.B) { benchRandom(b, 64) }
