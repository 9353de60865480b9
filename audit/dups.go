package audit

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
)

// Edge causes, as bits.
const (
	byPixels   = 1 << iota // the same decoded pixels (or the same file)
	byPHash                // perceptual hashes within Thresholds.HashDistance
	byAligned              // aligned pixels correlate at least Thresholds.Aligned
	byFeatures             // backbone features at least Thresholds.Similarity alike
)

// pair is two entries (indices i < j) that may be copies, and the evidence.
type pair struct {
	i, j    int
	cause   int
	hash    int     // pHash distance
	cos     float64 // feature cosine (centred), 0 without features
	aligned float64 // aligned-pixel correlation, when checked
}

// exact reports whether the pair has the same pixels.
func (p pair) exact() bool { return p.cause&byPixels != 0 }

// confirmed reports whether the pair is a copy: the same pixels, or a near copy whose aligned
// pixels agree and, with features, whose features agree too. A close perceptual hash alone is
// not enough: photos of different objects in one pose on one background hash alike.
func (p pair) confirmed(features bool) bool {
	if p.exact() {
		return true
	}
	return p.cause&byAligned != 0 && (!features || p.cause&byFeatures != 0)
}

// duplicates groups the entries that are copies, joining groups transitively: exact copies
// (same file or same decoded pixels) and confirmed near copies (pairs within t.HashDistance
// pHash bits, or t.Similarity feature cosine, whose aligned pixels correlate at least
// t.Aligned, and whose features agree when there are features). It also returns the
// look-alikes: pairs that the hash (within t.LookAlikeDistance) or the features took for
// copies but the pixels did not confirm, most alike first, at most t.MaxLookAlikes of them,
// and how many there were.
func duplicates(ctx context.Context, es []*entry, t Thresholds) (groups, lookAlikes []Group, found int, err error) {
	unit := normalized(es, true)
	var pairs []pair
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			p := pair{i: i, j: j, hash: bits.OnesCount64(es[i].phash ^ es[j].phash)}
			if es[i].pixHash == es[j].pixHash || es[i].fileHash == es[j].fileHash {
				p.cause |= byPixels
			} else if p.hash <= t.HashDistance {
				p.cause |= byPHash
			}
			if unit != nil {
				if p.cos = dot(unit[i], unit[j]); p.cos >= t.Similarity {
					p.cause |= byFeatures
				}
			}
			if p.cause != 0 {
				pairs = append(pairs, p)
			}
		}
	}
	if err := alignPairs(ctx, es, pairs, t.Aligned); err != nil {
		return nil, nil, 0, err
	}
	parent := make([]int, len(es))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	features := unit != nil
	for _, p := range pairs {
		if p.confirmed(features) {
			if a, b := find(p.i), find(p.j); a != b {
				parent[b] = a
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
	edges := map[int][]pair{} // root -> the confirmed pairs inside its group
	for _, p := range pairs {
		if p.confirmed(features) {
			edges[find(p.i)] = append(edges[find(p.i)], p)
		}
	}
	for _, r := range roots {
		if m := members[r]; len(m) > 1 {
			groups = append(groups, group(es, m, edges[r], unit))
		}
	}
	for _, p := range pairs {
		if p.confirmed(features) || find(p.i) == find(p.j) {
			continue
		}
		if p.cause&byFeatures == 0 && p.hash > t.LookAlikeDistance {
			continue
		}
		g := Group{Kind: KindLookAlike, Items: []ItemRef{es[p.i].ItemRef, es[p.j].ItemRef}, By: causes(p.cause),
			HashDistance: p.hash, Aligned: round3(p.aligned)}
		if features {
			g.Similarity = round3(p.cos)
		}
		lookAlikes = append(lookAlikes, g)
	}
	sort.SliceStable(lookAlikes, func(i, j int) bool {
		a, b := lookAlikes[i], lookAlikes[j]
		if sa, sb := a.crossSplit(), b.crossSplit(); sa != sb {
			return sa
		}
		return a.Aligned > b.Aligned
	})
	found = len(lookAlikes)
	if len(lookAlikes) > t.MaxLookAlikes {
		lookAlikes = lookAlikes[:t.MaxLookAlikes]
	}
	return groups, lookAlikes, found, nil
}

// alignPairs measures the aligned-pixel correlation of the pairs that are not exact copies
// (in parallel) and marks those reaching limit.
func alignPairs(ctx context.Context, es []*entry, pairs []pair, limit float64) error {
	prepared := map[int]*alignImage{}
	for _, p := range pairs {
		if !p.exact() {
			prepared[p.i], prepared[p.j] = nil, nil
		}
	}
	var idx []int
	for i := range prepared {
		idx = append(idx, i)
	}
	images := make([]*alignImage, len(idx))
	if err := parallel(ctx, len(idx), func(k int) { images[k] = newAlignImage(es[idx[k]].grey) }); err != nil {
		return err
	}
	for k, i := range idx {
		prepared[i] = images[k]
	}
	return parallel(ctx, len(pairs), func(k int) {
		p := &pairs[k]
		if p.exact() {
			return
		}
		p.aligned = pixelSimilarity(prepared[p.i], prepared[p.j])
		if p.aligned >= limit {
			p.cause |= byAligned
		}
	})
}

// group describes the copies m (entry indices) joined by the confirmed pairs edges.
func group(es []*entry, m []int, edges []pair, unit [][]float64) Group {
	g := Group{Kind: KindExact, Similarity: 1, Aligned: 1}
	if unit == nil {
		g.Similarity = 0
	}
	cause := 0
	for _, p := range edges {
		cause |= p.cause
		if !p.exact() {
			g.Kind = KindNear
			g.Aligned = math.Min(g.Aligned, round3(p.aligned))
		}
	}
	g.By = causes(cause)
	identical := true
	for a, i := range m {
		e := es[i]
		g.Items = append(g.Items, e.ItemRef)
		for _, j := range m[a+1:] {
			if es[j].pixHash != e.pixHash && es[j].fileHash != e.fileHash {
				g.Kind = KindNear
			}
			identical = identical && es[j].fileHash == e.fileHash
			g.HashDistance = max(g.HashDistance, bits.OnesCount64(e.phash^es[j].phash))
			if unit != nil {
				g.Similarity = math.Min(g.Similarity, round3(dot(unit[i], unit[j])))
			}
		}
		g.Leak = g.Leak || e.Split != g.Items[0].Split
		g.LabelConflict = g.LabelConflict || e.Class != g.Items[0].Class
	}
	g.IdenticalFiles = identical
	if g.Kind == KindExact {
		g.Aligned = 0
	}
	return g
}

func causes(c int) string {
	var parts []string
	for _, p := range []struct {
		bit  int
		name string
	}{{byPixels, "pixels"}, {byPHash, "phash"}, {byAligned, "aligned"}, {byFeatures, "features"}} {
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

// crossSplit reports whether the group has images of both splits.
func (g Group) crossSplit() bool {
	for _, it := range g.Items {
		if it.Split != g.Items[0].Split {
			return true
		}
	}
	return false
}

// Title names the group as the summary, the contact sheet and audit.json's "id" do:
// "group 3" or "look-alike 2".
func (g Group) Title() string {
	if g.Kind == KindLookAlike {
		return fmt.Sprintf("look-alike %d", g.ID)
	}
	return fmt.Sprintf("group %d", g.ID)
}

// describe is a one-line account of the group.
func (g Group) describe() string {
	if g.Kind == KindLookAlike {
		where := g.Items[0].Split
		if g.crossSplit() {
			where = "train and validation"
		}
		evidence := fmt.Sprintf("perceptual hashes %d of 64 bits apart", g.HashDistance)
		if strings.Contains(g.By, "aligned") { // the pixels agree, the features do not
			evidence += fmt.Sprintf(", aligned pixels correlate %.3f, but the feature cosine is only %.3f", g.Aligned, g.Similarity)
		} else {
			if g.Similarity > 0 {
				evidence += fmt.Sprintf(", feature cosine %.3f", g.Similarity)
			}
			evidence += fmt.Sprintf(", but the aligned pixels correlate only %.3f", g.Aligned)
		}
		return fmt.Sprintf("%d images look alike (%s) but are not copies, kept: %s", len(g.Items), where, evidence)
	}
	var tags []string
	if g.LabelConflict {
		tags = append(tags, "LABEL CONFLICT")
	}
	if g.Leak {
		tags = append(tags, "LEAK train/validation")
	}
	what := "exact copies (same pixels)"
	if g.IdenticalFiles {
		what = "exact copies (identical files)"
	}
	if g.Kind == KindNear {
		// A group of more than two reports the loosest pair.
		most, least := "", ""
		if len(g.Items) > 2 {
			most, least = "at most ", "at least "
		}
		var evidence []string
		if g.HashDistance == 0 {
			evidence = append(evidence, "equal perceptual hashes")
		} else {
			evidence = append(evidence, fmt.Sprintf("perceptual hashes %s%d of 64 bits apart", most, g.HashDistance))
		}
		if g.Aligned > 0 {
			evidence = append(evidence, fmt.Sprintf("aligned pixels correlate %s%.3f", least, g.Aligned))
		}
		if g.Similarity > 0 {
			evidence = append(evidence, fmt.Sprintf("feature cosine %s%.3f", least, g.Similarity))
		}
		what = "near copies (" + strings.Join(evidence, ", ") + ")"
		if strings.Contains(g.By, "pixels") {
			what += ", some of them exact"
		}
	}
	s := fmt.Sprintf("%d %s", len(g.Items), what)
	if len(tags) > 0 {
		s = strings.Join(tags, ", ") + ": " + s
	}
	return s
}
