package predict

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/gradcam"
	"github.com/lessdata/lessdata/tf"

	"golang.org/x/image/draw"
)

// explainBatch is the number of images explained per session run.
const explainBatch = 8

// Explain writes, for each result that has a prediction, a Grad-CAM overlay of its predicted
// class on its image (Selvaraju et al. 2017: the gradients of the class score with respect to the
// backbone's last feature map, averaged per channel, weight the map, ReLU) into dir as
// NNNN_<name>.png, and returns the files written in results' order ("" for results without a
// prediction). It needs a model with a backbone: transfer or fine-tuned.
func (m *Model) Explain(ctx context.Context, results []Result, dir string) ([]string, error) {
	var e *gradcam.Explainer
	var err error
	switch m.Manifest.Kind {
	case bundle.KindTransfer:
		e, err = gradcam.New(m.backbone.Dir, gradcam.Options{HeadDir: filepath.Join(m.Dir, bundle.ModelDir)})
	case bundle.KindFinetune:
		e, err = gradcam.Open(filepath.Join(m.Dir, bundle.ModelDir), tf.SessionOptions{})
	default:
		return nil, fmt.Errorf("explain: a %s model has no backbone to explain; Grad-CAM needs a transfer or fine-tuned model", m.Manifest.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer e.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	w, h := m.Size()
	per := w * h * 3
	out := make([]string, len(results))
	for s := 0; s < len(results); s += explainBatch {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		var idx, classes []int
		x := make([]float32, 0, explainBatch*per)
		for i := s; i < min(s+explainBatch, len(results)); i++ {
			r := results[i]
			if r.Err != nil || r.Probs == nil {
				continue
			}
			img, err := dataset.LoadImage(r.Path, w, h, 0, tfdecode.Decode)
			if err != nil {
				continue
			}
			x = x[:len(x)+per]
			if err := m.backboneInput(x[len(x)-per:], img); err != nil {
				return out, fmt.Errorf("explain %s: %w", r.Path, err)
			}
			idx, classes = append(idx, i), append(classes, r.Index)
		}
		if len(idx) == 0 {
			continue
		}
		maps, err := e.Explain(ctx, x, len(idx), classes)
		if err != nil {
			return out, fmt.Errorf("explain: %w", err)
		}
		for j, i := range idx {
			full, err := dataset.DecodeFile(results[i].Path, 0, tfdecode.Decode)
			if err != nil {
				continue
			}
			full = shrink(full, overlaySide)
			name := strings.TrimSuffix(filepath.Base(results[i].Path), filepath.Ext(results[i].Path))
			path := filepath.Join(dir, fmt.Sprintf("%04d_%s.png", i, name))
			if err := gradcam.WriteOverlay(path, full, maps[j]); err != nil {
				return out, err
			}
			out[i] = path
		}
	}
	return out, nil
}

// overlaySide bounds the longer side of an overlay in pixels.
const overlaySide = 640

// shrink returns img scaled down (bilinear) to fit side x side, or img when it fits.
func shrink(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	if w >= h {
		w, h = side, max(1, h*side/w)
	} else {
		w, h = max(1, w*side/h), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Rect, img, b, draw.Src, nil)
	return dst
}

// backboneInput writes an image as the backbone's input: the backbone's normalisation for a transfer
// model, the bundle's for a fine-tuned one.
func (m *Model) backboneInput(dst []float32, img *dataset.Image) error {
	if m.Manifest.Kind == bundle.KindFinetune {
		m.normalize(dst, img)
		return nil
	}
	return m.backbone.Normalize(dst, img)
}
