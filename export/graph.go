package export

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/predict"
	"github.com/lessdata/lessdata/tf"
	"google.golang.org/protobuf/encoding/protowire"
)

// Names of the exported graph's inputs and outputs.
const (
	imagesName = "images"        // string [-1]: encoded image files
	pixelsName = "pixels"        // uint8 [-1, H, W, 3]: images already resized
	probsName  = "probabilities" // float32 [-1, K]
	indexName  = "class_index"   // int64 [-1]
	decodeName = "decode"        // the MapDefun that decodes and resizes each image
	decodeFunc = "lessdata_decode_resize"
	normName   = "normalized" // the model's (or backbone's) input
)

// stdEpsilon is added to a scratch model's feature-wise std, as bundle.Preprocess says.
const stdEpsilon = 1e-6

// classifier is a bundle assembled into one graph: decoding and resizing, normalisation, the
// backbone if any, the model, and full class probabilities with the class index.
type classifier struct {
	graph    *tf.Graph
	manifest *bundle.Manifest
	spec     *models.Spec // the backbone's spec; nil without a backbone
	images   tf.Output
	pixels   tf.Output
	probs    tf.Output
	index    tf.Output
}

func (c *classifier) close() { c.graph.Close() }

// imported is a frozen SavedModel's graph with the tensor names of its input and output.
type imported struct {
	nodes     []*node
	functions [][]byte
	input     tf.TensorInfo
	output    tf.TensorInfo
}

// importModel reads a frozen SavedModel's graph and the tensors of signature key's inputs[in]
// and outputs[out].
func importModel(dir, key, in, out string) (*imported, error) {
	sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
	if err != nil {
		return nil, err
	}
	defer sm.Close()
	sig, err := sm.Signature(key)
	if err != nil {
		return nil, err
	}
	im := &imported{}
	var ok1, ok2 bool
	im.input, ok1 = sig.Inputs[in]
	im.output, ok2 = sig.Outputs[out]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("SavedModel %s: signature %q lacks input %q or output %q", dir, key, in, out)
	}
	def, err := sm.Graph.GraphDef()
	if err != nil {
		return nil, err
	}
	if im.nodes, im.functions, err = parseNodes(def); err != nil {
		return nil, fmt.Errorf("SavedModel %s: %w", dir, err)
	}
	return im, nil
}

