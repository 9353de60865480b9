package tune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

// Layer is a weighted layer of a backbone graph: a convolution (or a matrix product) whose
// kernel is a constant, with the constant bias added right after it when there is one.
type Layer struct {
	Op     string // the operation's name in the backbone graph, such as "Conv2D_33"
	Type   string // "Conv2D", "DepthwiseConv2dNative" or "MatMul"
	Kernel string // name of the Const holding the kernel
	Bias   string // name of the Const holding the bias; "" when the layer has none
}

// Block is a run of consecutive layers that fine-tuning unfreezes together.
type Block struct {
	Layers []Layer
}

// Structure is what fine-tuning and Grad-CAM need to know about a backbone: its graph, where
// images go in, where features come out, the last convolutional feature map and the weighted
// layers grouped into blocks.
type Structure struct {
	Dir      string
	Spec     *models.Spec
	GraphDef []byte
	// Input, Features, FeatureMap and Logits are tensor names ("op:index") in GraphDef.
	// FeatureMap is the input of the global pool that makes the features: the last
	// convolutional activation, [-1, h, w, F]. Logits is "" when the backbone has none.
	Input, Features, FeatureMap, Logits string
	// Layers are the weighted layers that make the features, from the input up.
	Layers []Layer
	// Blocks partition Layers, from the input up: the stem (the first layer) alone, then one
	// block per depthwise convolution (see Inspect).
	Blocks []Block

	nodes map[string]tf.NodeDef
	order []string // nodes that make the features, in topological order
}

// weighted lists the operation types whose input 1 is a kernel.
var weighted = map[string]bool{"Conv2D": true, "DepthwiseConv2dNative": true, "MatMul": true}

// Inspect reads the backbone in dir (a folder with a SavedModel and its spec, as the converter
// writes it) and finds its structure from the graph alone, without names:
//
//   - the features are the signature's features output; walking back through Identity, Reshape
//     and Squeeze reaches the global pool (Mean or AvgPool), whose input is the feature map;
//   - a layer is a Conv2D, DepthwiseConv2dNative or MatMul on the path from the input to the
//     pool whose kernel is a Const, with the Const of the BiasAdd that follows it;
//   - the blocks are the stem (the first layer), then one block per depthwise convolution: the
//     layers from the end of the previous block up to and including the first pointwise layer
//     after the depthwise one (MobileNetV1's depthwise + pointwise pair, MobileNetV2's and
//     EfficientNet-Lite's expand + depthwise + project). Layers after the last such block
//     (MobileNetV2's final 1x1 convolution to 1280 features) join the last block. A graph
//     without depthwise convolutions has one block per layer.
//
// Batch normalisations are folded into the convolutions' kernels and biases by the converter,
// so there are no batch-norm statistics to freeze or update.
func Inspect(dir string) (*Structure, error) {
	spec, err := models.ReadSpec(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect backbone: %w", err)
	}
	def, sigs, err := tf.ReadSavedModelGraph(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect backbone: %w", err)
	}
	nodes, err := tf.ParseGraphDef(def)
	if err != nil {
		return nil, fmt.Errorf("inspect backbone %s: %w", dir, err)
	}
	s := &Structure{Dir: dir, Spec: spec, GraphDef: def, nodes: map[string]tf.NodeDef{}}
	for _, n := range nodes {
		s.nodes[n.Name] = n
	}
	sig, ok := sigs[spec.SignatureKey()]
	if !ok {
		return nil, fmt.Errorf("inspect backbone %s: the SavedModel has no signature %q", dir, spec.SignatureKey())
	}
	in, okIn := sig.Inputs[spec.Input.Key]
	feat, okFeat := sig.Outputs[spec.Features.Key]
	if !okIn || !okFeat {
		return nil, fmt.Errorf("inspect backbone %s: signature %q lacks input %q or output %q", dir, sig.Key, spec.Input.Key, spec.Features.Key)
	}
	s.Input, s.Features = tensorName(in.Name), tensorName(feat.Name)
	if spec.Logits != nil {
		if l, ok := sig.Outputs[spec.Logits.Key]; ok {
			s.Logits = tensorName(l.Name)
		}
	}
	if err := s.analyse(); err != nil {
		return nil, fmt.Errorf("inspect backbone %s: %w", dir, err)
	}
	return s, nil
}

// tensorName returns a tensor name as "op:index".
func tensorName(name string) string {
	if strings.LastIndexByte(name, ':') < 0 {
		return name + ":0"
	}
	return name
}

