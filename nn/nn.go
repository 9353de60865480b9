// Package nn builds small trainable networks as TensorFlow graphs from Go: dense and convolution
// layers, pooling, dropout, the sigmoid or softmax output with its cross-entropy loss and L2
// penalty, and Adam. Gradients come from TensorFlow (TF_AddGradients) and every kernel is
// TensorFlow's. A Net trains batch by batch, predicts, and exports its weights; Freeze turns a
// trained net into a SavedModel for prediction.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lessdata/lessdata/tf"
)

// Builder describes a network layer by layer. Its methods record the first error, which Build
// returns.
type Builder struct {
	g       *tf.Graph
	s       *tf.Scope
	rng     *rand.Rand
	input   tf.Output
	dropOn  tf.Output // float scalar: 1 while training, 0 otherwise (the default)
	vars    []*variable
	seed    uint64
	dropN   int64
	frozen  map[string][]float32 // when set, layers use these values as constants
	l2Terms []tf.Output
}

type variable struct {
	name  string
	shape []int64
	init  []float32
	read  tf.Output // the value the layers use
	// Only in a trainable graph:
	handle, value tf.Output // resource handle, and a placeholder that assigns it
	assign        *tf.Operation
}

// NewBuilder starts a network whose input has the given shape per example (without the batch
// dimension). seed fixes the initial weights and the dropout masks.
func NewBuilder(inputShape []int64, seed uint64) (*Builder, error) {
	g, err := tf.NewGraph()
	if err != nil {
		return nil, err
	}
	b := &Builder{g: g, s: tf.NewScope(g), rng: rand.New(rand.NewPCG(seed, 0x6c657373)), seed: seed}
	b.input = b.s.Placeholder("input", tf.Float, append(tf.Shape{-1}, inputShape...))
	zero := b.s.ConstFloat("dropout_off", []int64{}, []float32{0})
	b.dropOn = b.s.Out("PlaceholderWithDefault", map[string]any{"dtype": tf.Float, "shape": tf.Shape{}}, zero)
	return b, nil
}

// Input returns the network's input: a float32 batch of the shape given to NewBuilder.
func (b *Builder) Input() tf.Output { return b.input }

// Err returns the first error met while describing the network.
func (b *Builder) Err() error { return b.s.Err() }

// dims returns the static shape of x without its batch dimension.
func (b *Builder) dims(x tf.Output) []int64 {
	if b.s.Err() != nil {
		return nil
	}
	shape, ok := x.Shape()
	if !ok || len(shape) == 0 {
		b.s.Fail(fmt.Errorf("nn: the shape of %s is unknown", x.Name()))
		return nil
	}
	for _, d := range shape[1:] {
		if d < 0 {
			b.s.Fail(fmt.Errorf("nn: the shape of %s is not static: %v", x.Name(), shape))
			return nil
		}
	}
	return shape[1:]
}

// newVariable adds a weight with the given initial values.
func (b *Builder) newVariable(name string, shape []int64, init []float32) tf.Output {
	v := &variable{name: fmt.Sprintf("%s_%d", name, len(b.vars)), shape: shape, init: init}
	if b.frozen != nil {
		vals, ok := b.frozen[v.name]
		if !ok || len(vals) != len(init) {
			b.s.Fail(fmt.Errorf("nn: no weights of size %d for %s", len(init), v.name))
			return tf.Output{}
		}
		v.read = b.s.ConstFloat(v.name, shape, vals)
		b.vars = append(b.vars, v)
		return v.read
	}
	vs := b.s.Sub(v.name)
	v.handle = vs.Out("VarHandleOp", map[string]any{"dtype": tf.Float, "shape": tf.Shape(shape), "shared_name": v.name})
	v.value = vs.Placeholder("value", tf.Float, tf.Shape(shape))
	v.assign = vs.Op("AssignVariableOp", []any{v.handle, v.value}, map[string]any{"dtype": tf.Float})
	v.read = vs.Out("ReadVariableOp", map[string]any{"dtype": tf.Float}, v.handle)
	b.vars = append(b.vars, v)
	return v.read
}

// glorot returns Keras' default kernel initialisation: uniform in ±sqrt(6/(fanIn+fanOut)).
func (b *Builder) glorot(n int, fanIn, fanOut int64) []float32 {
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((b.rng.Float64()*2 - 1) * limit)
	}
	return out
}

func (b *Builder) activation(x tf.Output, act string) tf.Output {
	switch act {
	case "", "linear":
		return x
	case "relu":
		return b.s.Out("Relu", nil, x)
	case "sigmoid":
		return b.s.Out("Sigmoid", nil, x)
	}
	b.s.Fail(fmt.Errorf("nn: unknown activation %q", act))
	return tf.Output{}
}

