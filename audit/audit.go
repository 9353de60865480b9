package audit

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
)

// Split names used in item references.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
)

// Group kinds.
const (
	KindExact     = "exact"      // the same file or the same decoded pixels
	KindNear      = "near"       // a near copy: close hashes or features, confirmed by the aligned pixels
	KindLookAlike = "look-alike" // close hashes or features, but the aligned pixels differ: not a copy
)

// Flag kinds.
const (
	KindPlaceholder  = "placeholder"   // a stand-in such as "image not found": flat, mostly white, few colours
	KindTiny         = "tiny"          // shorter side below TinySide pixels
	KindUniform      = "uniform"       // (almost) one colour
	KindTransparent  = "transparent"   // a large share of transparent pixels
	KindNonPhoto     = "non-photo"     // logo, clip-art or drawing by simple statistics
	KindLabelSuspect = "label-suspect" // its class is improbable under cross-validated predictions
	KindOutlier      = "outlier"       // far from every class in feature space
)

// ItemRef names one image of the dataset.
type ItemRef struct {
	Path  string `json:"path"`  // relative to the data folder, with forward slashes
	Split string `json:"split"` // SplitTrain or SplitValidation
	Class string `json:"class"`
}

// Group is a set of images that are copies of one another, or (KindLookAlike) a pair of
// images that look alike without being copies.
type Group struct {
	// ID numbers the groups 1, 2, ... and, separately, the look-alikes, in report order; the
	// summary and the contact sheet use the same numbers (see Title).
	ID    int       `json:"id"`
	Kind  string    `json:"kind"` // KindExact, KindNear or KindLookAlike
	Items []ItemRef `json:"items"`
	// Leak is set when the group has training and validation images: the validation score
	// then measures memory, not generalisation.
	Leak bool `json:"leak"`
	// LabelConflict is set when the group's images are filed under different classes.
	LabelConflict bool `json:"label_conflict"`
	// By says what found the group, joined by "+": "pixels" (the same pixels or file),
	// "phash", "aligned" (aligned pixels correlate) and "features".
	By string `json:"by"`
	// IdenticalFiles is set when every member is the same file, byte for byte.
	IdenticalFiles bool `json:"identical_files,omitempty"`
	// HashDistance is the largest perceptual-hash Hamming distance (of 64 bits) between two
	// members.
	HashDistance int `json:"hash_distance"`
	// Similarity is the smallest cosine similarity of backbone features between two members
	// (0 without a backbone).
	Similarity float64 `json:"similarity,omitempty"`
	// Aligned is the smallest correlation of aligned pixels (of the image details, after the
	// best small shift and scale) of the near-copy pairs that joined the group; for a
	// look-alike, its pair's correlation, below Thresholds.Aligned.
	Aligned float64 `json:"aligned,omitempty"`
}

// Flag is one image that looks wrong, and why.
type Flag struct {
	ItemRef
	Kind   string  `json:"kind"`
	Score  float64 `json:"score"` // the statistic behind the flag (see Reason)
	Reason string  `json:"reason"`
	// SuggestedClass is the class the cross-validated predictions prefer (label suspects).
	SuggestedClass string `json:"suggested_class,omitempty"`
}

// Skip is a file that could not be used, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ClassCount is one class's images per split.
type ClassCount struct {
	Class      string  `json:"class"`
	Train      int     `json:"train"`
	Validation int     `json:"validation"`
	ValShare   float64 `json:"validation_share"` // validation / (train + validation)
}

// Balance describes the class and split balance.
type Balance struct {
	Classes []ClassCount `json:"classes"`
	// Imbalance is the largest class's image count over the smallest's (training split).
	Imbalance float64 `json:"imbalance"`
	// Notes are the balance problems found, as sentences.
	Notes []string `json:"notes,omitempty"`
}

// Report is what an audit found.
type Report struct {
	Data    string   `json:"data"`
	Classes []string `json:"classes"`
	Images  int      `json:"images"`
	Balance Balance  `json:"balance"`
	Groups  []Group  `json:"groups"`
	// LookAlikes are pairs that look alike (close perceptual hashes or features) but whose
	// pixels do not match: listed for a look, never excluded.
	LookAlikes []Group `json:"look_alikes"`
	// LookAlikesFound is the number of look-alike pairs before the most alike were kept.
	LookAlikesFound int    `json:"look_alikes_found,omitempty"`
	Flags           []Flag `json:"flags"`
	Skipped         []Skip `json:"skipped"`
	Backbone        string `json:"backbone,omitempty"`
	// CVAccuracy is the out-of-fold accuracy of the cross-validated head behind the label
	// suspects (0 when it did not run).
	CVAccuracy float64 `json:"cv_accuracy,omitempty"`
	// SuspectsFound is the number of label suspects before the least probable were kept.
	SuspectsFound int        `json:"label_suspects_found,omitempty"`
	Quick         bool       `json:"quick"`
	Thresholds    Thresholds `json:"thresholds"`
	Seconds       float64    `json:"seconds"`

	thumbs map[string]*image.RGBA // by ItemRef.Path, for the contact sheet
}

