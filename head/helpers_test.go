package head

import (
	"math/rand/v2"
)

// synthetic draws n rows of d features in classes Gaussian clusters: class centres at distance
// about sep from one another, unit noise, class i%classes for row i.
func synthetic(seed uint64, n, d, classes int, sep float64) Dataset {
	r := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64() * sep / 2
		}
	}
	ds := Dataset{Classes: classes, X: make([][]float32, n), Labels: make([]int, n)}
	for i := range ds.X {
		y := i % classes
		ds.Labels[i] = y
		ds.X[i] = make([]float32, d)
		for j := range ds.X[i] {
			ds.X[i][j] = float32(centres[y][j]/2 + r.NormFloat64())
		}
	}
	return ds
}
