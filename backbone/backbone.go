// Package backbone runs frozen, pretrained feature extractors: it opens a SavedModel backbone
// folder with its spec, checks that the two agree, normalises images as the spec says and
// returns feature vectors (and ImageNet logits where the backbone has them) in batches. It also
// keeps the registry of named backbones: fetch (download or pip), verify, convert and cache
// (registry.go, pip.go), and the checksummed feature cache (cache.go).
package backbone

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

// DefaultBatch is the number of images per session run.
const DefaultBatch = 32

// Backbone is an open backbone SavedModel. Its methods may be called from several goroutines.
type Backbone struct {
	Dir    string
	Spec   *models.Spec
	Labels []string // class names of the logits, when the backbone has them

	digest   string
	model    *tf.SavedModel
	input    tf.Output
	features tf.Output
	logits   tf.Output // zero when the backbone has no logits
}

// Options tunes how a backbone runs.
type Options struct {
	Session tf.SessionOptions
}

// Open loads the backbone in dir and checks its SavedModel against its spec.
func Open(dir string, opt Options) (*Backbone, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open backbone: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open backbone: %s is not a folder (give a backbone folder or a known name; see `lessdata backbones list`)", dir)
	}
	spec, err := models.ReadSpec(dir)
	if err != nil {
		return nil, fmt.Errorf("open backbone: %w", err)
	}
	if err := models.VerifyDigest(dir, spec); err != nil {
		return nil, fmt.Errorf("open backbone: %w; %s", err, refetchHint(spec))
	}
	m, err := tf.LoadSavedModel(dir, nil, opt.Session)
	if err != nil {
		return nil, fmt.Errorf("open backbone: %w; if the folder is damaged, %s", err, refetchHint(spec))
	}
	digest, err := folderDigest(dir)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("open backbone: %w", err)
	}
	b := &Backbone{Dir: dir, Spec: spec, model: m, digest: digest}
	if err := b.bind(); err != nil {
		m.Close()
		return nil, fmt.Errorf("open backbone %s: spec %s does not match the SavedModel: %w", dir, models.SpecFile, err)
	}
	if spec.Logits != nil && spec.Labels != "" {
		b.Labels, err = readLabels(filepath.Join(dir, spec.Labels))
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("open backbone: %w", err)
		}
		if len(b.Labels) != spec.Logits.Size {
			m.Close()
			return nil, fmt.Errorf("open backbone: %s has %d labels but the logits have %d classes", spec.Labels, len(b.Labels), spec.Logits.Size)
		}
	}
	return b, nil
}

// bind resolves the spec's signature keys to graph outputs and checks their types and shapes.
func (b *Backbone) bind() error {
	sig, err := b.model.Signature(b.Spec.SignatureKey())
	if err != nil {
		return err
	}
	in, ok := sig.Inputs[b.Spec.Input.Key]
	if !ok {
		return fmt.Errorf("signature %q has no input %q (inputs: %s)", sig.Key, b.Spec.Input.Key, keys(sig.Inputs))
	}
	want := []int64{-1, int64(b.Spec.Input.Height), int64(b.Spec.Input.Width), 3}
	if in.DType != tf.Float || !shapeFits(in.Shape, want) {
		return fmt.Errorf("input %q is %v %v, the spec says float32 %v", in.Name, in.DType, in.Shape, want)
	}
	if b.input, err = b.model.Output(in.Name); err != nil {
		return err
	}
	bindOut := func(o models.OutputSpec, what string) (tf.Output, error) {
		info, ok := sig.Outputs[o.Key]
		if !ok {
			return tf.Output{}, fmt.Errorf("signature %q has no %s output %q (outputs: %s)", sig.Key, what, o.Key, keys(sig.Outputs))
		}
		if info.DType != tf.Float || !shapeFits(info.Shape, []int64{-1, int64(o.Size)}) {
			return tf.Output{}, fmt.Errorf("%s output %q is %v %v, the spec says float32 [-1 %d]", what, o.Key, info.DType, info.Shape, o.Size)
		}
		return b.model.Output(info.Name)
	}
	if b.features, err = bindOut(b.Spec.Features, "features"); err != nil {
		return err
	}
	if b.Spec.Logits != nil {
		if b.logits, err = bindOut(*b.Spec.Logits, "logits"); err != nil {
			return err
		}
	}
	return nil
}

// shapeFits reports whether a signature shape can hold want: unrecorded (nil), or agreeing with
// it (tf.ShapesAgree).
func shapeFits(got, want []int64) bool { return got == nil || tf.ShapesAgree(got, want) }

func keys(m map[string]tf.TensorInfo) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func readLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer f.Close()
	var labels []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		labels = append(labels, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels %s: %w", path, err)
	}
	return labels, nil
}

// Digest identifies the backbone's exact content (its graph and spec): caches of its features
// are keyed by it.
func (b *Backbone) Digest() string { return b.digest }

