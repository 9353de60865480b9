package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lessdata/lessdata/internal/files"
)

// FormatVersion is the bundle format this build writes and reads.
const FormatVersion = 1

// File is the manifest's name inside a run folder.
const File = "bundle.json"

// ModelDir is the frozen SavedModel's folder inside a run folder.
const ModelDir = "model"

// Kinds of model.
const (
	KindScratch  = "scratch"
	KindTransfer = "transfer"
	// KindFinetune is a backbone fine-tuned with its head: one SavedModel that reads images
	// normalised as Normalize says.
	KindFinetune = "finetune"
)

// Manifest describes a bundle.
type Manifest struct {
	FormatVersion int      `json:"format_version"`
	Kind          string   `json:"kind"`
	Classes       []string `json:"classes"`
	// Positive names the positive class of a two-class model ("" when not chosen).
	Positive string `json:"positive,omitempty"`
	// Threshold, for a two-class model, is the probability of Positive (the second class when
	// Positive is empty) at or above which an image is called Positive; 0 means argmax (0.5).
	Threshold float64 `json:"threshold,omitempty"`
	// Input is the image size the model (or its backbone) takes.
	Input      Size       `json:"input"`
	Preprocess Preprocess `json:"preprocess"`
	// TTA, for transfer models, averages each image's probabilities with those of views of it
	// drawn as in training (test-time augmentation).
	TTA *TTA `json:"tta,omitempty"`
	// Normalize is set for fine-tuned models: their input is (x - Mean) / Std per channel of the
	// 0..255 pixels, in ColorOrder.
	Normalize *Normalize `json:"normalize,omitempty"`
	// Backbone is set for transfer models (features come from this backbone) and names the
	// backbone a fine-tuned model started from.
	Backbone *Backbone `json:"backbone,omitempty"`
	Lessdata string    `json:"lessdata_version"`
	Created  string    `json:"created"`
	// Training records how the model was trained (options, data, outcome), for people.
	Training json.RawMessage `json:"training,omitempty"`
}

// Size is an image size in pixels.
type Size struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Preprocess is what turns 0..255 pixels into a scratch model's input: x*Rescale, then
// (x - Mean) / (Std + 1e-6) per channel when Featurewise.
type Preprocess struct {
	Rescale     float32    `json:"rescale"`
	Featurewise bool       `json:"featurewise"`
	Mean        [3]float32 `json:"mean"`
	Std         [3]float32 `json:"std"`
}

// TTA is test-time augmentation: Views views of augmentation Augment (light or article), seeded
// by Seed and each image's content hash.
type TTA struct {
	Augment string `json:"augment"`
	Views   int    `json:"views"`
	Seed    uint64 `json:"seed"`
}

// Normalize turns 0..255 pixels into a fine-tuned backbone's input.
type Normalize struct {
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
	ColorOrder string     `json:"color_order"` // RGB or BGR
}

// Backbone identifies a transfer model's feature extractor.
type Backbone struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	// Features is the length of the feature vector the head reads.
	Features int `json:"features"`
}

// Validate checks a manifest read from disk.
func (m *Manifest) Validate() error {
	if m.FormatVersion > FormatVersion {
		return fmt.Errorf("bundle format %d is newer than this lessdata reads (%d): upgrade lessdata", m.FormatVersion, FormatVersion)
	}
	if m.FormatVersion < 1 {
		return fmt.Errorf("bundle has no format_version")
	}
	if m.Kind != KindScratch && m.Kind != KindTransfer && m.Kind != KindFinetune {
		return fmt.Errorf("bundle kind %q is not %q, %q or %q", m.Kind, KindScratch, KindTransfer, KindFinetune)
	}
	if m.TTA != nil && (m.Kind != KindTransfer || m.TTA.Views < 1 || (m.TTA.Augment != "light" && m.TTA.Augment != "article")) {
		return fmt.Errorf("bundle's test-time augmentation (%+v) is not light or article views of a transfer model", *m.TTA)
	}
	if m.Kind == KindFinetune && (m.Normalize == nil || m.Normalize.Std[0] == 0 || m.Normalize.Std[1] == 0 || m.Normalize.Std[2] == 0) {
		return fmt.Errorf("fine-tuned bundle does not say how to normalise its input (normalize: mean, std)")
	}
	if len(m.Classes) < 2 {
		return fmt.Errorf("bundle has %d classes, need at least 2", len(m.Classes))
	}
	if m.Threshold != 0 && (len(m.Classes) != 2 || !(m.Threshold > 0 && m.Threshold < 1)) {
		return fmt.Errorf("bundle threshold %v applies to two classes and must be between 0 and 1", m.Threshold)
	}
	if m.Positive != "" && !slices.Contains(m.Classes, m.Positive) {
		return fmt.Errorf("bundle names positive class %q, which is not among its classes (%s)", m.Positive, strings.Join(m.Classes, ", "))
	}
	if m.Input.Width <= 0 || m.Input.Height <= 0 {
		return fmt.Errorf("bundle input size %dx%d is not positive", m.Input.Width, m.Input.Height)
	}
	if m.Kind == KindTransfer && (m.Backbone == nil || m.Backbone.SHA256 == "" || m.Backbone.Features <= 0) {
		return fmt.Errorf("transfer bundle does not name its backbone (name, sha256, features)")
	}
	return nil
}

// Read reads and validates the manifest of the run folder dir.
func Read(dir string) (*Manifest, error) {
	path := filepath.Join(dir, File)
	b, err := files.ReadRegular(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a lessdata model: it has no %s (train one with `lessdata train`)", dir, File)
		}
		return nil, fmt.Errorf("bundle %s: %w; restore it from the run", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	pb := filepath.Join(dir, ModelDir, "saved_model.pb")
	if err := files.CheckRegular(pb); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bundle %s: its model is missing: %w", dir, err)
	} else if err != nil {
		return nil, fmt.Errorf("bundle %s: %w; restore it from the run", dir, err)
	}
	return &m, nil
}

// Write writes the manifest into dir.
func Write(dir string, m *Manifest) error {
	m.FormatVersion = FormatVersion
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := files.WriteJSON(filepath.Join(dir, File), m); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}