// Conv2D adds a convolution with filters k x k kernels, stride 1, "valid" padding (Keras'
// default), a bias and the activation.
func (b *Builder) Conv2D(x tf.Output, filters, k int, act string) tf.Output {
	d := b.dims(x)
	if len(d) != 3 {
		b.s.Fail(fmt.Errorf("nn: Conv2D needs an HxWxC input, got %v", d))
		return tf.Output{}
	}
	shape := []int64{int64(k), int64(k), d[2], int64(filters)}
	n := int(shape[0] * shape[1] * shape[2] * shape[3])
	w := b.newVariable("conv_kernel", shape, b.glorot(n, shape[0]*shape[1]*shape[2], shape[0]*shape[1]*shape[3]))
	bias := b.newVariable("conv_bias", []int64{int64(filters)}, make([]float32, filters))
	y := b.s.Out("Conv2D", map[string]any{"strides": []int64{1, 1, 1, 1}, "padding": "VALID"}, x, w)
	return b.activation(b.s.Out("BiasAdd", nil, y, bias), act)
}

// MaxPool adds k x k max pooling with stride k.
func (b *Builder) MaxPool(x tf.Output, k int) tf.Output {
	kk := []int64{1, int64(k), int64(k), 1}
	return b.s.Out("MaxPool", map[string]any{"ksize": kk, "strides": kk, "padding": "VALID"}, x)
}

// Flatten reshapes each example into a vector.
func (b *Builder) Flatten(x tf.Output) tf.Output {
	d := b.dims(x)
	n := int64(1)
	for _, v := range d {
		n *= v
	}
	return b.s.Out("Reshape", nil, x, b.s.ConstInt32("shape", []int64{2}, []int32{-1, int32(n)}))
}

// Dense adds a fully connected layer with bias and the activation; l2 > 0 adds l2*sum(w^2) of its
// kernel to the loss (Keras' kernel_regularizer=l2(l2)).
func (b *Builder) Dense(x tf.Output, units int, act string, l2 float32) tf.Output {
	d := b.dims(x)
	if len(d) != 1 {
		b.s.Fail(fmt.Errorf("nn: Dense needs a vector input, got %v (Flatten first)", d))
		return tf.Output{}
	}
	w := b.newVariable("dense_kernel", []int64{d[0], int64(units)}, b.glorot(int(d[0])*units, d[0], int64(units)))
	bias := b.newVariable("dense_bias", []int64{int64(units)}, make([]float32, units))
	if l2 > 0 {
		sq := b.s.Out("Sum", nil, b.s.Out("Square", nil, w), b.s.ConstInt32("axes", []int64{2}, []int32{0, 1}))
		b.l2Terms = append(b.l2Terms, b.s.Out("Mul", nil, sq, b.s.ConstFloat("l2", []int64{}, []float32{l2})))
	}
	return b.activation(b.s.Out("BiasAdd", nil, b.s.Out("MatMul", nil, x, w), bias), act)
}

// Dropout zeroes each value with probability rate while training and scales the rest by
// 1/(1-rate) (inverted dropout, as Keras); it is the identity when predicting.
func (b *Builder) Dropout(x tf.Output, rate float32) tf.Output {
	if rate <= 0 {
		return x
	}
	if rate >= 1 {
		b.s.Fail(fmt.Errorf("nn: dropout rate %v must be below 1", rate))
		return tf.Output{}
	}
	b.dropN++
	shape := b.s.Out("Shape", map[string]any{"out_type": tf.Int32}, x)
	u := b.s.Out("RandomUniform", map[string]any{"dtype": tf.Float, "seed": int64(b.seed%(1<<31)) + 1, "seed2": b.dropN}, shape)
	keep := b.s.Out("Cast", map[string]any{"DstT": tf.Float}, b.s.Out("GreaterEqual", nil, u, b.s.ConstFloat("rate", []int64{}, []float32{rate})))
	mask := b.s.Out("Mul", nil, keep, b.s.ConstFloat("scale", []int64{}, []float32{1 / (1 - rate)}))
	// factor = 1 + on*(mask-1): mask while training, 1 otherwise.
	one := b.s.ConstFloat("one", []int64{}, []float32{1})
	factor := b.s.Out("AddV2", nil, one, b.s.Out("Mul", nil, b.dropOn, b.s.Out("Sub", nil, mask, one)))
	return b.s.Out("Mul", nil, x, factor)
}
