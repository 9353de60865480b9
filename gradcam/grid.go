package gradcam

import (
	"fmt"
	"math"

	"github.com/lessdata/lessdata/tf"
)

// Grid places a feature map's cells on the input image: the receptive field of cell (i, j), row
// i and column j, is centred at pixel coordinates (X0 + j*StepX, Y0 + i*StepY), where the image
// spans [0, W] x [0, H] and pixel k's centre is k + 0.5.
//
// The centres are not where an evenly spread grid would put them. A convolution of stride 2
// with TensorFlow's "SAME" padding (or the explicit Pad that converted models use instead) pads
// only after the image when the size is even, so each of MobileNetV2's five stride-2 layers
// moves the centres by half of its input's pixel towards the bottom right: cell j of its 7x7 map
// is centred at 32j + 31.5, not at 32j + 16.
type Grid struct {
	X0, Y0, StepX, StepY float64
}

// Centre returns the pixel coordinates of the centre of the cell in row i and column j.
func (g Grid) Centre(i, j int) (x, y float64) {
	return g.X0 + float64(j)*g.StepX, g.Y0 + float64(i)*g.StepY
}

// evenGrid spreads w x h cells evenly over a tw x th image, as image resizers align pixel
// centres.
func evenGrid(w, h, tw, th int) Grid {
	sx, sy := float64(tw)/float64(w), float64(th)/float64(h)
	return Grid{X0: sx / 2, Y0: sy / 2, StepX: sx, StepY: sy}
}

// affine maps an index along one axis of a tensor to the input pixel index at the centre of its
// receptive field: a*i + b.
type affine struct{ a, b float64 }

// placement is what the walk knows of a tensor: its map to the input along height and width.
type placement struct {
	axis     [2]affine
	spatial  bool // false for tensors that do not vary over the image (constants, pools)
	resolved bool
}

// placeGrid finds the Grid of the feature map fmap in a graph from the operations between it and
// the input, by composing each one's stride, kernel and padding along height and width. nodes
// are the graph's nodes by name; shape returns the static shape of a tensor of the graph ("op"
// or "op:index"); input and fmap are tensor names.
func placeGrid(nodes map[string]tf.NodeDef, shape func(string) ([]int64, bool), input, fmap string) (Grid, error) {
	w := &walk{nodes: nodes, shape: shape, input: tf.OpName(input), memo: map[string]placement{}}
	p, err := w.place(fmap, 0)
	if err != nil {
		return Grid{}, fmt.Errorf("place the feature map on the image: %w", err)
	}
	if !p.spatial {
		return Grid{}, fmt.Errorf("place the feature map on the image: %s does not depend on the input %s", fmap, input)
	}
	return Grid{X0: p.axis[1].b + 0.5, Y0: p.axis[0].b + 0.5, StepX: p.axis[1].a, StepY: p.axis[0].a}, nil
}

type walk struct {
	nodes map[string]tf.NodeDef
	shape func(string) ([]int64, bool)
	input string
	memo  map[string]placement
}

// maxDepth bounds the walk; the deepest zoo backbone is a few hundred operations deep.
const maxDepth = 10000

func (w *walk) place(tensor string, depth int) (placement, error) {
	name := tf.OpName(tensor)
	if p, ok := w.memo[name]; ok {
		if !p.resolved {
			return placement{}, fmt.Errorf("the graph has a cycle through %s", name)
		}
		return p, nil
	}
	if depth > maxDepth {
		return placement{}, fmt.Errorf("more than %d operations deep", maxDepth)
	}
	w.memo[name] = placement{}
	p, err := w.placeOp(name, depth)
	if err != nil {
		return placement{}, err
	}
	p.resolved = true
	w.memo[name] = p
	return p, nil
}

func (w *walk) placeOp(name string, depth int) (placement, error) {
	identity := placement{axis: [2]affine{{1, 0}, {1, 0}}, spatial: true}
	if name == w.input {
		return identity, nil
	}
	n, ok := w.nodes[name]
	if !ok {
		return placement{}, fmt.Errorf("no operation %s", name)
	}
	var data []string
	for _, s := range n.Inputs {
		if len(s) > 0 && s[0] != '^' {
			data = append(data, s)
		}
	}
	switch n.Op {
	case "Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool", "Pad", "PadV2", "MirrorPad":
		if len(data) == 0 {
			return placement{}, fmt.Errorf("%s (%s) has no input", name, n.Op)
		}
		from, err := w.place(data[0], depth+1)
		if err != nil || !from.spatial {
			return from, err
		}
		var out placement
		out.spatial = true
		for d := range 2 {
			stride, offset, err := w.window(n, data, d)
			if err != nil {
				return placement{}, fmt.Errorf("%s (%s): %w", name, n.Op, err)
			}
			f := from.axis[d]
			out.axis[d] = affine{a: f.a * stride, b: f.a*offset + f.b}
		}
		return out, nil
	}
	// Any other operation keeps its first spatial input's placement, provided it keeps its
	// height and width: activations, bias adds, residual sums, squeeze-and-excite products.
	var found *placement
	var from string
	for _, s := range data {
		p, err := w.place(s, depth+1)
		if err != nil {
			return placement{}, err
		}
		if p.spatial {
			found, from = &p, s
			break
		}
	}
	if found == nil {
		return placement{}, nil
	}
	if n.Op == "Identity" || n.Op == "IdentityN" {
		return *found, nil
	}
	inShape, ok1 := w.shape(from)
	outShape, ok2 := w.shape(name)
	if !ok1 || !ok2 || len(inShape) != 4 || len(outShape) != 4 || inShape[1] != outShape[1] || inShape[2] != outShape[2] {
		if len(outShape) == 4 && outShape[1] == 1 && outShape[2] == 1 {
			return placement{}, nil // pooled over the image: no longer spatial
		}
		return placement{}, fmt.Errorf("%s (%s) changes the tensor's shape from %v to %v in a way Grad-CAM cannot place", name, n.Op, inShape, outShape)
	}
	return *found, nil
}

