package audit

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Edge causes, as bits.
const (
	byPixels = 1 << iota
	byPHash
	byFeatures
)

// duplicates groups the entries that are exact copies (same decoded pixels) or near copies
// (perceptual hashes within t.HashDistance, or feature cosine similarity of at least
// t.Similarity when features are there), joining groups transitively.
func duplicates(es []*entry, t Thresholds) []Group {
	parent := make([]int, len(es))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	cause := map[int]int{} // root -> causes of its edges
	union := func(i, j, c int) {
		a, b := find(i), find(j)
		if a != b {
			parent[b] = a
			cause[a] |= cause[b]
		}
		cause[a] |= c
	}
	unit := normalized(es, true)
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			c := 0
			if es[i].pixHash == es[j].pixHash {
				c |= byPixels
			} else if bits.OnesCount64(es[i].phash^es[j].phash) <= t.HashDistance {
				c |= byPHash
			}
			if unit != nil && dot(unit[i], unit[j]) >= t.Similarity {
				c |= byFeatures
			}
			if c != 0 {
				union(i, j, c)
			}
		}
	}
	members := map[int][]int{}
	var roots []int
	for i := range es {
		r := find(i)
		if len(members[r]) == 0 {
			roots = append(roots, r)
		}
		members[r] = append(members[r], i)
	}
	var groups []Group
	for _, r := range roots {
		m := members[r]
		if len(m) < 2 {
			continue
		}
		g := Group{Kind: KindExact, By: causes(cause[r]), Similarity: 1}
		if unit == nil {
			g.Similarity = 0
		}
		for a, i := range m {
			e := es[i]
			g.Items = append(g.Items, e.ItemRef)
			for _, j := range m[a+1:] {
				if es[j].pixHash != e.pixHash {
					g.Kind = KindNear
				}
				g.HashDistance = max(g.HashDistance, bits.OnesCount64(e.phash^es[j].phash))
				if unit != nil {
					g.Similarity = math.Min(g.Similarity, round3(dot(unit[i], unit[j])))
				}
			}
			g.Leak = g.Leak || e.Split != g.Items[0].Split
			g.LabelConflict = g.LabelConflict || e.Class != g.Items[0].Class
		}
		groups = append(groups, g)
	}
	return groups
}

func causes(c int) string {
	var parts []string
	for _, p := range []struct {
		bit  int
		name string
	}{{byPixels, "pixels"}, {byPHash, "phash"}, {byFeatures, "features"}} {
		if c&p.bit != 0 {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, "+")
}

// normalized returns the entries' features scaled to unit length, or nil when they have none.
// With center, the mean feature vector is subtracted first: the cosine similarity of centred
// features discounts what all images of the dataset share (all chest X-rays look alike to an
// ImageNet backbone), so it separates copies from merely similar images on any backbone.
func normalized(es []*entry, center bool) [][]float64 {
	if len(es) == 0 || es[0].feat == nil {
		return nil
	}
	mean := make([]float64, len(es[0].feat))
	if center {
		for _, e := range es {
			for k, x := range e.feat {
				mean[k] += float64(x) / float64(len(es))
			}
		}
	}
	out := make([][]float64, len(es))
	for i, e := range es {
		v := make([]float64, len(e.feat))
		var n float64
		for k, x := range e.feat {
			v[k] = float64(x) - mean[k]
			n += v[k] * v[k]
		}
		if n = math.Sqrt(n); n > 0 {
			for k := range v {
				v[k] /= n
			}
		}
		out[i] = v
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// describe is a one-line account of the group.
func (g Group) describe() string {
	var tags []string
	if g.LabelConflict {
		tags = append(tags, "LABEL CONFLICT")
	}
	if g.Leak {
		tags = append(tags, "LEAK train/validation")
	}
	what := "exact copies (same pixels)"
	if g.Kind == KindNear {
		// A group of more than two reports the loosest pair.
		most, least := "", ""
		if len(g.Items) > 2 {
			most, least = "at most ", "at least "
		}
		var evidence []string
		if strings.Contains(g.By, "phash") {
			evidence = append(evidence, fmt.Sprintf("perceptual hashes %s%d of 64 bits apart", most, g.HashDistance))
		}
		if g.Similarity > 0 {
			evidence = append(evidence, fmt.Sprintf("feature cosine %s%.3f", least, g.Similarity))
		}
		what = "near copies (" + strings.Join(evidence, ", ") + ")"
	}
	s := fmt.Sprintf("%d %s", len(g.Items), what)
	if len(tags) > 0 {
		s = strings.Join(tags, ", ") + ": " + s
	}
	return s
}
