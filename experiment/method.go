package experiment

import (
	"fmt"
	"slices"
	"strings"
)

// Method is a way to train a classifier.
type Method string

// The methods lessdata compares.
const (
	// Scratch trains the article's two-block CNN from nothing, with augmentation.
	Scratch Method = "scratch"
	// Transfer fits a head on the features of a frozen pretrained backbone.
	Transfer Method = "transfer"
	// Finetune fits the transfer head, then trains the backbone's top blocks with it.
	Finetune Method = "finetune"
)

// AllMethods lists the methods in the order reports show them.
var AllMethods = []Method{Scratch, Transfer, Finetune}

// NeedsBackbone reports whether the method reads features of a pretrained backbone.
func (m Method) NeedsBackbone() bool { return m == Transfer || m == Finetune }

// ParseMethods reads a comma-separated list of method names, in AllMethods order, without
// repeats.
func ParseMethods(s string) ([]Method, error) {
	var out []Method
	for _, f := range strings.Split(s, ",") {
		m := Method(strings.TrimSpace(f))
		if !slices.Contains(AllMethods, m) {
			return nil, fmt.Errorf("%q is not a method (methods: %s)", f, joinMethods(AllMethods))
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Method) int { return slices.Index(AllMethods, a) - slices.Index(AllMethods, b) })
	return out, nil
}

func joinMethods(ms []Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func needsBackbone(ms []Method) bool {
	return slices.ContainsFunc(ms, Method.NeedsBackbone)
}
