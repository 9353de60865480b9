package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lessdata/lessdata/internal/files"

	"github.com/lessdata/lessdata/dataset"
)

// Exclusion is one image to leave out of training and validation, and why.
type Exclusion struct {
	Path   string `json:"path"` // relative to the data folder, with forward slashes
	Reason string `json:"reason"`
}

// Exclusions returns the images a cleaned dataset leaves out: placeholders and junk (tiny,
// uniform, transparent, non-photo), the validation copies of every leak (the training copies
// stay), and every image of a group whose labels disagree. Label suspects and outliers are not
// excluded: a person should look at them first.
func (r *Report) Exclusions() []Exclusion {
	var out []Exclusion
	seen := map[string]int{}
	add := func(p, reason string) {
		if i, ok := seen[p]; ok {
			if !strings.Contains(out[i].Reason, reason) {
				out[i].Reason += "; " + reason
			}
			return
		}
		seen[p] = len(out)
		out = append(out, Exclusion{Path: p, Reason: reason})
	}
	for _, g := range r.Groups {
		switch {
		case g.LabelConflict:
			for _, it := range g.Items {
				add(it.Path, fmt.Sprintf("label conflict: %s copies filed under %s", g.Kind, strings.Join(classesOf(g.Items), " and ")))
			}
		case g.Leak:
			var kept []string
			for _, it := range g.Items {
				if it.Split == SplitTrain {
					kept = append(kept, it.Path)
				}
			}
			for _, it := range g.Items {
				if it.Split == SplitValidation {
					add(it.Path, fmt.Sprintf("leak: %s copy of training image %s", g.Kind, strings.Join(kept, ", ")))
				}
			}
		}
	}
	for _, f := range r.Flags {
		if f.Kind != KindLabelSuspect && f.Kind != KindOutlier {
			add(f.Path, f.Kind+": "+f.Reason)
		}
	}
	return out
}

func classesOf(items []ItemRef) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, it.Class) {
			out = append(out, it.Class)
		}
	}
	return out
}

// WriteExclusions writes an exclusion list as JSON (atomically).
func WriteExclusions(path string, ex []Exclusion) error {
	if ex == nil {
		ex = []Exclusion{}
	}
	if err := files.WriteJSON(path, ex); err != nil {
		return fmt.Errorf("exclusions: %w", err)
	}
	return nil
}

// ReadExclusions reads an exclusion list written by WriteExclusions (a JSON list of
// {"path", "reason"}; paths relative to the data folder).
func ReadExclusions(path string) ([]Exclusion, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exclusions: %w", err)
	}
	var ex []Exclusion
	if err := json.Unmarshal(b, &ex); err != nil {
		return nil, fmt.Errorf("read exclusions %s: %w (want a JSON list of {\"path\": ..., \"reason\": ...})", path, err)
	}
	for i, e := range ex {
		if e.Path == "" {
			return nil, fmt.Errorf("read exclusions %s: entry %d has no path", path, i+1)
		}
	}
	return ex, nil
}

// ApplyExclusions returns a copy of ds without the excluded images (whose paths are relative to
// dataDir), and the exclusions that matched an image. ds and the data folder are not changed.
func ApplyExclusions(ds *dataset.Dataset, dataDir string, ex []Exclusion) (kept *dataset.Dataset, excluded []Exclusion) {
	drop := map[string]Exclusion{}
	for _, e := range ex {
		drop[path.Clean(filepath.ToSlash(e.Path))] = e
	}
	used := map[string]bool{}
	filter := func(items []dataset.Item) []dataset.Item {
		var out []dataset.Item
		for _, it := range items {
			p := rel(dataDir, it.Path)
			if e, ok := drop[p]; ok {
				if !used[p] {
					used[p] = true
					excluded = append(excluded, e)
				}
				continue
			}
			out = append(out, it)
		}
		return out
	}
	kept = &dataset.Dataset{Classes: append([]string(nil), ds.Classes...), Train: filter(ds.Train), Val: filter(ds.Val),
		Skipped: append([]dataset.Skip(nil), ds.Skipped...)}
	return kept, excluded
}
