package tf

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A graph y = x*w + b written as a SavedModel, read back without a session, filtered and imported
// with its input and its weight replaced.
func TestGraphDefReadFilterImport(t *testing.T) {
	g, err := NewGraph()
	require.NoError(t, err)
	defer g.Close()
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{-1})
	y := s.Identity("y", s.Out("AddV2", nil, s.Out("Mul", nil, x, s.ConstFloat("w", []int64{}, []float32{2})), s.ConstFloat("b", []int64{}, []float32{1})))
	require.NoError(t, s.Err())
	dir := filepath.Join(t.TempDir(), "m")
	sig := Signature{Key: DefaultSignature, Inputs: map[string]TensorInfo{"x": {Name: "x:0", DType: Float, Shape: []int64{-1}}},
		Outputs: map[string]TensorInfo{"y": {Name: y.Name(), DType: Float, Shape: []int64{-1}}}}
	require.NoError(t, WriteSavedModel(dir, g, nil, []Signature{sig}))

	def, sigs, err := ReadSavedModelGraph(dir)
	require.NoError(t, err)
	require.Equal(t, "y:0", sigs[DefaultSignature].Outputs["y"].Name)
	nodes, err := ParseGraphDef(def)
	require.NoError(t, err)
	byName := map[string]NodeDef{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	require.Equal(t, "Mul", byName["Mul"].Op)
	require.Equal(t, []string{"x", "w"}, byName["Mul"].Inputs)
	require.Equal(t, "w", byName["Mul"].InputOp(1))

	// Without the constant w, and with x and w mapped: y = x*3 + 1.
	noW, err := FilterGraphDef(def, func(n NodeDef) bool { return n.Name != "w" })
	require.NoError(t, err)
	kept, err := ParseGraphDef(noW)
	require.NoError(t, err)
	require.Len(t, kept, len(nodes)-1)
	g2, err := NewGraph()
	require.NoError(t, err)
	defer g2.Close()
	s2 := NewScope(g2)
	in := s2.Placeholder("in", Float, Shape{-1})
	three := s2.ConstFloat("three", []int64{}, []float32{3})
	require.NoError(t, s2.Err())
	require.NoError(t, g2.ImportMapped(noW, "m", map[string]Output{"x:0": in, "w": three}))
	require.Nil(t, g2.Operation("m/w"), "the filtered constant is not imported")
	out, err := g2.Output("m/y")
	require.NoError(t, err)
	sess, err := NewSession(g2, SessionOptions{})
	require.NoError(t, err)
	defer sess.Close()
	v, err := NewTensor([]int64{2}, []float32{1, 2})
	require.NoError(t, err)
	res, err := sess.Run(map[Output]*Tensor{in: v}, []Output{out}, nil)
	require.NoError(t, err)
	got, err := Values[float32](res[0])
	require.NoError(t, err)
	require.Equal(t, []float32{4, 7}, got)

	other, err := NewGraph()
	require.NoError(t, err)
	defer other.Close()
	require.ErrorContains(t, other.ImportMapped(noW, "m", map[string]Output{"w": three}), "another graph")
	_, _, err = ReadSavedModelGraph(t.TempDir())
	require.ErrorContains(t, err, "saved_model.pb")
}

// Attributes read back from a serialised GraphDef: strings, integer lists and integer tensors of
// both widths.
func TestGraphDefAttributes(t *testing.T) {
	g, err := NewGraph()
	require.NoError(t, err)
	defer g.Close()
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{1, 8, 8, 1})
	pads := s.ConstInt32("pads", []int64{4, 2}, []int32{0, 0, 0, 1, 2, 3, 0, 0})
	s.ConstInt32("neg", []int64{2}, []int32{-3, 7})
	wide, err := NewTensor([]int64{2}, []int64{1 << 40, -5})
	require.NoError(t, err)
	defer wide.Close()
	s.Const("wide", wide)
	y := s.Out("Pad", nil, x, pads)
	s.Out("Conv2D", map[string]any{"strides": []int64{1, 2, 3, 1}, "padding": "SAME"}, y, s.ConstFloat("k", []int64{3, 3, 1, 1}, make([]float32, 9)))
	require.NoError(t, s.Err())
	def, err := g.GraphDef()
	require.NoError(t, err)
	nodes, err := ParseGraphDef(def)
	require.NoError(t, err)
	by := map[string]NodeDef{}
	for _, n := range nodes {
		by[n.Op] = n
		by[n.Name] = n
	}
	conv := by["Conv2D"]
	require.Equal(t, "SAME", conv.AttrString("padding"))
	require.Equal(t, "", conv.AttrString("no_such"))
	strides, err := conv.AttrInts("strides")
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3, 1}, strides)
	none, err := conv.AttrInts("no_such")
	require.NoError(t, err)
	require.Nil(t, none)
	v, err := by["pads"].AttrTensorInts("value")
	require.NoError(t, err)
	require.Equal(t, []int64{0, 0, 0, 1, 2, 3, 0, 0}, v)
	v, err = by["neg"].AttrTensorInts("value")
	require.NoError(t, err)
	require.Equal(t, []int64{-3, 7}, v)
	v, err = by["wide"].AttrTensorInts("value")
	require.NoError(t, err)
	require.Equal(t, []int64{1 << 40, -5}, v)
	_, err = by["k"].AttrTensorInts("value")
	require.ErrorContains(t, err, "not an integer tensor")
}