// Options configures Run.
type Options struct {
	// Data is the dataset folder; item paths in the report are relative to it. When empty it
	// is the deepest folder holding every image.
	Data string
	// Backbone enables the feature checks (feature near-duplicates, label suspects, outliers);
	// nil skips them.
	Backbone *backbone.Backbone
	// FeatureCache shares plain-image features with the training commands (nil: none).
	FeatureCache *backbone.FeatureCache
	// Seed fixes the cross-validation folds and the head's initial weights.
	Seed uint64
	// Quick runs only the cheap checks (exact and perceptual duplicates, junk, balance), for
	// warnings at the start of training; the backbone is not used.
	Quick bool
	// Progress, when set, is told how far each stage ("decoding", "features",
	// "cross-validation") is.
	Progress func(stage string, done, total int)
}

// Run audits ds: it decodes every image once (in parallel), hashes and measures it, and with
// a backbone extracts the plain image's features, then looks for duplicates, junk, label
// problems and imbalance. Files that fail to decode are reported in Skipped, with ds.Skipped
// (but for Thumbs.db and desktop.ini, which are not meant to be images).
func Run(ctx context.Context, ds *dataset.Dataset, opt Options) (*Report, error) {
	start := time.Now()
	if ds == nil || len(ds.Classes) == 0 {
		return nil, fmt.Errorf("audit: empty dataset")
	}
	data := opt.Data
	if data == "" {
		data = commonDir(ds)
	}
	progress := func(stage string) func(int, int) {
		return func(done, total int) {
			if opt.Progress != nil {
				opt.Progress(stage, done, total)
			}
		}
	}
	r := &Report{Data: data, Classes: ds.Classes, Quick: opt.Quick, Thresholds: Defaults(), thumbs: map[string]*image.RGBA{}}
	for _, s := range ds.Skipped {
		if !systemFile(s.Path) {
			r.Skipped = append(r.Skipped, Skip{Path: rel(data, s.Path), Reason: s.Reason})
		}
	}
	var entries []*entry
	for si, items := range [][]dataset.Item{ds.Train, ds.Val} {
		split := []string{SplitTrain, SplitValidation}[si]
		for _, it := range items {
			if it.Class < 0 || it.Class >= len(ds.Classes) {
				return nil, fmt.Errorf("audit: %s has class index %d, the dataset has %d classes", it.Path, it.Class, len(ds.Classes))
			}
			entries = append(entries, &entry{ItemRef: ItemRef{Path: rel(data, it.Path), Split: split, Class: ds.Classes[it.Class]},
				abs: it.Path, class: it.Class})
		}
	}
	b := opt.Backbone
	if opt.Quick {
		b = nil
	}
	if b != nil {
		r.Backbone = b.Spec.Name
	}
	if err := decodeAll(ctx, entries, b, opt.FeatureCache, progress); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var ok []*entry
	for _, e := range entries {
		if e.err != nil {
			r.Skipped = append(r.Skipped, Skip{Path: e.Path, Reason: e.err.Error()})
			continue
		}
		r.thumbs[e.Path] = e.thumb
		ok = append(ok, e)
	}
	r.Images = len(ok)
	var err error
	if r.Groups, r.LookAlikes, r.LookAlikesFound, err = duplicates(ctx, ok, r.Thresholds); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	r.Flags = junk(ok, r.Thresholds)
	if b != nil && len(ok) > 0 {
		flags, found, acc, err := labelChecks(ctx, ok, ds.Classes, opt.Seed, r.Thresholds, progress("cross-validation"))
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		r.Flags = append(r.Flags, flags...)
		r.CVAccuracy, r.SuspectsFound = acc, found
	}
	r.Balance = balance(ds.Classes, ok)
	r.sort()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// decodeAll inspects the entries; with a backbone it also sets their features, a chunk at a
// time so that only a chunk's resized inputs are held in memory.
func decodeAll(ctx context.Context, entries []*entry, b *backbone.Backbone, cache *backbone.FeatureCache, progress func(string) func(int, int)) error {
	var in image.Point
	if b != nil {
		in.X, in.Y = b.InputSize()
	}
	if cache == nil {
		cache = &backbone.FeatureCache{}
	}
	chunk := len(entries)
	if b != nil {
		chunk = 4 * backbone.DefaultBatch
	}
	decoded, featured := progress("decoding"), progress("features")
	for s := 0; s < len(entries); s += max(chunk, 1) {
		part := entries[s:min(s+chunk, len(entries))]
		if err := inspect(ctx, part, in, func(done int) { decoded(s+done, len(entries)) }); err != nil {
			return err
		}
		if b == nil {
			continue
		}
		if err := features(ctx, part, b, cache); err != nil {
			return err
		}
		featured(s+len(part), len(entries))
	}
	return nil
}

// features sets the plain-image features of the decoded entries, from the cache or the backbone.
func features(ctx context.Context, entries []*entry, b *backbone.Backbone, cache *backbone.FeatureCache) error {
	w, h := b.InputSize()
	dim := b.Spec.Features.Size
	var todo []*entry
	for _, e := range entries {
		if e.err != nil {
			continue
		}
		if v, ok := cache.Get(backbone.PlainKey(e.fileHash, w, h), dim); ok {
			e.feat = v
		} else {
			todo = append(todo, e)
		}
	}
	imgs := make([]*dataset.Image, len(todo))
	for i, e := range todo {
		imgs[i] = e.input
	}
	feats, err := b.Features(ctx, imgs)
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	for i, e := range todo {
		e.feat = feats[i]
		cache.Put(backbone.PlainKey(e.fileHash, w, h), e.feat)
	}
	for _, e := range entries {
		e.input = nil
	}
	return nil
}

// systemFile reports whether path is a file the operating system leaves in folders of
// images (Windows' Thumbs.db and desktop.ini), which is not worth reporting as unreadable.
func systemFile(path string) bool {
	switch strings.ToLower(filepath.Base(path)) {
	case "thumbs.db", "ehthumbs.db", "desktop.ini":
		return true
	}
	return false
}

// commonDir returns the deepest folder that holds every item of ds.
func commonDir(ds *dataset.Dataset) string {
	var dir string
	first := true
	for _, items := range [][]dataset.Item{ds.Train, ds.Val} {
		for _, it := range items {
			d := filepath.Dir(it.Path)
			if first {
				dir, first = d, false
				continue
			}
			for dir != d && !strings.HasPrefix(d, dir+string(filepath.Separator)) {
				parent := filepath.Dir(dir)
				if parent == dir {
					break
				}
				dir = parent
			}
		}
	}
	return dir
}

// rel returns path relative to dir with forward slashes, or path itself when it is not inside dir.
func rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		ad, err1 := filepath.Abs(dir)
		ap, err2 := filepath.Abs(path)
		if err1 != nil || err2 != nil {
			return filepath.ToSlash(path)
		}
		r, err = filepath.Rel(ad, ap)
	}
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(r)
}

