// Package predict reloads a model bundle (package bundle) and gives class probabilities for new
// images: a scratch model's input is standardised as in training; a transfer model's features
// come from its backbone, which must be the one it was trained with.
package predict

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/tf"
)

// Model is a loaded bundle.
type Model struct {
	Dir      string
	Manifest *bundle.Manifest
	model    *tf.SavedModel
	input    tf.Output
	probs    tf.Output
	std      *augment.Augmenter // scratch: rescale and featurewise normalisation
	backbone *backbone.Backbone // transfer
}

// Options says where a transfer model's backbone is.
type Options struct {
	// Backbone is a backbone folder to use instead of the one named in the bundle.
	Backbone string
	// Fetch finds or fetches the named backbone.
	Fetch backbone.FetchOptions
}

// BackboneID returns the identity a bundle records for a backbone: the sha256 of its pinned
// source when it has one, else the digest of its SavedModel and spec.
func BackboneID(b *backbone.Backbone) string {
	if b.Spec.Source.SHA256 != "" {
		return b.Spec.Source.SHA256
	}
	return b.Digest()
}

// Open loads the bundle in dir.
func Open(ctx context.Context, dir string, opt Options) (*Model, error) {
	m, err := bundle.Read(dir)
	if err != nil {
		return nil, err
	}
	sm, err := tf.LoadSavedModel(filepath.Join(dir, bundle.ModelDir), nil, tf.SessionOptions{})
	if err != nil {
		return nil, fmt.Errorf("open model %s: %w", dir, err)
	}
	pm := &Model{Dir: dir, Manifest: m, model: sm}
	if err := pm.bind(); err != nil {
		pm.Close()
		return nil, fmt.Errorf("open model %s: %w", dir, err)
	}
	switch m.Kind {
	case bundle.KindScratch:
		p := augment.Params{Rescale: m.Preprocess.Rescale, FeaturewiseCenter: m.Preprocess.Featurewise, FeaturewiseStdNormalization: m.Preprocess.Featurewise}
		st := augment.Stats{Mean: m.Preprocess.Mean, Std: m.Preprocess.Std}
		if pm.std, err = augment.New(p, &st, 0); err != nil {
			pm.Close()
			return nil, fmt.Errorf("open model %s: %w", dir, err)
		}
	case bundle.KindTransfer:
		if pm.backbone, err = openBackbone(ctx, m, opt); err != nil {
			pm.Close()
			return nil, fmt.Errorf("open model %s: %w", dir, err)
		}
	}
	return pm, nil
}

func (m *Model) bind() error {
	sig, err := m.model.Signature(tf.DefaultSignature)
	if err != nil {
		return err
	}
	in, ok1 := sig.Inputs["input"]
	out, ok2 := sig.Outputs["probabilities"]
	if !ok1 || !ok2 {
		return fmt.Errorf("the model's signature lacks input or probabilities")
	}
	if m.input, err = m.model.Output(in.Name); err != nil {
		return err
	}
	m.probs, err = m.model.Output(out.Name)
	return err
}

