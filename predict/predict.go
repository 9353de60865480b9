package predict

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/internal/files"
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
	if err := pm.checkShapes(); err != nil {
		pm.Close()
		return nil, fmt.Errorf("bundle %s does not match its model: %w; the folder was edited or mixed with another run's: "+
			"train the model again or restore the folder", dir, err)
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

// normalize writes a fine-tuned model's input: (x - mean) / std per channel, in its colour order.
func (m *Model) normalize(dst []float32, im *dataset.Image) {
	nz := m.Manifest.Normalize
	order := [3]int{0, 1, 2}
	if nz.ColorOrder == "BGR" {
		order = [3]int{2, 1, 0}
	}
	var scale [3]float32 // as backbone.Normalize computes it, so training and prediction agree bit for bit
	for c := range scale {
		scale[c] = 1 / nz.Std[c]
	}
	for i := 0; i < im.W*im.H; i++ {
		for c := 0; c < 3; c++ {
			dst[3*i+c] = (im.Pix[3*i+order[c]] - nz.Mean[c]) * scale[c]
		}
	}
}

// units is the number of outputs the model gives per image: one sigmoid for two classes, one
// softmax unit per class for more.
func (m *Model) units() int {
	if k := len(m.Manifest.Classes); k > 2 {
		return k
	}
	return 1
}

// wantInput is the input shape bundle.json implies, batch dimension first.
func (m *Model) wantInput() []int64 {
	if m.Manifest.Kind == bundle.KindTransfer {
		return []int64{-1, int64(m.Manifest.Backbone.Features)}
	}
	return []int64{-1, int64(m.Manifest.Input.Height), int64(m.Manifest.Input.Width), 3}
}

// checkShapes compares the model's input and output shapes, as far as its graph knows them,
// with what bundle.json says.
func (m *Model) checkShapes() error {
	k := len(m.Manifest.Classes)
	if got, ok := m.probs.Shape(); ok && !tf.ShapesAgree(got, []int64{-1, int64(m.units())}) {
		return fmt.Errorf("bundle.json lists %d classes (%s), so the model should give %d value(s) per image, but it gives %s",
			k, strings.Join(m.Manifest.Classes, ", "), m.units(), dims(got[1:]))
	}
	if got, ok := m.input.Shape(); ok && !tf.ShapesAgree(got, m.wantInput()) {
		what := fmt.Sprintf("%dx%d RGB images", m.Manifest.Input.Width, m.Manifest.Input.Height)
		if m.Manifest.Kind == bundle.KindTransfer {
			what = fmt.Sprintf("%d backbone features", m.Manifest.Backbone.Features)
		}
		return fmt.Errorf("bundle.json says the model reads %s (%s per image), but it reads %s", what, dims(m.wantInput()[1:]), dims(got[1:]))
	}
	return nil
}

// dims writes a shape as 64x64x3; "a scalar" when it has no dimensions.
func dims(d []int64) string {
	if len(d) == 0 {
		return "a scalar"
	}
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = strconv.FormatInt(v, 10)
		if v < 0 {
			parts[i] = "?"
		}
	}
	return strings.Join(parts, "x")
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
	case bundle.KindScratch, bundle.KindFinetune:
		shape = []int64{int64(len(imgs)), int64(h), int64(w), 3}
		n := w * h * 3
		x = make([]float32, len(imgs)*n)
		for i, im := range imgs {
			if im.W != w || im.H != h {
				return nil, fmt.Errorf("image is %dx%d, the model takes %dx%d", im.W, im.H, w, h)
			}
			if m.Manifest.Kind == bundle.KindFinetune {
				m.normalize(x[i*n:(i+1)*n], im)
				continue
			}
			// Standardize writes straight into the batch: dst's Pix is the image's part of x.
			m.std.Standardize(&dataset.Image{Pix: x[i*n : (i+1)*n : (i+1)*n]}, im)
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
	return m.run(x, shape)
}

// run feeds the model one batch (shape's first dimension is the number of images) and returns
// one row of class probabilities per image.
func (m *Model) run(x []float32, shape []int64) ([][]float32, error) {
	n := int(shape[0])
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
	if len(v) != n*m.units() {
		return nil, fmt.Errorf("predict: the model gave %d values for %d images, expected %d per image (one per class, "+
			"or one for two classes); bundle %s does not match its model", len(v), n, m.units(), m.Dir)
	}
	k := len(m.Manifest.Classes)
	rows := make([][]float32, n)
	for i := range rows {
		if k == 2 {
			rows[i] = []float32{1 - v[i], v[i]}
		} else {
			rows[i] = v[i*k : (i+1)*k]
		}
	}
	return rows, nil
}

// ttaProbabilities is Probabilities of a transfer model with test-time augmentation: each
// image's probabilities averaged with those of its views, drawn as in training (the files'
// content hashes seed them).
func (m *Model) ttaProbabilities(ctx context.Context, paths []string, imgs []*dataset.Image) ([][]float32, error) {
	set := finetune.Keyed{Labelled: finetune.Labelled{Images: imgs}}
	for _, p := range paths {
		h, err := files.SHA256(p)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		set.Hashes = append(set.Hashes, h)
	}
	plain, err := m.backbone.Features(ctx, imgs)
	if err != nil {
		return nil, err
	}
	tta := m.Manifest.TTA
	views, err := finetune.ViewFeatures(ctx, set, m.backbone, nil, finetune.Augmentation(tta.Augment), tta.Views, tta.Seed)
	if err != nil {
		return nil, fmt.Errorf("predict: test-time augmentation: %w", err)
	}
	head := func(rows [][]float32) ([][]float64, error) {
		d := m.Manifest.Backbone.Features
		x := make([]float32, 0, len(rows)*d)
		for _, r := range rows {
			x = append(x, r...)
		}
		p, err := m.run(x, []int64{int64(len(rows)), int64(d)})
		if err != nil {
			return nil, err
		}
		out := make([][]float64, len(p))
		for i, r := range p {
			out[i] = make([]float64, len(r))
			for k, v := range r {
				out[i][k] = float64(v)
			}
		}
		return out, nil
	}
	return finetune.AveragedProbabilities(head, plain, views)
}

// Decide returns the predicted class of a probability row: for a two-class model with a
// threshold, the positive class when its probability reaches the threshold; otherwise the most
// probable class.
func (m *Model) Decide(p []float32) int {
	if t := m.Manifest.Threshold; t > 0 && len(p) == 2 {
		pos := slices.Index(m.Manifest.Classes, m.Manifest.Positive)
		if pos < 0 {
			pos = 1
		}
		if float64(p[pos]) >= t {
			return pos
		}
		return 1 - pos
	}
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}

// Result is the prediction for one file.
type Result struct {
	Path  string
	Class string
	Index int
	Probs []float32
	Err   error // the file could not be read; the other fields are empty
}

// DefaultChunk is the number of images Stream decodes at a time when asked for 0.
const DefaultChunk = 64

// Files predicts every file and returns the results in input order; a file that cannot be read
// gets its error and the others are still predicted. progress, when non-nil, is called with the
// number of files done after each one. Memory stays bounded as in Stream.
func (m *Model) Files(ctx context.Context, paths []string, progress func(done int)) ([]Result, error) {
	results := make([]Result, 0, len(paths))
	err := m.Stream(ctx, paths, 0, func(r Result) error {
		results = append(results, r)
		if progress != nil {
			progress(len(results))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// chunkOut is one decoded chunk of Stream's files.
type chunkOut struct {
	start int
	imgs  []*dataset.Image
	errs  []error
}

// Stream predicts the files in paths chunk images at a time (DefaultChunk when chunk <= 0) and
// calls emit with each result, in input order, as soon as its chunk is done: the next chunk is
// decoded while one is predicted, so at most two chunks of decoded images are held whatever the
// number of files. A file that cannot be read gets its error in its Result. An error from emit,
// from the model, or ctx's ends the stream and is returned.
func (m *Model) Stream(ctx context.Context, paths []string, chunk int, emit func(Result) error) error {
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	w, h := m.Size()
	ctx, cancel := context.WithCancel(ctx)
	decoded := make(chan chunkOut)
	defer func() {
		cancel()
		for range decoded { // wait for the decoder to stop
		}
	}()
	go func() {
		defer close(decoded)
		for start := 0; start < len(paths); start += chunk {
			items := make([]dataset.Item, 0, chunk)
			for _, p := range paths[start:min(start+chunk, len(paths))] {
				items = append(items, dataset.Item{Path: p})
			}
			// A fresh cache per chunk: its images are freed once the chunk is predicted.
			imgs, errs := dataset.NewDecoder(w, h, 0, tfdecode.Decode).Images(ctx, items, nil)
			select {
			case decoded <- chunkOut{start, imgs, errs}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for c := range decoded {
		if err := ctx.Err(); err != nil {
			return err
		}
		results, err := m.predictChunk(ctx, paths[c.start:c.start+len(c.imgs)], c.imgs, c.errs)
		if err != nil {
			return err
		}
		for _, r := range results {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// predictChunk predicts the decoded images of one chunk; paths[i] gave imgs[i] or errs[i].
func (m *Model) predictChunk(ctx context.Context, paths []string, imgs []*dataset.Image, errs []error) ([]Result, error) {
	results := make([]Result, len(paths))
	var ok []int
	for i, p := range paths {
		results[i].Path = p
		if errs[i] != nil {
			results[i].Err = errs[i]
			continue
		}
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return results, nil
	}
	for s := 0; s < len(ok); s += backbone.DefaultBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := ok[s:min(s+backbone.DefaultBatch, len(ok))]
		batch := make([]*dataset.Image, len(idx))
		for j, i := range idx {
			batch[j] = imgs[i]
		}
		var probs [][]float32
		var err error
		if m.Manifest.TTA != nil {
			bp := make([]string, len(idx))
			for j, i := range idx {
				bp[j] = paths[i]
			}
			probs, err = m.ttaProbabilities(ctx, bp, batch)
		} else {
			probs, err = m.Probabilities(ctx, batch)
		}
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			best := m.Decide(probs[j])
			results[i].Probs, results[i].Index, results[i].Class = probs[j], best, m.Manifest.Classes[best]
		}
	}
	return results, nil
}
