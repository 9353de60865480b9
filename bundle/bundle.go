// Package bundle writes and reads lessdata's model bundle: a run folder holding bundle.json (what
// the model is, its classes and how to feed it) and model/, the trained network frozen as a
// SavedModel. predict and eval reload it.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
)

// Manifest describes a bundle.
type Manifest struct {
	FormatVersion int      `json:"format_version"`
	Kind          string   `json:"kind"`
	Classes       []string `json:"classes"`
	// Positive names the positive class of a two-class model ("" when not chosen).
	Positive string `json:"positive,omitempty"`
	// Input is the image size the model (or its backbone) takes.
	Input      Size       `json:"input"`
	Preprocess Preprocess `json:"preprocess"`
	// Backbone is set for transfer models: features come from this backbone.
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
	if m.Kind != KindScratch && m.Kind != KindTransfer {
		return fmt.Errorf("bundle kind %q is not %q or %q", m.Kind, KindScratch, KindTransfer)
	}
	if len(m.Classes) < 2 {
		return fmt.Errorf("bundle has %d classes, need at least 2", len(m.Classes))
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
	b, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a lessdata model: it has no %s (train one with `lessdata train`)", dir, File)
		}
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ModelDir, "saved_model.pb")); err != nil {
		return nil, fmt.Errorf("bundle %s: its model is missing: %w", dir, err)
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

// RunDir is a run folder being written: work goes into a hidden sibling folder, and Commit
// moves it into place, so the run folder appears whole, and an existing one is replaced only
// when asked.
type RunDir struct {
	Final, Work string
	force       bool
	committed   bool
}

// Begin starts writing the run folder dir. It fails when dir exists unless force is set.
func Begin(dir string, force bool) (*RunDir, error) {
	if _, err := os.Stat(dir); err == nil && !force {
		return nil, fmt.Errorf("%s already exists: choose another --out or pass --force to replace it", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	work, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+".partial-")
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	return &RunDir{Final: dir, Work: work, force: force}, nil
}

// Path returns a path inside the folder being written.
func (r *RunDir) Path(name string) string { return filepath.Join(r.Work, name) }

// Commit moves the finished folder into place, replacing an existing one under force.
func (r *RunDir) Commit() error {
	if _, err := os.Stat(r.Final); err == nil {
		if !r.force {
			return fmt.Errorf("%s appeared while training: the run is kept in %s", r.Final, r.Work)
		}
		if err := os.RemoveAll(r.Final); err != nil {
			return fmt.Errorf("replace %s: %w (the run is kept in %s)", r.Final, err, r.Work)
		}
	}
	if err := os.Rename(r.Work, r.Final); err != nil {
		return fmt.Errorf("finish %s: %w (the run is kept in %s)", r.Final, err, r.Work)
	}
	r.committed = true
	return nil
}

// Abandon removes the folder being written, unless it was committed; deferring it right after
// Begin cleans up every way out.
func (r *RunDir) Abandon() {
	if !r.committed {
		os.RemoveAll(r.Work)
	}
}