func openBackbone(ctx context.Context, m *bundle.Manifest, opt Options) (*backbone.Backbone, error) {
	dir := opt.Backbone
	if dir == "" {
		var err error
		if dir, err = backbone.Resolve(ctx, m.Backbone.Name, opt.Fetch); err != nil {
			return nil, fmt.Errorf("the model needs backbone %s: %w (or pass --backbone DIR)", m.Backbone.Name, err)
		}
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		return nil, err
	}
	w, h := b.InputSize()
	switch {
	case BackboneID(b) != m.Backbone.SHA256:
		err = fmt.Errorf("backbone %s (sha256 %s) is not the one the model was trained with (%s, sha256 %s)",
			dir, BackboneID(b), m.Backbone.Name, m.Backbone.SHA256)
	case w != m.Input.Width || h != m.Input.Height:
		err = fmt.Errorf("backbone %s takes %dx%d images, the model was trained on %dx%d", dir, w, h, m.Input.Width, m.Input.Height)
	case b.Spec.Features.Size != m.Backbone.Features:
		err = fmt.Errorf("backbone %s gives %d features, the model reads %d", dir, b.Spec.Features.Size, m.Backbone.Features)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close frees the model and its backbone.
func (m *Model) Close() {
	if m.backbone != nil {
		m.backbone.Close()
	}
	m.model.Close()
}

// Classes returns the class names, in probability order.
func (m *Model) Classes() []string { return m.Manifest.Classes }

// Size returns the image size the model takes.
func (m *Model) Size() (w, h int) { return m.Manifest.Input.Width, m.Manifest.Input.Height }

// Probabilities returns one row of class probabilities per image; images must be of Size.
func (m *Model) Probabilities(ctx context.Context, imgs []*dataset.Image) ([][]float32, error) {
	w, h := m.Size()
	var x []float32
	var shape []int64
	switch m.Manifest.Kind {
	case bundle.KindScratch:
		shape = []int64{int64(len(imgs)), int64(h), int64(w), 3}
		for _, im := range imgs {
			if im.W != w || im.H != h {
				return nil, fmt.Errorf("image is %dx%d, the model takes %dx%d", im.W, im.H, w, h)
			}
			dst := &dataset.Image{}
			m.std.Standardize(dst, im)
			x = append(x, dst.Pix...)
		}
	case bundle.KindTransfer:
		feats, err := m.backbone.Features(ctx, imgs)
		if err != nil {
			return nil, err
		}
		shape = []int64{int64(len(imgs)), int64(m.Manifest.Backbone.Features)}
		for _, f := range feats {
			x = append(x, f...)
		}
	}
	t, err := tf.NewTensor(shape, x)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	out, err := m.model.Session.Run(map[tf.Output]*tf.Tensor{m.input: t}, []tf.Output{m.probs}, nil)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	defer out[0].Close()
	v, err := tf.Values[float32](out[0])
	if err != nil {
		return nil, err
	}
	k := len(m.Manifest.Classes)
	rows := make([][]float32, len(imgs))
	for i := range rows {
		if k == 2 {
			rows[i] = []float32{1 - v[i], v[i]}
		} else {
			rows[i] = v[i*k : (i+1)*k]
		}
	}
	return rows, nil
}

// Result is the prediction for one file.
type Result struct {
	Path  string
	Class string
	Index int
	Probs []float32
	Err   error // the file could not be read; the other fields are empty
}

// Files predicts every file, batch by batch; a file that cannot be read gets its error and the
// others are still predicted.
func (m *Model) Files(ctx context.Context, paths []string, progress func(done int)) ([]Result, error) {
	w, h := m.Size()
	cache := dataset.NewCache(w, h, 0, tfdecode.Decode)
	items := make([]dataset.Item, len(paths))
	for i, p := range paths {
		items[i] = dataset.Item{Path: p}
	}
	imgs, errs := cache.Images(ctx, items, nil)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]Result, len(paths))
	var ok []int
	for i := range paths {
		results[i].Path = paths[i]
		if errs[i] != nil {
			results[i].Err = errs[i]
			continue
		}
		ok = append(ok, i)
	}
	for s := 0; s < len(ok); s += backbone.DefaultBatch {
		idx := ok[s:min(s+backbone.DefaultBatch, len(ok))]
		batch := make([]*dataset.Image, len(idx))
		for j, i := range idx {
			batch[j] = imgs[i]
		}
		probs, err := m.Probabilities(ctx, batch)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			best := 0
			for k, p := range probs[j] {
				if p > probs[j][best] {
					best = k
				}
			}
			results[i].Probs, results[i].Index, results[i].Class = probs[j], best, m.Manifest.Classes[best]
		}
		if progress != nil {
			progress(min(s+backbone.DefaultBatch, len(ok)))
		}
	}
	return results, nil
}