// build assembles the bundle in dir into one graph.
func build(ctx context.Context, dir string, opt Options) (*classifier, error) {
	m, err := bundle.Read(dir)
	if err != nil {
		return nil, err
	}
	model, err := importModel(filepath.Join(dir, bundle.ModelDir), tf.DefaultSignature, "input", probsName)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	c := &classifier{manifest: m}
	var bb *imported
	rank := len(model.input.Shape)
	switch {
	case m.Kind == bundle.KindScratch:
		if rank != 4 {
			return nil, fmt.Errorf("export %s: the scratch model's input has rank %d, want images [-1 H W 3]", dir, rank)
		}
	case m.Backbone == nil:
		return nil, fmt.Errorf("export %s: a %s bundle must name its backbone", dir, m.Kind)
	default:
		bdir, err := resolveBackbone(ctx, m, opt)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", dir, err)
		}
		if c.spec, err = models.ReadSpec(bdir); err != nil {
			return nil, fmt.Errorf("export %s: %w", dir, err)
		}
		if rank == 2 { // the model reads the backbone's features
			bb, err = importModel(bdir, c.spec.SignatureKey(), c.spec.Input.Key, c.spec.Features.Key)
			if err != nil {
				return nil, fmt.Errorf("export %s: backbone: %w", dir, err)
			}
		} else if rank != 4 { // else it takes backbone-normalised images itself
			return nil, fmt.Errorf("export %s: the model's input has rank %d, want features [-1 F] or images [-1 H W 3]", dir, rank)
		}
	}
	if rank == 4 {
		want := []int64{-1, int64(m.Input.Height), int64(m.Input.Width), 3}
		if s := model.input.Shape; s[1] != want[1] || s[2] != want[2] || s[3] != 3 {
			return nil, fmt.Errorf("export %s: the model takes %v images, the bundle says %v", dir, s, want)
		}
	}
	front, err := buildFront(c)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	def := front
	from := normName + ":0"
	if bb != nil {
		nodes, err := splice(prune(bb.nodes, tf.OpName(bb.output.Name)), "backbone", tf.OpName(bb.input.Name), from)
		if err != nil {
			return nil, fmt.Errorf("export %s: backbone: %w", dir, err)
		}
		def = appendNodes(def, nodes)
		if len(bb.functions) > 0 {
			def = append(def, libraryBytes(bb.functions...)...)
		}
		from = "backbone/" + bb.output.Name
	}
	nodes, err := splice(prune(model.nodes, tf.OpName(model.output.Name)), "model", tf.OpName(model.input.Name), from)
	if err != nil {
		return nil, fmt.Errorf("export %s: model: %w", dir, err)
	}
	def = appendNodes(def, nodes)
	if len(model.functions) > 0 {
		def = append(def, libraryBytes(model.functions...)...)
	}
	if c.graph, err = tf.NewGraph(); err != nil {
		return nil, err
	}
	if err := c.graph.Import(def, ""); err != nil {
		c.close()
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	if err := c.finish("model/" + model.output.Name); err != nil {
		c.close()
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	return c, nil
}

// resolveBackbone finds the bundle's backbone and checks it is the one the model was trained
// with, as predict does.
func resolveBackbone(ctx context.Context, m *bundle.Manifest, opt Options) (string, error) {
	dir := opt.Backbone
	if dir == "" {
		var err error
		if dir, err = backbone.Resolve(ctx, m.Backbone.Name, opt.Fetch); err != nil {
			return "", fmt.Errorf("the model needs backbone %s: %w (or pass --backbone DIR)", m.Backbone.Name, err)
		}
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		return "", err
	}
	defer b.Close()
	w, h := b.InputSize()
	switch {
	case predict.BackboneID(b) != m.Backbone.SHA256:
		return "", fmt.Errorf("backbone %s (sha256 %s) is not the one the model was trained with (%s, sha256 %s)",
			dir, predict.BackboneID(b), m.Backbone.Name, m.Backbone.SHA256)
	case w != m.Input.Width || h != m.Input.Height:
		return "", fmt.Errorf("backbone %s takes %dx%d images, the model was trained on %dx%d", dir, w, h, m.Input.Width, m.Input.Height)
	case b.Spec.Features.Size != m.Backbone.Features:
		return "", fmt.Errorf("backbone %s gives %d features, the model reads %d", dir, b.Spec.Features.Size, m.Backbone.Features)
	}
	return dir, nil
}

// buildFront returns the serialised front of the graph: the "images" placeholder, the MapDefun
// that decodes and resizes each of them ("decode"), the "pixels" input that defaults to its
// result, and their normalisation ("normalized").
func buildFront(c *classifier) ([]byte, error) {
	m := c.manifest
	fns, err := decodeFunctions(m.Input.Width, m.Input.Height)
	if err != nil {
		return nil, err
	}
	hw3 := []int64{int64(m.Input.Height), int64(m.Input.Width), 3}
	images := &node{tf.NodeDef{Name: imagesName, Op: "Placeholder", Attrs: map[string][]byte{
		"dtype": attrTypeBytes(uint64(tf.String)), "shape": shapeAttr([]int64{-1})}}}
	decode := &node{tf.NodeDef{Name: decodeName, Op: "MapDefun", Inputs: []string{imagesName}, Attrs: map[string][]byte{
		"Targuments": attrTypeListBytes(uint64(tf.String)), "Tcaptured": attrTypeListBytes(),
		"output_types": attrTypeListBytes(uint64(tf.Uint8)), "output_shapes": attrShapeListBytes(hw3),
		"f": attrFuncBytes(decodeFunc), "max_intra_op_parallelism": attrIntBytes(1)}}}
	raw := append(libraryBytes(fns...), appendNodes(nil, []*node{images, decode})...)

	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if err := g.Import(raw, ""); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	s := tf.NewScope(g)
	dec, err := g.Output(decodeName + ":0")
	if err != nil {
		return nil, err
	}
	pixels := s.NamedOp(pixelsName, "PlaceholderWithDefault", []any{dec},
		map[string]any{"dtype": tf.Uint8, "shape": tf.Shape{-1, hw3[0], hw3[1], 3}})
	if pixels == nil {
		return nil, s.Err()
	}
	p := s.Sub("preprocess")
	x := p.Out("Cast", map[string]any{"DstT": tf.Float}, pixels.Output(0))
	if c.spec == nil {
		scale, off := scratchAffine(m.Preprocess)
		x = p.Out("AddV2", nil, p.Out("Mul", nil, x, p.ConstFloat("scale", []int64{3}, scale[:])), p.ConstFloat("offset", []int64{3}, off[:]))
	} else {
		in := c.spec.Input
		if in.ColorOrder == "BGR" {
			x = p.Out("ReverseV2", nil, x, p.ConstInt32("channels", []int64{1}, []int32{3}))
		}
		inv := make([]float32, 3)
		for i, v := range in.Std {
			inv[i] = 1 / v
		}
		x = p.Out("Mul", nil, p.Out("Sub", nil, x, p.ConstFloat("mean", []int64{3}, in.Mean[:])), p.ConstFloat("inverse_std", []int64{3}, inv))
	}
	s.Identity(normName, x)
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("preprocessing: %w", err)
	}
	return g.GraphDef()
}