// folderDigest hashes saved_model.pb and the spec file.
func folderDigest(dir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"saved_model.pb", models.SpecFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Close frees the SavedModel.
func (b *Backbone) Close() error { return b.model.Close() }

// InputSize returns the width and height images are resized to.
func (b *Backbone) InputSize() (w, h int) { return b.Spec.Input.Width, b.Spec.Input.Height }

// HasLogits reports whether the backbone gives class logits.
func (b *Backbone) HasLogits() bool { return b.Spec.Logits != nil }

// Normalize writes img, which must be of the backbone's input size, into dst as the model's
// input: channel order and (x - mean) / std per channel.
func (b *Backbone) Normalize(dst []float32, img *dataset.Image) error {
	in := b.Spec.Input
	if img.W != in.Width || img.H != in.Height {
		return fmt.Errorf("image is %dx%d, backbone %s takes %dx%d", img.W, img.H, b.Spec.Name, in.Width, in.Height)
	}
	n := img.W * img.H
	if len(dst) < 3*n || len(img.Pix) < 3*n {
		return fmt.Errorf("normalize: buffers hold %d and %d values, need %d", len(dst), len(img.Pix), 3*n)
	}
	order := [3]int{0, 1, 2}
	if in.ColorOrder == "BGR" {
		order = [3]int{2, 1, 0}
	}
	var scale [3]float32
	for c := range scale {
		scale[c] = 1 / in.Std[c]
	}
	for i := 0; i < n; i++ {
		p := img.Pix[3*i : 3*i+3]
		q := dst[3*i : 3*i+3]
		for c := 0; c < 3; c++ {
			q[c] = (p[order[c]] - in.Mean[c]) * scale[c]
		}
	}
	return nil
}

// Result holds a batch's outputs, one row per image.
type Result struct {
	Features [][]float32
	Logits   [][]float32 // nil when the backbone has no logits or they were not asked for
}

// Run computes features (and logits when withLogits) for images of the backbone's input size,
// DefaultBatch at a time. It stops between batches when ctx is cancelled.
func (b *Backbone) Run(ctx context.Context, imgs []*dataset.Image, withLogits bool) (*Result, error) {
	if withLogits && !b.HasLogits() {
		return nil, fmt.Errorf("backbone %s has no logits", b.Spec.Name)
	}
	res := &Result{Features: make([][]float32, 0, len(imgs))}
	w, h := b.InputSize()
	per := w * h * 3
	buf := make([]float32, 0, DefaultBatch*per)
	for start := 0; start < len(imgs); start += DefaultBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := imgs[start:min(start+DefaultBatch, len(imgs))]
		buf = buf[:len(batch)*per]
		for i, img := range batch {
			if err := b.Normalize(buf[i*per:(i+1)*per], img); err != nil {
				return nil, fmt.Errorf("image %d: %w", start+i, err)
			}
		}
		feats, logits, err := b.RunNormalized(buf, len(batch), withLogits)
		if err != nil {
			return nil, err
		}
		res.Features = append(res.Features, feats...)
		if withLogits {
			res.Logits = append(res.Logits, logits...)
		}
	}
	return res, nil
}

// Features returns one feature vector per image (images of the backbone's input size), computed
// DefaultBatch at a time.
func (b *Backbone) Features(ctx context.Context, imgs []*dataset.Image) ([][]float32, error) {
	res, err := b.Run(ctx, imgs, false)
	if err != nil {
		return nil, err
	}
	return res.Features, nil
}

// RunNormalized runs one batch of n already normalised images laid out NHWC in input.
func (b *Backbone) RunNormalized(input []float32, n int, withLogits bool) (features, logits [][]float32, err error) {
	w, h := b.InputSize()
	t, err := tf.NewTensor([]int64{int64(n), int64(h), int64(w), 3}, input)
	if err != nil {
		return nil, nil, err
	}
	defer t.Close()
	fetch := []tf.Output{b.features}
	if withLogits {
		fetch = append(fetch, b.logits)
	}
	out, err := b.model.Session.Run(map[tf.Output]*tf.Tensor{b.input: t}, fetch, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("backbone %s: %w", b.Spec.Name, err)
	}
	defer func() {
		for _, o := range out {
			o.Close()
		}
	}()
	features, err = rows(out[0], n, b.Spec.Features.Size)
	if err != nil || !withLogits {
		return features, nil, err
	}
	logits, err = rows(out[1], n, b.Spec.Logits.Size)
	return features, logits, err
}

// rows splits a [n, d] tensor into n rows, checking the shape and that the values are finite.
func rows(t *tf.Tensor, n, d int) ([][]float32, error) {
	if s := t.Shape(); len(s) != 2 || s[0] != int64(n) || s[1] != int64(d) {
		return nil, fmt.Errorf("backbone output has shape %v, want [%d %d]", s, n, d)
	}
	v, err := tf.Values[float32](t)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = v[i*d : (i+1)*d : (i+1)*d]
		for _, x := range out[i] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, errors.New("backbone output is not finite")
			}
		}
	}
	return out, nil
}

// Prediction is one class of a classification with its probability.
type Prediction struct {
	Index int
	Label string
	Prob  float64
}

// TopK returns the k most probable classes of a logits row under softmax.
func (b *Backbone) TopK(logits []float32, k int) []Prediction {
	probs := Softmax(logits)
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return probs[idx[i]] > probs[idx[j]] })
	k = min(k, len(idx))
	out := make([]Prediction, k)
	for i := range out {
		j := idx[i]
		label := fmt.Sprintf("class %d", j)
		if j < len(b.Labels) {
			label = b.Labels[j]
		}
		out[i] = Prediction{Index: j, Label: label, Prob: probs[j]}
	}
	return out
}

// Softmax returns the softmax of x in float64.
func Softmax(x []float32) []float64 {
	out := make([]float64, len(x))
	if len(x) == 0 {
		return out
	}
	m := float64(x[0])
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