func (s *Structure) analyse() error {
	// The global pool: walk back from the features through shape-only operations.
	pool := tf.OpName(s.Features)
	for {
		n, ok := s.nodes[pool]
		if !ok {
			return fmt.Errorf("the graph has no node %q", pool)
		}
		if n.Op == "Mean" || n.Op == "AvgPool" {
			s.FeatureMap = tensorName(n.Inputs[0])
			break
		}
		if (n.Op != "Identity" && n.Op != "Reshape" && n.Op != "Squeeze") || len(n.Inputs) == 0 {
			return fmt.Errorf("no global pool (Mean or AvgPool) before the features: reached %s (%s)", n.Name, n.Op)
		}
		pool = n.InputOp(0)
	}
	// Topological order of what the features need, by depth-first post-order.
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		n, ok := s.nodes[name]
		if !ok {
			return fmt.Errorf("the graph has no node %q", name)
		}
		for i := range n.Inputs {
			if err := visit(n.InputOp(i)); err != nil {
				return err
			}
		}
		s.order = append(s.order, name)
		return nil
	}
	if err := visit(tf.OpName(s.Features)); err != nil {
		return err
	}
	consumers := map[string][]string{}
	for _, name := range s.order {
		n := s.nodes[name]
		for i := range n.Inputs {
			consumers[n.InputOp(i)] = append(consumers[n.InputOp(i)], name)
		}
	}
	for _, name := range s.order {
		n := s.nodes[name]
		if !weighted[n.Op] || len(n.Inputs) < 2 || s.nodes[n.InputOp(1)].Op != "Const" {
			continue
		}
		l := Layer{Op: name, Type: n.Op, Kernel: n.InputOp(1)}
		if c := consumers[name]; len(c) == 1 {
			if b := s.nodes[c[0]]; b.Op == "BiasAdd" && b.InputOp(0) == name && s.nodes[b.InputOp(1)].Op == "Const" {
				l.Bias = b.InputOp(1)
			}
		}
		s.Layers = append(s.Layers, l)
	}
	if len(s.Layers) == 0 {
		return fmt.Errorf("no weighted layer with constant weights before the features; fine-tuning needs a backbone converted by lessdata (weights as constants)")
	}
	s.Blocks = blocks(s.Layers)
	return nil
}

// blocks groups layers as Inspect describes.
func blocks(layers []Layer) []Block {
	depthwise := slices.ContainsFunc(layers, func(l Layer) bool { return l.Type == "DepthwiseConv2dNative" })
	out := []Block{{Layers: layers[:1]}}
	var cur []Layer
	sawDepthwise := false
	for _, l := range layers[1:] {
		cur = append(cur, l)
		if l.Type == "DepthwiseConv2dNative" {
			sawDepthwise = true
			continue
		}
		if !depthwise || sawDepthwise {
			out = append(out, Block{Layers: cur})
			cur, sawDepthwise = nil, false
		}
	}
	if len(cur) > 0 {
		if len(out) > 1 {
			last := &out[len(out)-1]
			last.Layers = append(last.Layers, cur...)
		} else {
			out = append(out, Block{Layers: cur})
		}
	}
	return out
}

// Trainable returns the layers fine-tuning trains: those of the top unfreeze blocks, or, when
// from is not empty, the layer whose operation or kernel is named from and every layer that
// depends on it. Both zero (0, "") train no backbone layer.
func (s *Structure) Trainable(unfreeze int, from string) ([]Layer, error) {
	switch {
	case unfreeze < 0:
		return nil, fmt.Errorf("unfreeze %d: give the number of top blocks to train, 0 or more", unfreeze)
	case unfreeze > 0 && from != "":
		return nil, fmt.Errorf("give the number of blocks to unfreeze or the layer to unfreeze from, not both")
	case unfreeze > len(s.Blocks):
		return nil, fmt.Errorf("unfreeze %d: backbone %s has %d blocks; give 0 to %d", unfreeze, s.Spec.Name, len(s.Blocks), len(s.Blocks))
	case from != "":
		return s.layersFrom(from)
	}
	var out []Layer
	for _, b := range s.Blocks[len(s.Blocks)-unfreeze:] {
		out = append(out, b.Layers...)
	}
	return out, nil
}

func (s *Structure) layersFrom(from string) ([]Layer, error) {
	start := -1
	for i, l := range s.Layers {
		if l.Op == from || l.Kernel == from {
			start = i
			break
		}
	}
	if start < 0 {
		names := make([]string, len(s.Layers))
		for i, l := range s.Layers {
			names[i] = l.Op
		}
		return nil, fmt.Errorf("backbone %s has no weighted layer named %q (layers: %s)", s.Spec.Name, from, strings.Join(names, ", "))
	}
	// Descendants of the layer, by the topological order.
	reached := map[string]bool{s.Layers[start].Op: true}
	for _, name := range s.order {
		n := s.nodes[name]
		for i := range n.Inputs {
			if reached[n.InputOp(i)] {
				reached[name] = true
			}
		}
	}
	var out []Layer
	for _, l := range s.Layers {
		if reached[l.Op] {
			out = append(out, l)
		}
	}
	return out, nil
}

// needed returns def, the backbone's graph or a cast of it, with only the nodes the features
// need, less those named in drop.
func (s *Structure) needed(def []byte, drop map[string]bool) ([]byte, error) {
	keep := map[string]bool{}
	for _, name := range s.order {
		keep[name] = !drop[name]
	}
	return tf.FilterGraphDef(def, func(n tf.NodeDef) bool { return keep[n.Name] })
}
