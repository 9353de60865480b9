package tf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if err := Load(); err != nil {
		// Every test here needs the library; say how to get it rather than fail obscurely.
		println("tf tests need the TensorFlow C library:", err.Error())
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestVersion(t *testing.T) {
	v, err := Version()
	require.NoError(t, err)
	require.Regexp(t, `^2\.\d+\.\d+`, v)
}

func TestTensorRoundTrip(t *testing.T) {
	f, err := NewTensor([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6.5})
	require.NoError(t, err)
	require.Equal(t, Float, f.DataType())
	require.Equal(t, []int64{2, 3}, f.Shape())
	got, err := Values[float32](f)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6.5}, got)
	_, err = Values[int32](f)
	require.ErrorContains(t, err, "holds float32")
	f.Close()
	f.Close()
	_, err = Values[float32](f)
	require.Error(t, err)

	for _, tc := range []struct {
		name string
		make func() (*Tensor, error)
		dt   DataType
	}{
		{"int32", func() (*Tensor, error) { return NewTensor([]int64{3}, []int32{-1, 0, 7}) }, Int32},
		{"int64", func() (*Tensor, error) { return NewTensor([]int64{1, 1}, []int64{1 << 40}) }, Int64},
		{"uint8", func() (*Tensor, error) { return NewTensor([]int64{4}, []uint8{0, 1, 128, 255}) }, Uint8},
		{"scalar", func() (*Tensor, error) { return Scalar(float32(3)) }, Float},
	} {
		tt, err := tc.make()
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.dt, tt.DataType(), tc.name)
	}
	_, err = NewTensor([]int64{2, 2}, []float32{1, 2, 3})
	require.ErrorContains(t, err, "needs 4 values")

	long := string(make([]byte, 1000)) + "end"
	s, err := NewStringTensor([]int64{3}, []string{"a", "", long})
	require.NoError(t, err)
	strs, err := s.Strings()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "", long}, strs)
}

// addGraph builds z = x*y + 1 with x a placeholder and y a constant.
func addGraph(t *testing.T) (*Graph, Output, Output) {
	g, err := NewGraph()
	require.NoError(t, err)
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{-1})
	y := s.ConstFloat("y", []int64{1}, []float32{3})
	one := s.ConstFloat("one", []int64{}, []float32{1})
	z := s.Out("AddV2", nil, s.Out("Mul", nil, x, y), one)
	z = s.Identity("z", z)
	require.NoError(t, s.Err())
	return g, x, z
}

func TestSessionRun(t *testing.T) {
	g, x, z := addGraph(t)
	defer g.Close()
	sess, err := NewSession(g, SessionOptions{IntraOpThreads: 1, InterOpThreads: 1})
	require.NoError(t, err)
	defer sess.Close()
	in, _ := NewTensor([]int64{3}, []float32{1, 2, -1})
	out, err := sess.Run(map[Output]*Tensor{x: in}, []Output{z}, nil)
	require.NoError(t, err)
	got, _ := Values[float32](out[0])
	require.Equal(t, []float32{4, 7, -2}, got)

	shape, ok := z.Shape()
	require.True(t, ok)
	require.Equal(t, []int64{-1}, shape)
	require.Equal(t, "z:0", z.Name())
	require.Equal(t, "Identity", z.Op.Type())

	// A missing feed is TensorFlow's error, returned, not a crash.
	_, err = sess.Run(nil, []Output{z}, nil)
	require.ErrorContains(t, err, "x")
	require.NoError(t, sess.Close())
	_, err = sess.Run(map[Output]*Tensor{x: in}, []Output{z}, nil)
	require.ErrorContains(t, err, "closed")
}

func TestBadOperations(t *testing.T) {
	g, err := NewGraph()
	require.NoError(t, err)
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{2})
	s.Out("NoSuchOp", nil, x)
	require.ErrorContains(t, s.Err(), "NoSuchOp")
	// After an error the scope adds nothing more.
	require.Equal(t, Output{}, s.Out("Neg", nil, x))

	_, err = g.AddOperation(OpSpec{Type: "Neg", Name: "n", Input: []any{42}})
	require.ErrorContains(t, err, "input 0")
	_, err = g.AddOperation(OpSpec{Type: "Neg", Name: "n2", Input: []any{x}, Attrs: map[string]any{"T": struct{}{}}})
	require.ErrorContains(t, err, "unsupported attribute")
	// Shapes that cannot match are refused when the op is added.
	_, err = g.AddOperation(OpSpec{Type: "MatMul", Name: "mm", Input: []any{x, x}})
	require.Error(t, err)
}

func TestGradients(t *testing.T) {
	g, err := NewGraph()
	require.NoError(t, err)
	s := NewScope(g)
	x := s.Placeholder("x", Float, Shape{3})
	y := s.Out("Sum", nil, s.Out("Square", nil, x), s.ConstInt32("axis", []int64{1}, []int32{0}))
	require.NoError(t, s.Err())
	dx, err := g.AddGradients("grad", []Output{y}, []Output{x})
	require.NoError(t, err)
	sess, err := NewSession(g, SessionOptions{})
	require.NoError(t, err)
	defer sess.Close()
	in, _ := NewTensor([]int64{3}, []float32{1, -2, 0.5})
	out, err := sess.Run(map[Output]*Tensor{x: in}, []Output{dx[0]}, nil)
	require.NoError(t, err)
	got, _ := Values[float32](out[0])
	require.Equal(t, []float32{2, -4, 1}, got)
}

