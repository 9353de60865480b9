package gradcam

import (
	"context"
	"fmt"
	"math"

	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/tf"
	"github.com/lessdata/lessdata/tune"
)

// Options say which class scores an Explainer built on a backbone explains: a linear head
// (Head, as head.Fit makes it), or a head SavedModel in HeadDir whose serving_default signature
// maps "input" features to "logits" (head.Weights.Freeze and nn.Net.Freeze write such heads).
// With neither, the backbone's own logits are explained.
type Options struct {
	Head    *head.Weights
	HeadDir string
	Session tf.SessionOptions
}

// Heatmap is one image's class-activation map on an image of the model's input size, W x H.
type Heatmap struct {
	W, H int
	// Cells are the map, CellsH rows of CellsW feature-map cells, row-major, in [0, 1]; all zero
	// when no part of the image speaks for the class. Grid is where their centres lie on the
	// image.
	Cells          []float32
	CellsW, CellsH int
	Grid           Grid
	// Class is the class explained and Score its logit (for a single sigmoid unit, class 1's
	// score is the logit z and class 0's is -z).
	Class int
	Score float32
}

// Explainer computes Grad-CAM heatmaps. It is safe for concurrent use.
type Explainer struct {
	g           *tf.Graph
	sess        *tf.Session
	w, h        int
	units       int
	input, mask tf.Output
	fmap, grads tf.Output
	logits      tf.Output
	grid        Grid
}

// New builds an explainer on the backbone in dir with the head opt describes.
func New(dir string, opt Options) (*Explainer, error) {
	st, err := tune.Inspect(dir)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	e := &Explainer{g: g, w: st.Spec.Input.Width, h: st.Spec.Input.Height}
	if err := e.buildOnBackbone(st, opt); err != nil {
		g.Close()
		return nil, fmt.Errorf("gradcam: backbone %s: %w", dir, err)
	}
	if err := e.start(opt.Session); err != nil {
		g.Close()
		return nil, err
	}
	return e, nil
}

func (e *Explainer) buildOnBackbone(st *tune.Structure, opt Options) error {
	s := tf.NewScope(e.g)
	e.input = s.Placeholder("input", tf.Float, tf.Shape{-1, int64(e.h), int64(e.w), 3})
	if err := s.Err(); err != nil {
		return err
	}
	if err := e.g.ImportMapped(st.GraphDef, "backbone", map[string]tf.Output{st.Input: e.input}); err != nil {
		return err
	}
	var err error
	if e.fmap, err = e.g.Output("backbone/" + st.FeatureMap); err != nil {
		return err
	}
	if e.grid, err = e.place(st.GraphDef, "backbone/", st.Input, st.FeatureMap); err != nil {
		return err
	}
	features, err := e.g.Output("backbone/" + st.Features)
	if err != nil {
		return err
	}
	switch {
	case opt.Head != nil:
		if len(opt.Head.W) != st.Spec.Features.Size || len(opt.Head.B) == 0 {
			return fmt.Errorf("the head has %d kernel rows and %d biases for %d features", len(opt.Head.W), len(opt.Head.B), st.Spec.Features.Size)
		}
		e.logits = tune.HeadLogits(s.Sub("head"), features, opt.Head)
	case opt.HeadDir != "":
		def, sigs, err := tf.ReadSavedModelGraph(opt.HeadDir)
		if err != nil {
			return err
		}
		sig, ok := sigs[tf.DefaultSignature]
		in, okIn := sig.Inputs["input"]
		out, okOut := sig.Outputs["logits"]
		if !ok || !okIn || !okOut {
			return fmt.Errorf("head %s: want a %s signature from \"input\" to \"logits\" (a head written by nn.Net.Freeze)", opt.HeadDir, tf.DefaultSignature)
		}
		if err := e.g.ImportMapped(def, "head", map[string]tf.Output{in.Name: features}); err != nil {
			return fmt.Errorf("head %s: %w", opt.HeadDir, err)
		}
		if e.logits, err = e.g.Output("head/" + out.Name); err != nil {
			return fmt.Errorf("head %s: %w", opt.HeadDir, err)
		}
	case st.Logits != "":
		if e.logits, err = e.g.Output("backbone/" + st.Logits); err != nil {
			return err
		}
	default:
		return fmt.Errorf("the backbone has no logits: give a head (HeadW and HeadB, or HeadDir)")
	}
	return s.Err()
}

