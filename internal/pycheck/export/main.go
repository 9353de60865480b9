// Command export is the Go side of tests/test_export.py: it exports model bundles as a
// SavedModel and a TFLite file and predicts images with package predict, so that Python can
// check the exported files against lessdata's own predictions.
//
// Input (JSON on stdin): {"work": DIR, "images": [PATH...], "bundles": [{"name", "dir",
// "backbone"}...]}; without bundles it writes a tiny scratch bundle (3 classes) and a tiny
// transfer bundle (2 classes, on a generated backbone) under DIR. Output (JSON): per bundle its
// classes, input size, the exported folders, predict's probabilities (or error) per image, and
// the file holding the images as lessdata resizes them (uint8 NHWC, in image order, images that
// could not be read left out).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/export"
	"github.com/lessdata/lessdata/export/exporttest"
	"github.com/lessdata/lessdata/predict"
)

type bundleIn struct {
	Name     string `json:"name"`
	Dir      string `json:"dir"`
	Backbone string `json:"backbone"`
}

type input struct {
	Work    string     `json:"work"`
	Images  []string   `json:"images"`
	Bundles []bundleIn `json:"bundles"`
}

type row struct {
	Path          string    `json:"path"`
	Probabilities []float32 `json:"probabilities,omitempty"`
	Index         int       `json:"index"`
	Error         string    `json:"error,omitempty"`
}

type modelOut struct {
	Name       string   `json:"name"`
	Classes    []string `json:"classes"`
	Threshold  float64  `json:"threshold"`
	Positive   int      `json:"positive"`
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	SavedModel string   `json:"savedmodel"`
	TFLite     string   `json:"tflite"`
	Rows       []row    `json:"rows"`
	Pixels     string   `json:"pixels"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "export check:", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	if len(in.Bundles) == 0 {
		bb := filepath.Join(in.Work, "tiny_backbone")
		in.Bundles = []bundleIn{{Name: "scratch", Dir: filepath.Join(in.Work, "scratch")},
			{Name: "transfer", Dir: filepath.Join(in.Work, "transfer"), Backbone: bb}}
		if err := exporttest.Scratch(in.Bundles[0].Dir, []string{"ant", "bee", "wasp"}, 1); err != nil {
			return err
		}
		if err := exporttest.Backbone(bb); err != nil {
			return err
		}
		if err := exporttest.Transfer(in.Bundles[1].Dir, bb, []string{"car", "bus"}, 2); err != nil {
			return err
		}
	}
	var out struct {
		Models []modelOut `json:"models"`
	}
	for _, b := range in.Bundles {
		m, err := check(context.Background(), in.Work, in.Images, b)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
		out.Models = append(out.Models, *m)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func check(ctx context.Context, work string, images []string, b bundleIn) (*modelOut, error) {
	opt := export.Options{Backbone: b.Backbone}
	mo := &modelOut{Name: b.Name, SavedModel: filepath.Join(work, b.Name+"_savedmodel"), TFLite: filepath.Join(work, b.Name+"_tflite")}
	md, err := export.SavedModel(ctx, b.Dir, mo.SavedModel, opt)
	if err != nil {
		return nil, err
	}
	if _, err := export.TFLite(ctx, b.Dir, mo.TFLite, opt); err != nil {
		return nil, err
	}
	mo.Classes, mo.Width, mo.Height, mo.Threshold = md.Classes, md.Width, md.Height, md.Threshold
	mo.Positive = slices.Index(md.Classes, md.Positive)
	if mo.Positive < 0 {
		mo.Positive = 1
	}
	pm, err := predict.Open(ctx, b.Dir, predict.Options{Backbone: b.Backbone})
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	results, err := pm.Files(ctx, images, nil)
	if err != nil {
		return nil, err
	}
	var pix []byte
	for _, r := range results {
		if r.Err != nil {
			mo.Rows = append(mo.Rows, row{Path: r.Path, Error: r.Err.Error()})
			continue
		}
		mo.Rows = append(mo.Rows, row{Path: r.Path, Probabilities: r.Probs, Index: r.Index})
		img, err := dataset.LoadImage(r.Path, md.Width, md.Height, 0, tfdecode.Decode)
		if err != nil {
			return nil, err
		}
		for _, v := range img.Pix {
			pix = append(pix, byte(v))
		}
	}
	mo.Pixels = filepath.Join(work, b.Name+".pixels")
	return mo, os.WriteFile(mo.Pixels, pix, 0o644)
}
