package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/internal/files"
	"github.com/lessdata/lessdata/tf"
)

// Files written beside the model in an export folder.
const (
	LabelsFile   = "labels.txt"
	MetadataFile = "lessdata_export.json"
	TFLiteFile   = "model.tflite"
)

// Formats.
const (
	FormatSavedModel = "savedmodel"
	FormatTFLite     = "tflite"
)

// Options tunes an export.
type Options struct {
	// Force replaces an existing output folder.
	Force bool
	// Backbone is a backbone folder to use instead of the one the bundle names.
	Backbone string
	// Fetch finds or fetches the named backbone.
	Fetch backbone.FetchOptions
}

// Metadata describes an exported model; it is written as MetadataFile beside it.
type Metadata struct {
	Format  string   `json:"format"`
	Kind    string   `json:"kind"`
	Classes []string `json:"classes"`
	// Positive is the bundle's positive class of a two-class model.
	Positive string `json:"positive,omitempty"`
	// Threshold, when set, is the probability of Positive at or above which an image is called
	// Positive (class_index follows it; TFLite users apply it themselves); else the most probable
	// class wins.
	Threshold float64 `json:"threshold,omitempty"`
	// Width and Height are the size images are resized to.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Backbone names the backbone built into the model, if any.
	Backbone string `json:"backbone,omitempty"`
	// Inputs and Outputs describe the model's entry points, by signature for a SavedModel.
	Inputs  map[string]string `json:"inputs"`
	Outputs map[string]string `json:"outputs"`
	// Resize says how images are brought to Width x Height.
	Resize string `json:"resize"`
	Bundle string `json:"bundle"`
	// BundleCreated is when the bundle was trained.
	BundleCreated string `json:"bundle_created"`
	Created       string `json:"created"`
}

// resizeNote is Metadata.Resize.
const resizeNote = "whole image to width x height, bilinear (triangle filter widened when shrinking, " +
	"as golang.org/x/image/draw does), transparency over white, rounded to 8 bits; " +
	"the encoded-image signature does not apply EXIF orientation"

// SavedModel exports the bundle in bundleDir as one self-contained SavedModel folder outDir:
// decoding, resizing, normalisation, the backbone (if any) and the model in one graph.
// Signature serving_default takes "images", a batch of encoded image files (string [-1]);
// signature "pixels" takes "pixels", uint8 [-1, H, W, 3] images already resized. Both return
// "probabilities" [-1, K] and "class_index" (int64 [-1]). labels.txt and the metadata are
// written into the folder too. The folder appears whole; an existing one is replaced only with
// opt.Force.
func SavedModel(ctx context.Context, bundleDir, outDir string, opt Options) (*Metadata, error) {
	return export(ctx, bundleDir, outDir, FormatSavedModel, opt, func(c *classifier, work string, md *Metadata) error {
		sigs := c.signatures()
		tmp := filepath.Join(work, "savedmodel")
		if err := tf.WriteSavedModel(tmp, c.graph, nil, sigs); err != nil {
			return err
		}
		for _, name := range []string{"saved_model.pb", "variables"} {
			if err := os.Rename(filepath.Join(tmp, name), filepath.Join(work, name)); err != nil {
				return err
			}
		}
		if err := os.Remove(tmp); err != nil {
			return err
		}
		for _, s := range sigs {
			for k, ti := range s.Inputs {
				md.Inputs[s.Key+"/"+k] = describe(ti)
			}
			for k, ti := range s.Outputs {
				md.Outputs[s.Key+"/"+k] = describe(ti)
			}
		}
		return nil
	})
}

func describe(ti tf.TensorInfo) string {
	dims := make([]string, len(ti.Shape))
	for i, d := range ti.Shape {
		dims[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("%v [%s]", ti.DType, strings.Join(dims, ", "))
}

func (c *classifier) metadata(format, bundleDir string) *Metadata {
	m := c.manifest
	md := &Metadata{Format: format, Kind: m.Kind, Classes: m.Classes, Positive: m.Positive, Threshold: m.Threshold,
		Width: m.Input.Width, Height: m.Input.Height, Inputs: map[string]string{}, Outputs: map[string]string{},
		Resize: resizeNote, Bundle: bundleDir, BundleCreated: m.Created, Created: time.Now().UTC().Format(time.RFC3339)}
	if m.Backbone != nil {
		md.Backbone = m.Backbone.Name
	}
	return md
}

// export writes the bundle in bundleDir as the folder outDir in format. The folder is a
// bundle.RunDir, so it appears whole, is marked as lessdata's, and --force never replaces a
// folder lessdata did not write; one inside, above or equal to the bundle is refused. write puts
// the model into the work folder and describes its inputs and outputs in md; labels.txt and the
// metadata are written beside it.
func export(ctx context.Context, bundleDir, outDir, format string, opt Options, write func(c *classifier, work string, md *Metadata) error) (*Metadata, error) {
	if outDir == "" {
		return nil, fmt.Errorf("export: no output folder given (--out DIR)")
	}
	if err := bundle.CheckOut(outDir, bundleDir); err != nil {
		return nil, fmt.Errorf("export: --out: %w", err)
	}
	out, err := bundle.Begin(outDir, opt.Force)
	if err != nil {
		return nil, fmt.Errorf("export: --out: %w", err)
	}
	defer out.Abandon()
	c, err := build(ctx, bundleDir, opt)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	md := c.metadata(format, bundleDir)
	if err := write(c, out.Work, md); err != nil {
		return nil, fmt.Errorf("export %s as %s: %w", bundleDir, format, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	labels := strings.Join(md.Classes, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(out.Work, LabelsFile), []byte(labels), 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := files.WriteJSON(filepath.Join(out.Work, MetadataFile), md); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := out.Commit(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return md, nil
}