// Open builds an explainer on a fine-tuned network written by tune.Model.Freeze: a SavedModel
// whose serving_default signature has the input "input" and the outputs "logits" and
// "feature_map".
func Open(dir string, session tf.SessionOptions) (*Explainer, error) {
	def, sigs, err := tf.ReadSavedModelGraph(dir)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	sig, ok := sigs[tf.DefaultSignature]
	in, okIn := sig.Inputs["input"]
	logits, okL := sig.Outputs["logits"]
	fmap, okF := sig.Outputs["feature_map"]
	if !ok || !okIn || !okL || !okF || len(in.Shape) != 4 {
		return nil, fmt.Errorf("gradcam: %s: want a %s signature with input \"input\" [-1 H W 3] and outputs \"logits\" and \"feature_map\" (a network written by tune.Model.Freeze)", dir, tf.DefaultSignature)
	}
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	e := &Explainer{g: g, w: int(in.Shape[2]), h: int(in.Shape[1])}
	err = g.Import(def, "model")
	for _, p := range []struct {
		dst  *tf.Output
		name string
	}{{&e.input, in.Name}, {&e.logits, logits.Name}, {&e.fmap, fmap.Name}} {
		if err == nil {
			*p.dst, err = g.Output("model/" + p.name)
		}
	}
	if err == nil {
		e.grid, err = e.place(def, "model/", in.Name, fmap.Name)
	}
	if err == nil {
		err = e.start(session)
	}
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("gradcam: %s: %w", dir, err)
	}
	return e, nil
}

// place finds the grid of the feature map fmap of the graph def, imported into e.g under prefix,
// whose input is the tensor input.
func (e *Explainer) place(def []byte, prefix, input, fmap string) (Grid, error) {
	list, err := tf.ParseGraphDef(def)
	if err != nil {
		return Grid{}, err
	}
	nodes := make(map[string]tf.NodeDef, len(list))
	for _, n := range list {
		nodes[n.Name] = n
	}
	inOp := tf.OpName(input)
	shape := func(tensor string) ([]int64, bool) {
		if tf.OpName(tensor) == inOp {
			return []int64{-1, int64(e.h), int64(e.w), 3}, true
		}
		o, err := e.g.Output(prefix + tensor)
		if err != nil {
			return nil, false
		}
		return o.Shape()
	}
	return placeGrid(nodes, shape, input, fmap)
}

// start adds the class score and its gradient, and opens the session.
func (e *Explainer) start(session tf.SessionOptions) error {
	shape, ok := e.logits.Shape()
	if !ok || len(shape) != 2 || shape[1] < 1 {
		return fmt.Errorf("the logits have shape %v, want [-1 classes]", shape)
	}
	fs, ok := e.fmap.Shape()
	if !ok || len(fs) != 4 || fs[1] < 1 || fs[2] < 1 {
		return fmt.Errorf("the feature map has shape %v, want [-1 h w channels]", fs)
	}
	e.units = int(shape[1])
	s := tf.NewScope(e.g).Sub("gradcam")
	e.mask = s.Placeholder("class_mask", tf.Float, tf.Shape{-1, shape[1]})
	score := s.Out("Sum", nil, s.Out("Mul", nil, e.logits, e.mask), s.ConstInt32("axes", []int64{2}, []int32{0, 1}))
	if err := s.Err(); err != nil {
		return err
	}
	grads, err := e.g.AddGradients("gradcam/gradients", []tf.Output{score}, []tf.Output{e.fmap})
	if err != nil {
		return err
	}
	e.grads = grads[0]
	e.sess, err = tf.NewSession(e.g, session)
	return err
}