// sort orders groups (label conflicts, then leaks, then the rest) and flags (junk, then label
// suspects and outliers, each by score), with paths breaking ties, and numbers the groups and
// the look-alikes.
func (r *Report) sort() {
	sort.SliceStable(r.Groups, func(i, j int) bool {
		a, b := r.Groups[i], r.Groups[j]
		if ra, rb := a.rank(), b.rank(); ra != rb {
			return ra < rb
		}
		return a.Items[0].Path < b.Items[0].Path
	})
	order := map[string]int{KindPlaceholder: 0, KindUniform: 1, KindTiny: 2, KindTransparent: 3, KindNonPhoto: 4, KindLabelSuspect: 5, KindOutlier: 6}
	sort.SliceStable(r.Flags, func(i, j int) bool {
		a, b := r.Flags[i], r.Flags[j]
		if a.Kind != b.Kind {
			return order[a.Kind] < order[b.Kind]
		}
		if a.Kind == KindLabelSuspect && a.Score != b.Score {
			return a.Score < b.Score // least probable own class first
		}
		if a.Kind == KindOutlier && a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.Path < b.Path
	})
	for i := range r.Groups {
		r.Groups[i].ID = i + 1
	}
	for i := range r.LookAlikes {
		r.LookAlikes[i].ID = i + 1
	}
}

func (g Group) rank() int {
	switch {
	case g.LabelConflict:
		return 0
	case g.Leak:
		return 1
	}
	return 2
}
