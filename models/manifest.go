package models

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed manifest.json
var manifestJSON []byte

// File is one file of a backbone's source, pinned by its sha256.
type File struct {
	File   string `json:"file"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Entry is a backbone the zoo knows how to fetch and convert.
type Entry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Dir names the entry's folder in a mirror: a mirror holds Dir/<file> for each file.
	Dir    string `json:"dir"`
	Format string `json:"format"` // "tflite": converted to a SavedModel by ConvertTFLite
	Model  File   `json:"model"`
	Labels *File  `json:"labels,omitempty"`
}

// Manifest returns the known backbones, sorted by name.
func Manifest() ([]Entry, error) {
	var m struct {
		Backbones []Entry `json:"backbones"`
	}
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, fmt.Errorf("backbone manifest: %w", err)
	}
	sort.Slice(m.Backbones, func(i, j int) bool { return m.Backbones[i].Name < m.Backbones[j].Name })
	return m.Backbones, nil
}

// Lookup returns the manifest entry with the given name, or an error listing the known names.
func Lookup(name string) (Entry, error) {
	entries, err := Manifest()
	if err != nil {
		return Entry{}, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		if e.Name == name {
			return e, nil
		}
		names[i] = e.Name
	}
	return Entry{}, fmt.Errorf("unknown backbone %q (known: %s; or give a backbone folder)", name, strings.Join(names, ", "))
}