// Close frees the session and the graph.
func (e *Explainer) Close() {
	if e.sess != nil {
		e.sess.Close()
	}
	e.g.Close()
}

// InputSize returns the width and height of the images Explain takes.
func (e *Explainer) InputSize() (w, h int) { return e.w, e.h }

// Classes returns the number of classes explained (2 for a single sigmoid unit).
func (e *Explainer) Classes() int {
	if e.units == 1 {
		return 2
	}
	return e.units
}

// Batch is the number of images Explain runs at once.
const Batch = 16

// Explain returns one heatmap per image of x, n normalised images (NHWC, InputSize, as the
// backbone's spec normalises them). classes gives the class to explain for each image; nil
// explains the predicted class. It stops between batches when ctx is cancelled.
func (e *Explainer) Explain(ctx context.Context, x []float32, n int, classes []int) ([]Heatmap, error) {
	per := e.w * e.h * 3
	if n < 0 || len(x) != n*per {
		return nil, fmt.Errorf("gradcam: %d images of %dx%dx3 need %d values, got %d", n, e.h, e.w, n*per, len(x))
	}
	if classes != nil && len(classes) != n {
		return nil, fmt.Errorf("gradcam: %d images but %d classes", n, len(classes))
	}
	out := make([]Heatmap, 0, n)
	for start := 0; start < n; start += Batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+Batch, n)
		var cls []int
		if classes != nil {
			cls = classes[start:end]
		}
		maps, err := e.batch(x[start*per:end*per], end-start, cls)
		if err != nil {
			return nil, err
		}
		out = append(out, maps...)
	}
	return out, nil
}

func (e *Explainer) batch(x []float32, n int, classes []int) ([]Heatmap, error) {
	xt, err := tf.NewTensor([]int64{int64(n), int64(e.h), int64(e.w), 3}, x)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	defer xt.Close()
	if classes == nil {
		out, err := e.sess.Run(map[tf.Output]*tf.Tensor{e.input: xt}, []tf.Output{e.logits}, nil)
		if err != nil {
			return nil, fmt.Errorf("gradcam: %w", err)
		}
		z, err := tf.Values[float32](out[0])
		out[0].Close()
		if err != nil {
			return nil, err
		}
		classes = make([]int, n)
		for i := range classes {
			classes[i] = predicted(z[i*e.units : (i+1)*e.units])
		}
	}
	mask := make([]float32, n*e.units)
	for i, c := range classes {
		switch {
		case c < 0 || c >= e.Classes():
			return nil, fmt.Errorf("gradcam: class %d is not a class index below %d", c, e.Classes())
		case e.units == 1:
			mask[i] = float32(2*c - 1) // class 1 scores z, class 0 scores -z
		default:
			mask[i*e.units+c] = 1
		}
	}
	mt, err := tf.NewTensor([]int64{int64(n), int64(e.units)}, mask)
	if err != nil {
		return nil, err
	}
	defer mt.Close()
	out, err := e.sess.Run(map[tf.Output]*tf.Tensor{e.input: xt, e.mask: mt}, []tf.Output{e.fmap, e.grads, e.logits}, nil)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	defer func() {
		for _, t := range out {
			t.Close()
		}
	}()
	a, err := tf.Values[float32](out[0])
	if err != nil {
		return nil, err
	}
	g, err := tf.Values[float32](out[1])
	if err != nil {
		return nil, err
	}
	z, err := tf.Values[float32](out[2])
	if err != nil {
		return nil, err
	}
	shape := out[0].Shape()
	fh, fw, k := int(shape[1]), int(shape[2]), int(shape[3])
	size := fh * fw * k
	maps := make([]Heatmap, n)
	for i := range maps {
		cam := CAM(a[i*size:(i+1)*size], g[i*size:(i+1)*size], fh, fw, k)
		var score float32
		for j := range e.units {
			score += z[i*e.units+j] * mask[i*e.units+j]
		}
		cam = normalise(cam)
		maps[i] = Heatmap{W: e.w, H: e.h, Cells: cam, CellsW: fw, CellsH: fh, Grid: e.grid, Class: classes[i], Score: score}
	}
	return maps, nil
}