// window returns, for axis d (0 height, 1 width) of a windowed operation, its stride and the
// input index at the centre of output index 0.
func (w *walk) window(n tf.NodeDef, data []string, d int) (stride, offset float64, err error) {
	if n.Op == "Pad" || n.Op == "PadV2" || n.Op == "MirrorPad" {
		if len(data) < 2 {
			return 0, 0, fmt.Errorf("no paddings")
		}
		pads, err := w.constInts(data[1])
		if err != nil {
			return 0, 0, err
		}
		if len(pads) != 8 {
			return 0, 0, fmt.Errorf("paddings %v, want 4 pairs", pads)
		}
		return 1, -float64(pads[2*(1+d)]), nil
	}
	strides, err := n.AttrInts("strides")
	if err != nil {
		return 0, 0, err
	}
	dil, err := n.AttrInts("dilations")
	if err != nil {
		return 0, 0, err
	}
	if len(strides) != 4 || n.AttrString("data_format") == "NCHW" {
		return 0, 0, fmt.Errorf("strides %v in layout %q, want 4 in NHWC", strides, n.AttrString("data_format"))
	}
	s, dilation := strides[1+d], int64(1)
	if len(dil) == 4 {
		dilation = dil[1+d]
	}
	var k int64
	if n.Op == "MaxPool" || n.Op == "AvgPool" {
		ks, err := n.AttrInts("ksize")
		if err != nil || len(ks) != 4 {
			return 0, 0, fmt.Errorf("ksize %v: %v", ks, err)
		}
		k = ks[1+d]
	} else {
		ks, ok := w.shape(data[1])
		if !ok || len(ks) != 4 || ks[d] < 1 {
			return 0, 0, fmt.Errorf("kernel shape %v unknown", ks)
		}
		k = ks[d]
	}
	span := (k-1)*dilation + 1
	var before int64
	switch pad := n.AttrString("padding"); pad {
	case "VALID":
	case "SAME":
		is, ok := w.shape(data[0])
		if !ok || len(is) != 4 || is[1+d] < 1 {
			return 0, 0, fmt.Errorf("input shape %v unknown", is)
		}
		size := is[1+d]
		out := (size + s - 1) / s
		before = max((out-1)*s+span-size, 0) / 2
	case "EXPLICIT":
		ep, err := n.AttrInts("explicit_paddings")
		if err != nil || len(ep) != 8 {
			return 0, 0, fmt.Errorf("explicit_paddings %v: %v", ep, err)
		}
		before = ep[2*(1+d)]
	default:
		return 0, 0, fmt.Errorf("padding %q", pad)
	}
	return float64(s), float64(span-1)/2 - float64(before), nil
}

// constInts reads an integer constant, through Identity operations.
func (w *walk) constInts(tensor string) ([]int64, error) {
	for range maxDepth {
		name := tf.OpName(tensor)
		n, ok := w.nodes[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("no operation %s", name)
		case n.Op == "Const":
			return n.AttrTensorInts("value")
		case n.Op == "Identity" && len(n.Inputs) > 0:
			tensor = n.Inputs[0]
		default:
			return nil, fmt.Errorf("%s (%s) is not a constant", name, n.Op)
		}
	}
	return nil, fmt.Errorf("constant chain too long at %s", tensor)
}

// upsample resamples a w x h map of cells placed by grid onto a tw x th image bilinearly
// between cell centres, holding the edge cells' values beyond them.
func upsample(m []float32, w, h int, grid Grid, tw, th int) []float32 {
	out := make([]float32, tw*th)
	coord := func(px float64, origin, step float64, n int) (int, int, float32) {
		u := (px - origin) / step
		u = math.Max(0, math.Min(u, float64(n-1)))
		u0 := int(u)
		return u0, min(u0+1, n-1), float32(u - float64(u0))
	}
	for y := range th {
		y0, y1, fy := coord(float64(y)+0.5, grid.Y0, grid.StepY, h)
		for x := range tw {
			x0, x1, fx := coord(float64(x)+0.5, grid.X0, grid.StepX, w)
			top := m[y0*w+x0]*(1-fx) + m[y0*w+x1]*fx
			bottom := m[y1*w+x0]*(1-fx) + m[y1*w+x1]*fx
			out[y*tw+x] = top*(1-fy) + bottom*fy
		}
	}
	return out
}