func TestGraphDefRoundTrip(t *testing.T) {
	g, _, _ := addGraph(t)
	def, err := g.GraphDef()
	require.NoError(t, err)
	g2, err := NewGraph()
	require.NoError(t, err)
	require.NoError(t, g2.Import(def, "copy"))
	z, err := g2.Output("copy/z:0")
	require.NoError(t, err)
	x, err := g2.Output("copy/x")
	require.NoError(t, err)
	sess, err := NewSession(g2, SessionOptions{})
	require.NoError(t, err)
	defer sess.Close()
	in, _ := NewTensor([]int64{1}, []float32{2})
	out, err := sess.Run(map[Output]*Tensor{x: in}, []Output{z}, nil)
	require.NoError(t, err)
	got, _ := Values[float32](out[0])
	require.Equal(t, []float32{7}, got)
	require.Len(t, g2.Operations(), len(g.Operations()))

	require.Error(t, g2.Import([]byte("not a graph"), "bad"))
	require.Error(t, g2.Import(nil, ""))
	_, err = g2.Output("copy/z:5")
	require.ErrorContains(t, err, "no output 5")
	_, err = g2.Output("nope")
	require.ErrorContains(t, err, "no operation")
}

func TestSavedModelWriteLoad(t *testing.T) {
	g, _, _ := addGraph(t)
	dir := filepath.Join(t.TempDir(), "model")
	sig := Signature{Key: DefaultSignature,
		Inputs:  map[string]TensorInfo{"x": {Name: "x:0", DType: Float, Shape: []int64{-1}}},
		Outputs: map[string]TensorInfo{"z": {Name: "z:0", DType: Float, Shape: []int64{-1}}}}
	require.NoError(t, WriteSavedModel(dir, g, nil, []Signature{sig}))
	require.ErrorContains(t, WriteSavedModel(dir, g, nil, []Signature{sig}), "already exists")
	bad := sig
	bad.Outputs = map[string]TensorInfo{"z": {Name: "missing:0"}}
	require.ErrorContains(t, WriteSavedModel(dir+"2", g, nil, []Signature{bad}), "missing")

	m, err := LoadSavedModel(dir, nil, SessionOptions{})
	require.NoError(t, err)
	defer m.Close()
	got, err := m.Signature(DefaultSignature)
	require.NoError(t, err)
	require.Equal(t, "tensorflow/serving/predict", got.Method)
	require.Equal(t, sig.Inputs, got.Inputs)
	require.Equal(t, sig.Outputs, got.Outputs)
	_, err = m.Signature("nope")
	require.ErrorContains(t, err, "has: serving_default")

	x, err := m.Output(got.Inputs["x"].Name)
	require.NoError(t, err)
	z, err := m.Output(got.Outputs["z"].Name)
	require.NoError(t, err)
	in, _ := NewTensor([]int64{2}, []float32{0, 10})
	out, err := m.Session.Run(map[Output]*Tensor{x: in}, []Output{z}, nil)
	require.NoError(t, err)
	v, _ := Values[float32](out[0])
	require.Equal(t, []float32{1, 31}, v)
}

func TestSavedModelErrors(t *testing.T) {
	_, err := LoadSavedModel(filepath.Join(t.TempDir(), "absent"), nil, SessionOptions{})
	require.ErrorContains(t, err, "no such file")

	empty := t.TempDir()
	_, err = LoadSavedModel(empty, nil, SessionOptions{})
	require.ErrorContains(t, err, "no saved_model.pb")

	corrupt := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "saved_model.pb"), []byte("\x0a\xffgarbage"), 0o644))
	_, err = LoadSavedModel(corrupt, nil, SessionOptions{})
	require.Error(t, err)

	g, _, _ := addGraph(t)
	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, WriteSavedModel(dir, g, nil, nil))
	_, err = LoadSavedModel(dir, []string{"train"}, SessionOptions{})
	require.ErrorContains(t, err, "train")
}

func TestParseSignaturesRejectsGarbage(t *testing.T) {
	_, err := parseSignatures([]byte{0x2a, 0xff, 0xff})
	require.Error(t, err)
	sigs, err := parseSignatures(nil)
	require.NoError(t, err)
	require.Empty(t, sigs)
}

func TestLoadErrorSaysHowToInstall(t *testing.T) {
	t.Setenv(LibraryEnv, filepath.Join(t.TempDir(), "nothing-here.so"))
	err := load()
	require.ErrorIs(t, err, ErrNoLibrary)
	require.ErrorContains(t, err, "make setup")
	require.ErrorContains(t, err, "nothing-here.so")
	// A library that is not TensorFlow is refused and the loaded one keeps working.
	t.Setenv(LibraryEnv, "libm.so.6")
	err = load()
	require.ErrorContains(t, err, "not a TensorFlow C library")
	v, err := Version()
	require.NoError(t, err)
	require.NotEmpty(t, v)
}

func TestSessionOptionsConfig(t *testing.T) {
	require.Empty(t, SessionOptions{}.config())
	require.Equal(t, []byte{0x10, 2, 0x28, 1}, SessionOptions{IntraOpThreads: 2, InterOpThreads: 1}.config())
}