// scratchAffine folds a scratch model's rescale and feature-wise standardisation into
// x*scale + offset per channel, computed exactly as package augment does.
func scratchAffine(p bundle.Preprocess) (scale, off [3]float32) {
	for ch := range 3 {
		sc, of := 1.0, 0.0
		if p.Rescale != 0 {
			sc = float64(p.Rescale)
		}
		if p.Featurewise {
			of = -float64(p.Mean[ch])
			d := float64(p.Std[ch]) + stdEpsilon
			sc /= d
			of /= d
		}
		scale[ch], off[ch] = float32(sc), float32(of)
	}
	return scale, off
}

// finish adds full class probabilities (two columns even for a one-unit sigmoid model) and the
// class index after the model's output.
func (c *classifier) finish(output string) error {
	g := c.graph
	p, err := g.Output(output)
	if err != nil {
		return err
	}
	k := len(c.manifest.Classes)
	shape, _ := p.Shape()
	units := int64(-1)
	if len(shape) == 2 {
		units = shape[1]
	}
	s := tf.NewScope(g).Sub("output")
	switch {
	case units == int64(k):
	case units == 1 && k == 2:
		one := s.ConstFloat("one", []int64{}, []float32{1})
		p = s.Out("ConcatV2", nil, []tf.Output{s.Out("Sub", nil, one, p), p}, s.ConstInt32("axis", []int64{}, []int32{1}))
	default:
		return fmt.Errorf("the model gives %v probabilities for %d classes", shape, k)
	}
	root := tf.NewScope(g)
	c.probs = root.Identity(probsName, p)
	var index tf.Output
	if t := c.manifest.Threshold; t > 0 && k == 2 {
		// predict.Model.Decide: the positive class when its probability reaches the threshold.
		pos := int32(slices.Index(c.manifest.Classes, c.manifest.Positive))
		if pos < 0 {
			pos = 1
		}
		col := s.Out("Reshape", nil, s.Out("GatherV2", nil, c.probs, s.ConstInt32("positive", []int64{}, []int32{pos}), s.ConstInt32("class_axis", []int64{}, []int32{1})),
			s.ConstInt32("flat", []int64{1}, []int32{-1}))
		isPos := s.Out("Cast", map[string]any{"DstT": tf.Int64}, s.Out("GreaterEqual", nil, col, s.ConstFloat("threshold", []int64{}, []float32{threshold32(t)})))
		index = isPos
		if pos == 0 {
			one, err := tf.Scalar[int64](1)
			if err != nil {
				return err
			}
			defer one.Close()
			index = s.Out("Sub", nil, s.Const("one64", one), isPos)
		}
	} else {
		index = s.Out("ArgMax", map[string]any{"output_type": tf.Int64}, c.probs, s.ConstInt32("dimension", []int64{}, []int32{1}))
	}
	c.index = root.Identity(indexName, index)
	if err := s.Err(); err != nil {
		return err
	}
	if err := root.Err(); err != nil {
		return err
	}
	if c.images, err = g.Output(imagesName + ":0"); err != nil {
		return err
	}
	c.pixels, err = g.Output(pixelsName + ":0")
	return err
}