// predicted returns the class of a row of logits: argmax, or z > 0 for a single sigmoid unit.
func predicted(z []float32) int {
	if len(z) == 1 {
		if z[0] > 0 {
			return 1
		}
		return 0
	}
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}

// CAM computes Grad-CAM's map at the feature map's resolution from the activations a and the
// gradients g of one image, both [h, w, k] row-major: ReLU(sum_k mean(g_k) a_k).
func CAM(a, g []float32, h, w, k int) []float32 {
	weights := make([]float64, k)
	for p := 0; p < h*w; p++ {
		for c := range k {
			weights[c] += float64(g[p*k+c])
		}
	}
	for c := range weights {
		weights[c] /= float64(h * w)
	}
	cam := make([]float32, h*w)
	for p := range cam {
		var v float64
		for c := range k {
			v += weights[c] * float64(a[p*k+c])
		}
		cam[p] = float32(math.Max(v, 0))
	}
	return cam
}

// normalise divides m by its maximum in place (leaving an all-zero map as it is).
func normalise(m []float32) []float32 {
	var hi float32
	for _, v := range m {
		hi = max(hi, v)
	}
	if hi > 0 {
		for i := range m {
			m[i] /= hi
		}
	}
	return m
}

// Upsampled returns the heatmap on a w x h image (the model's input or an original image, which
// the model saw resized), row-major: each cell at the centre of its receptive field, bilinear in
// between, the edge cells' values held beyond them.
func (h Heatmap) Upsampled(w, ht int) []float32 {
	sx, sy := float64(w)/float64(h.W), float64(ht)/float64(h.H)
	g := Grid{X0: h.Grid.X0 * sx, Y0: h.Grid.Y0 * sy, StepX: h.Grid.StepX * sx, StepY: h.Grid.StepY * sy}
	return upsample(h.Cells, h.CellsW, h.CellsH, g, w, ht)
}

// Hotspot returns where the heatmap points, in image pixels: the heat-weighted centre of the
// cells that hold at least half of the maximum and are connected, side by side, to the hottest
// cell (the first in row order when several tie), kept inside the image. Localising by a region
// above a fraction of the maximum follows Zhou et al. 2016; on a coarse map an object's heat
// spreads over neighbouring cells of nearly equal value, and the hottest of them alone is a noisy
// estimate.
func (h Heatmap) Hotspot() (x, y int) {
	best := 0
	for i, v := range h.Cells {
		if v > h.Cells[best] {
			best = i
		}
	}
	seen := map[int]bool{best: true}
	stack := []int{best}
	var sx, sy, sum float64
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		row, col := c/h.CellsW, c%h.CellsW
		v := float64(h.Cells[c])
		cx, cy := h.Grid.Centre(row, col)
		sx, sy, sum = sx+v*cx, sy+v*cy, sum+v
		for _, d := range [4][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
			r, q := row+d[0], col+d[1]
			n := r*h.CellsW + q
			if r >= 0 && q >= 0 && r < h.CellsH && q < h.CellsW && !seen[n] && h.Cells[n] >= h.Cells[best]/2 {
				seen[n] = true
				stack = append(stack, n)
			}
		}
	}
	if sum == 0 { // an all-zero map: its first cell
		sx, sy = h.Grid.Centre(0, 0)
		sum = 1
	}
	clamp := func(v float64, n int) int { return max(0, min(int(math.Floor(v)), n-1)) }
	return clamp(sx/sum, h.W), clamp(sy/sum, h.H)
}
