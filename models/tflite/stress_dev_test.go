package tflite

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"testing"
	"time"
)

func TestDevStress(t *testing.T) {
	good := testModel()
	rng := rand.New(rand.NewSource(2))
	for it := range 200000 {
		bad := slices.Clone(good)
		for range 1 + rng.Intn(8) {
			switch rng.Intn(3) {
			case 0:
				bad[rng.Intn(len(bad))] = byte(rng.Intn(256))
			case 1:
				i := rng.Intn(len(bad) - 4)
				v := []uint32{0, 1, 0xffffffff, 0x7fffffff, uint32(rng.Intn(2000)), 0x80000000}[rng.Intn(6)]
				bad[i], bad[i+1], bad[i+2], bad[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
			case 2:
				bad[rng.Intn(len(bad))] ^= 1 << rng.Intn(8)
			}
		}
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				os.WriteFile("/tmp/slow.bin", bad, 0o644)
				panic(fmt.Sprint("slow input at iteration ", it))
			}
		}()
		_ = requireNoCrash(t, bad)
		close(done)
	}
}
