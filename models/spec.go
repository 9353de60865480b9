package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lessdata/lessdata/internal/files"
)

// SpecFile is the name of the spec file in a backbone folder.
const SpecFile = "lessdata_backbone.json"

// SpecVersion is the spec format this build writes and reads.
const SpecVersion = 1

// Spec describes a backbone SavedModel: how to feed it and what comes out.
type Spec struct {
	FormatVersion int    `json:"format_version"`
	Name          string `json:"name"`
	// Signature is the SavedModel signature to call (serving_default when empty).
	Signature string     `json:"signature"`
	Input     InputSpec  `json:"input"`
	Features  OutputSpec `json:"features"`
	// Logits, when present, gives class scores before softmax, named in the Labels file.
	Logits *OutputSpec `json:"logits,omitempty"`
	Labels string      `json:"labels,omitempty"`
	Source SourceSpec  `json:"source"`
	// Digest, when set, is the ContentDigest of the folder's model files as written.
	Digest string `json:"digest,omitempty"`
}

// InputSpec says how an image becomes the model's input: it is resized whole to Height x Width
// (Resize method), put in ColorOrder, and each channel c of the 0..255 values becomes
// (x - Mean[c]) / Std[c].
type InputSpec struct {
	Key        string     `json:"key"`
	Height     int        `json:"height"`
	Width      int        `json:"width"`
	Channels   int        `json:"channels"`
	ColorOrder string     `json:"color_order"`
	Resize     string     `json:"resize"`
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
}

// OutputSpec names a signature output and its size (feature dimension or number of classes).
type OutputSpec struct {
	Key  string `json:"key"`
	Size int    `json:"size"`
}

// SourceSpec records where the backbone came from.
type SourceSpec struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url,omitempty"`
	// Package is the pip requirement the file came from (NAME==VERSION), when it came from one.
	Package string `json:"package,omitempty"`
	License string `json:"license,omitempty"`
	Tool    string `json:"tool"`
}

// Validate checks the spec for values a backbone cannot have.
func (s *Spec) Validate() error {
	var errs []error
	if s.FormatVersion > SpecVersion {
		errs = append(errs, fmt.Errorf("format_version %d is newer than this lessdata reads (%d); upgrade lessdata", s.FormatVersion, SpecVersion))
	}
	if s.Input.Key == "" || s.Input.Height <= 0 || s.Input.Width <= 0 || s.Input.Channels != 3 {
		errs = append(errs, fmt.Errorf("input needs a key, positive height and width and 3 channels (got %+v)", s.Input))
	}
	if s.Input.ColorOrder != "RGB" && s.Input.ColorOrder != "BGR" {
		errs = append(errs, fmt.Errorf("input color_order %q is not RGB or BGR", s.Input.ColorOrder))
	}
	if s.Input.Resize != "bilinear" {
		errs = append(errs, fmt.Errorf("input resize %q is not supported (bilinear)", s.Input.Resize))
	}
	for c, v := range s.Input.Std {
		if v == 0 {
			errs = append(errs, fmt.Errorf("input std[%d] is 0", c))
		}
	}
	if s.Features.Key == "" || s.Features.Size <= 0 {
		errs = append(errs, fmt.Errorf("features need a key and a positive size (got %+v)", s.Features))
	}
	if s.Logits != nil && (s.Logits.Key == "" || s.Logits.Size <= 0) {
		errs = append(errs, fmt.Errorf("logits need a key and a positive size (got %+v)", *s.Logits))
	}
	return errors.Join(errs...)
}

// SignatureKey returns the signature to call.
func (s *Spec) SignatureKey() string {
	if s.Signature == "" {
		return "serving_default"
	}
	return s.Signature
}

// ReadSpec reads and validates the spec file in dir.
func ReadSpec(dir string) (*Spec, error) {
	path := filepath.Join(dir, SpecFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: a lessdata backbone folder holds a SavedModel and this spec "+
				"(make one with `lessdata backbones fetch` or models/export_keras.py)", dir, SpecFile)
		}
		return nil, fmt.Errorf("read backbone spec: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read backbone spec %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("backbone spec %s: %w", path, err)
	}
	return &s, nil
}

// WriteSpec writes the spec file into dir.
func WriteSpec(dir string, s *Spec) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("write backbone spec: %w", err)
	}
	if err := files.WriteJSON(filepath.Join(dir, SpecFile), s); err != nil {
		return fmt.Errorf("write backbone spec: %w", err)
	}
	return nil
}
