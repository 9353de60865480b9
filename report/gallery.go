package report

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/files"
)

// Example is one image of a labelled set as a model saw it.
type Example struct {
	// Index is the image's row in the inputs of Highlight.
	Index int `json:"index"`
	// Path is the image file.
	Path string `json:"path"`
	// True and Predicted are the class names.
	True      string `json:"true"`
	Predicted string `json:"predicted"`
	// Probability is the model's probability of the predicted class, TrueProbability that of the
	// true class.
	Probability     float64 `json:"probability"`
	TrueProbability float64 `json:"true_probability"`
	// Loss is the cross-entropy -ln(TrueProbability), with the probability floored at 1e-7 (as
	// Keras clips) so that it stays finite.
	Loss float64 `json:"loss"`
}

// Correct reports whether the prediction is right.
func (e Example) Correct() bool { return e.True == e.Predicted }

// ClassExamples are examples of one true class.
type ClassExamples struct {
	Class    string    `json:"class"`
	Examples []Example `json:"examples"`
}

// Highlights are the images worth looking at: every error, worst first, and per class the
// correct predictions the model was surest of.
type Highlights struct {
	// Errors are the misclassified examples by Loss, highest first (ties by Index).
	Errors []Example `json:"errors"`
	// Confident has one entry per class, in class order: its correctly predicted examples by
	// Probability, highest first (ties by Index), at most perClass of them.
	Confident []ClassExamples `json:"confident_correct"`
}

// minProb floors the true class's probability in Loss.
const minProb = 1e-7

// lossOf is the cross-entropy of a true class given probability p, floored at minProb.
func lossOf(p float64) float64 { return -math.Log(max(p, minProb)) }

// Highlight picks the Highlights of a model's probabilities: paths[i] is the image whose true
// class index is labels[i] and class probabilities probs[i]. Predictions follow Evaluate's rule
// (threshold on the positive class for two classes, 0 meaning 0.5; argmax otherwise), and the
// inputs must pass Evaluate's checks; paths must have one entry per label. perClass (at least 1)
// caps the confident examples of each class.
func Highlight(classes, paths []string, labels []int, probs [][]float32, positive int, threshold float64, perClass int) (Highlights, error) {
	threshold, err := checkProbs(classes, labels, probs, positive, threshold)
	if err != nil {
		return Highlights{}, fmt.Errorf("highlight: %w", err)
	}
	if len(paths) != len(labels) {
		return Highlights{}, fmt.Errorf("highlight: %d paths for %d labels", len(paths), len(labels))
	}
	if perClass < 1 {
		return Highlights{}, fmt.Errorf("highlight: %d confident examples per class, want at least 1", perClass)
	}
	preds := predict(probs, len(classes) == 2, positive, threshold)
	h := Highlights{Confident: make([]ClassExamples, len(classes))}
	for c, name := range classes {
		h.Confident[c].Class = name
	}
	for i, pred := range preds {
		l := labels[i]
		pt := float64(probs[i][l])
		e := Example{Index: i, Path: paths[i], True: classes[l], Predicted: classes[pred],
			Probability: float64(probs[i][pred]), TrueProbability: pt, Loss: lossOf(pt)}
		if pred == l {
			h.Confident[l].Examples = append(h.Confident[l].Examples, e)
		} else {
			h.Errors = append(h.Errors, e)
		}
	}
	slices.SortStableFunc(h.Errors, func(a, b Example) int { return cmp.Compare(b.Loss, a.Loss) })
	for c := range h.Confident {
		ex := h.Confident[c].Examples
		slices.SortStableFunc(ex, func(a, b Example) int { return cmp.Compare(b.Probability, a.Probability) })
		h.Confident[c].Examples = ex[:min(len(ex), perClass)]
	}
	return h, nil
}

// WriteThumbnail decodes the image at src as dataset.DecodeFile does (EXIF orientation applied;
// fallback, which may be nil, handles JPEGs Go rejects), composites any transparency over white,
// scales it to fit within size x size pixels keeping its aspect ratio (never enlarging) and
// writes it to dst, atomically: as JPEG (quality 85) when dst ends in .jpg or .jpeg, else as PNG.
func WriteThumbnail(src, dst string, size int, fallback dataset.FallbackDecoder) error {
	if size < 1 {
		return fmt.Errorf("thumbnail of %s: size %d, want at least 1", src, size)
	}
	img, err := dataset.DecodeFile(src, 0, fallback)
	if err != nil {
		return fmt.Errorf("thumbnail: %w", err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if scale := float64(size) / float64(max(w, h)); scale < 1 {
		w, h = max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale)))
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.CatmullRom.Scale(out, out.Bounds(), img, b, draw.Over, nil)
	var buf bytes.Buffer
	switch strings.ToLower(filepath.Ext(dst)) {
	case ".jpg", ".jpeg":
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85})
	default:
		err = png.Encode(&buf, out)
	}
	if err != nil {
		return fmt.Errorf("thumbnail of %s: encode: %w", src, err)
	}
	if err := files.WriteAtomic(dst, buf.Bytes()); err != nil {
		return fmt.Errorf("thumbnail of %s: %w", src, err)
	}
	return nil
}

// ExampleGallery writes a JPEG thumbnail (at most size pixels a side) of each example into dir,
// named after a hash of its source path so that an image shared by several galleries is made
// once, and returns a gallery of them captioned with the true class, the predicted class and its
// probability, and the file's name. Thumbnails already in dir are reused. It stops with ctx's
// error when ctx ends.
func ExampleGallery(ctx context.Context, caption string, examples []Example, dir string, size int, fallback dataset.FallbackDecoder) (*Gallery, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gallery: thumbnail folder: %w", err)
	}
	g := &Gallery{Caption: caption}
	for _, e := range examples {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("gallery: %w", err)
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", e.Path, size)))
		thumb := filepath.Join(dir, hex.EncodeToString(sum[:8])+".jpg")
		if _, err := os.Stat(thumb); err != nil {
			if err := WriteThumbnail(e.Path, thumb, size, fallback); err != nil {
				return nil, fmt.Errorf("gallery: %w", err)
			}
		}
		g.Items = append(g.Items, Thumb{Path: thumb, Lines: exampleLines(e)})
	}
	return g, nil
}

// exampleLines caption an example: "true: cat", "predicted: dog (0.93)" for an error, "cat
// (0.99)" for a correct prediction; then the file's name.
func exampleLines(e Example) []string {
	name := truncate(filepath.Base(e.Path), 28)
	if e.Correct() {
		return []string{fmt.Sprintf("%s (%.2f)", e.True, e.Probability), name}
	}
	return []string{"true: " + e.True, fmt.Sprintf("predicted: %s (%.2f)", e.Predicted, e.Probability), name}
}