// threshold32 returns the smallest float32 at or above t, so that p >= it holds for a float32
// probability p exactly when float64(p) >= t, as predict compares.
func threshold32(t float64) float32 {
	c := float32(t)
	if float64(c) < t {
		c = math.Nextafter32(c, float32(math.Inf(1)))
	}
	return c
}

// signatures returns the exported signatures: serving_default on encoded images, "pixels" on
// resized uint8 pixels.
func (c *classifier) signatures() []tf.Signature {
	k := int64(len(c.manifest.Classes))
	outs := map[string]tf.TensorInfo{
		probsName: {Name: c.probs.Name(), DType: tf.Float, Shape: []int64{-1, k}},
		indexName: {Name: c.index.Name(), DType: tf.Int64, Shape: []int64{-1}},
	}
	h, w := int64(c.manifest.Input.Height), int64(c.manifest.Input.Width)
	return []tf.Signature{
		{Key: tf.DefaultSignature, Inputs: map[string]tf.TensorInfo{imagesName: {Name: c.images.Name(), DType: tf.String, Shape: []int64{-1}}}, Outputs: outs},
		{Key: PixelsSignature, Inputs: map[string]tf.TensorInfo{pixelsName: {Name: c.pixels.Name(), DType: tf.Uint8, Shape: []int64{-1, h, w, 3}}}, Outputs: outs},
	}
}

// PixelsSignature is the key of the exported SavedModel's signature on resized uint8 pixels.
const PixelsSignature = "pixels"

// Functions of the decoder: the per-image function and the two decoders its If picks from.
const (
	decodeJPEGFunc  = "lessdata_decode_jpeg"
	decodeOtherFunc = "lessdata_decode_other"
)

// decodeFunctions returns the FunctionDefs that turn one encoded image into the uint8 w x h RGB
// pixels lessdata's loader gives (dataset.LoadImage): decode (JPEG without chroma smoothing and
// with the accurate integer IDCT, the closest libjpeg gets to Go's image/jpeg), transparency over
// white, resize with an antialiased bilinear (triangle) filter, then rounding to 8 bits the way
// golang.org/x/image/draw does.
func decodeFunctions(w, h int) ([][]byte, error) {
	jpeg, err := graphFunction(decodeJPEGFunc, nil, func(s *tf.Scope, contents tf.Output) tf.Output {
		return s.Out("DecodeJpeg", map[string]any{"channels": 3, "fancy_upscaling": false, "dct_method": "INTEGER_ACCURATE"}, contents)
	})
	if err != nil {
		return nil, err
	}
	other, err := graphFunction(decodeOtherFunc, nil, func(s *tf.Scope, contents tf.Output) tf.Output {
		return s.Out("DecodeImage", map[string]any{"channels": 0, "dtype": tf.Uint8, "expand_animations": false}, contents)
	})
	if err != nil {
		return nil, err
	}
	// The If that picks the decoder cannot be built through the C API (function attributes), so
	// a placeholder stands in for it and is replaced in the GraphDef.
	const decoded = "decoded"
	useIf := func(nodes []*node) error {
		for _, n := range nodes {
			if n.Name != decoded {
				continue
			}
			var isJPEG string
			for _, m := range nodes {
				if m.Op == "Equal" {
					isJPEG = m.Name
				}
			}
			n.Op, n.Inputs = "If", []string{isJPEG, "contents"}
			n.Attrs = map[string][]byte{"Tcond": attrTypeBytes(uint64(tf.Bool)), "Tin": attrTypeListBytes(uint64(tf.String)),
				"Tout": attrTypeListBytes(uint64(tf.Uint8)), "then_branch": attrFuncBytes(decodeJPEGFunc),
				"else_branch": attrFuncBytes(decodeOtherFunc), "output_shapes": attrShapeListBytes()}
			return nil
		}
		return fmt.Errorf("decoder: no %s placeholder", decoded)
	}
	main, err := graphFunction(decodeFunc, useIf, func(s *tf.Scope, contents tf.Output) tf.Output {
		return decodeResize(s, contents, s.Placeholder(decoded, tf.Uint8, tf.Shape{-1, -1, -1}), w, h)
	})
	if err != nil {
		return nil, err
	}
	return [][]byte{main, jpeg, other}, nil
}

