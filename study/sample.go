// Package study runs repeated experiments and summarises them: nested stratified training
// subsets for learning curves, stratified k-fold splits for cross-validation, a resumable
// runner that executes a grid of cells in parallel, and the statistics (t intervals, paired
// differences) that turn many noisy numbers into a claim with its uncertainty.
package study

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// byClass groups example indices by label, each group in index order.
func byClass(labels []int, classes int) ([][]int, error) {
	groups := make([][]int, classes)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("label %d of example %d is not below %d", l, i, classes)
		}
		groups[l] = append(groups[l], i)
	}
	return groups, nil
}

// NestedSubsets draws training subsets for a learning curve: for each size (images per class;
// 0 means all), a stratified random subset of the examples, such that each subset contains every
// smaller one of the same seed. Every class contributes min(size, its count) examples. The
// returned index lists are sorted.
func NestedSubsets(labels []int, classes int, sizes []int, seed uint64) ([][]int, error) {
	groups, err := byClass(labels, classes)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x6e6573746564))
	for c, g := range groups {
		if len(g) == 0 {
			return nil, fmt.Errorf("class %d has no examples", c)
		}
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
	}
	out := make([][]int, len(sizes))
	for s, size := range sizes {
		if size < 0 {
			return nil, fmt.Errorf("size %d is negative", size)
		}
		for _, g := range groups {
			n := len(g)
			if size > 0 && size < n {
				n = size
			}
			out[s] = append(out[s], g[:n]...) // a prefix of one permutation: nested by construction
		}
		sort.Ints(out[s])
	}
	return out, nil
}

// StratifiedFolds splits the examples into k folds with each class spread as evenly as it can
// be, after a seeded shuffle. It returns the indices of each fold, sorted. Errors name a class
// by its index; FoldsFit checks the counts first with the classes' names.
func StratifiedFolds(labels []int, classes, k int, seed uint64) ([][]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("need at least 2 folds, got %d", k)
	}
	groups, err := byClass(labels, classes)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x666f6c6473))
	folds := make([][]int, k)
	next := 0 // continue dealing where the last class stopped, so fold sizes stay balanced
	for c, g := range groups {
		if len(g) < k {
			return nil, fmt.Errorf("class %d has %d examples, fewer than the %d folds", c, len(g), k)
		}
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		for _, i := range g {
			folds[next] = append(folds[next], i)
			next = (next + 1) % k
		}
	}
	for _, f := range folds {
		sort.Ints(f)
	}
	return folds, nil
}

// Complement returns the indices in [0, n) that are not in sorted.
func Complement(n int, sorted []int) []int {
	out := make([]int, 0, n-len(sorted))
	j := 0
	for i := 0; i < n; i++ {
		if j < len(sorted) && sorted[j] == i {
			j++
			continue
		}
		out = append(out, i)
	}
	return out
}

// FoldsFit checks that every class has at least k examples, naming the first that has not.
func FoldsFit(labels []int, names []string, k int) error {
	counts := make([]int, len(names))
	for _, l := range labels {
		if l >= 0 && l < len(counts) {
			counts[l]++
		}
	}
	for c, n := range counts {
		if n < k {
			return fmt.Errorf("class %q has %d images, fewer than the %d folds: use at most %d folds", names[c], n, k, n)
		}
	}
	return nil
}

// SubsetsFit checks that every class has at least the largest of sizes (images per class; 0 is
// all) training examples, naming the first that has not.
func SubsetsFit(labels []int, names []string, sizes []int) error {
	counts := make([]int, len(names))
	for _, l := range labels {
		if l >= 0 && l < len(counts) {
			counts[l]++
		}
	}
	most := 0
	for _, s := range sizes {
		most = max(most, s)
	}
	for c, n := range counts {
		if n < most {
			return fmt.Errorf("class %q has %d training images, fewer than the size %d: use sizes up to %d, or all", names[c], n, most, n)
		}
	}
	return nil
}