// graphFunction builds a function of one string argument, "contents", with build, lets rewrite
// change its nodes, and returns it as a FunctionDef whose result is "pixels".
func graphFunction(name string, rewrite func([]*node) error, build func(s *tf.Scope, contents tf.Output) tf.Output) ([]byte, error) {
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	s := tf.NewScope(g)
	out := s.Identity("pixels", build(s, s.Placeholder("contents", tf.String, tf.Shape{})))
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("decoder %s: %w", name, err)
	}
	def, err := g.GraphDef()
	if err != nil {
		return nil, err
	}
	nodes, _, err := parseNodes(def)
	if err != nil {
		return nil, err
	}
	if rewrite != nil {
		if err := rewrite(nodes); err != nil {
			return nil, err
		}
	}
	return function(nodes, name, []string{"contents"}, []string{out.Name()}, []string{"pixels"})
}

// decodeResize brings the decoded image img (uint8 [h, w, c], c of 1 to 4) to uint8 RGB
// [height, width, 3] as dataset.LoadImage does; contents, the file, tells JPEGs apart.
func decodeResize(s *tf.Scope, contents, img tf.Output, w, h int) tf.Output {
	magic, err := tf.NewStringTensor([]int64{}, []string{"\xff\xd8"})
	if err != nil {
		s.Fail(err)
		return tf.Output{}
	}
	defer magic.Close()
	s.Out("Equal", nil, s.Out("Substr", map[string]any{"unit": "BYTE"}, contents, s.ConstInt32("magic_pos", []int64{}, []int32{0}),
		s.ConstInt32("magic_len", []int64{}, []int32{2})), s.Const("jpeg_magic", magic))
	x := s.Out("Cast", map[string]any{"DstT": tf.Float}, img)
	shape := s.Out("Shape", map[string]any{"out_type": tf.Int32}, img)
	zero := s.ConstInt32("zero", []int64{}, []int32{0})
	channels := s.Out("GatherV2", nil, shape, s.ConstInt32("channel_axis", []int64{}, []int32{2}), zero)
	// Channel count c (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) picks a c x 4 matrix and a bias that
	// make RGBA with alpha 255 where the file has none.
	mats := make([]float32, 5*4*4)
	bias := make([]float32, 5*4)
	set := func(c, row, col int) { mats[(c*4+row)*4+col] = 1 }
	set(1, 0, 0)
	set(1, 0, 1)
	set(1, 0, 2)
	set(2, 0, 0)
	set(2, 0, 1)
	set(2, 0, 2)
	set(2, 1, 3)
	for i := range 3 {
		set(3, i, i)
	}
	for i := range 4 {
		set(4, i, i)
	}
	bias[1*4+3], bias[3*4+3] = 255, 255
	m := s.Out("GatherV2", nil, s.ConstFloat("to_rgba", []int64{5, 4, 4}, mats), channels, zero)
	m = s.Out("Slice", nil, m, s.ConstInt32("begin0", []int64{2}, []int32{0, 0}),
		s.Out("Pack", nil, []tf.Output{channels, s.ConstInt32("four", []int64{}, []int32{4})}))
	rgba := s.Out("AddV2", nil, s.Out("BatchMatMulV2", nil, x, m),
		s.Out("GatherV2", nil, s.ConstFloat("alpha_bias", []int64{5, 4}, bias), channels, zero))
	// Premultiply in 16 bits as draw does for non-premultiplied sources (c*a*0x101/0xff,
	// rounded down), so that the linear resize composites over white the way draw.Over does.
	ints := s.Out("Cast", map[string]any{"DstT": tf.Int32}, rgba)
	alpha := s.Out("Slice", nil, ints, s.ConstInt32("alpha_begin", []int64{3}, []int32{0, 0, 3}), s.ConstInt32("alpha_size", []int64{3}, []int32{-1, -1, 1}))
	colour := s.Out("Slice", nil, ints, s.ConstInt32("rgb_begin", []int64{3}, []int32{0, 0, 0}), s.ConstInt32("rgb_size", []int64{3}, []int32{-1, -1, 3}))
	k257 := s.ConstInt32("k257", []int64{}, []int32{257})
	prem := s.Out("FloorDiv", nil, s.Out("Mul", nil, s.Out("Mul", nil, colour, alpha), k257), s.ConstInt32("k255", []int64{}, []int32{255}))
	pre := s.Out("Cast", map[string]any{"DstT": tf.Float},
		s.Out("ConcatV2", nil, []tf.Output{prem, s.Out("Mul", nil, alpha, k257)}, s.ConstInt32("channel_dim", []int64{}, []int32{2})))
	batch := s.Out("ExpandDims", nil, pre, zero)
	hw := s.Out("Cast", map[string]any{"DstT": tf.Float}, s.Out("Slice", nil, shape, s.ConstInt32("hw_begin", []int64{1}, []int32{0}),
		s.ConstInt32("hw_size", []int64{1}, []int32{2})))
	scale := s.Out("RealDiv", nil, s.ConstFloat("target", []int64{2}, []float32{float32(h), float32(w)}), hw)
	resized := s.Out("ScaleAndTranslate", map[string]any{"kernel_type": "triangle", "antialias": true},
		batch, s.ConstInt32("size", []int64{2}, []int32{int32(h), int32(w)}), scale,
		s.ConstFloat("translation", []int64{2}, []float32{0, 0}))
	r := s.Out("Reshape", nil, resized, s.ConstInt32("hw4", []int64{3}, []int32{int32(h), int32(w), 4}))
	// draw rounds the 16-bit premultiplied colour and alpha, then out = (0xffff - alpha + colour) >> 8.
	v := s.Out("Floor", nil, s.Out("AddV2", nil, r, s.ConstFloat("half", []int64{}, []float32{0.5})))
	col := s.Out("Slice", nil, v, s.ConstInt32("c_begin", []int64{3}, []int32{0, 0, 0}), s.ConstInt32("c_size", []int64{3}, []int32{int32(h), int32(w), 3}))
	a := s.Out("Slice", nil, v, s.ConstInt32("a_begin", []int64{3}, []int32{0, 0, 3}), s.ConstInt32("a_size", []int64{3}, []int32{int32(h), int32(w), 1}))
	out := s.Out("Floor", nil, s.Out("Mul", nil, s.Out("AddV2", nil, s.Out("Sub", nil, s.ConstFloat("max16", []int64{}, []float32{65535}), a), col),
		s.ConstFloat("inv256", []int64{}, []float32{1.0 / 256})))
	out = s.Out("Minimum", nil, s.Out("Maximum", nil, out, s.ConstFloat("lo", []int64{}, []float32{0})), s.ConstFloat("hi", []int64{}, []float32{255}))
	return s.Out("Cast", map[string]any{"DstT": tf.Uint8}, out)
}

// shapeAttr is a serialised shape AttrValue.
func shapeAttr(dims []int64) []byte {
	b := protowire.AppendTag(nil, attrShape, protowire.BytesType)
	return protowire.AppendBytes(b, shapeBytes(dims))
}
