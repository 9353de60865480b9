package tune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// Names of the head's weights in Weights and SetWeights; a backbone weight is named
// BackbonePrefix + the name of the constant it replaces.
const (
	HeadKernel     = "head/kernel"
	HeadBias       = "head/bias"
	BackbonePrefix = "backbone/"
)

// Options configure a fine-tuning model.
type Options struct {
	// Unfreeze is the number of top blocks of the backbone to train (see Inspect for blocks);
	// From, instead, names the layer (its operation or kernel constant) from which every layer
	// on trains. Both unset: only the head trains.
	Unfreeze int
	From     string
	// Classes is the number of classes: 2 gives one sigmoid unit with binary cross-entropy, more
	// a softmax with categorical cross-entropy.
	Classes int
	// Head starts the classifier on the pooled features, normally the linear head fitted on
	// frozen features in phase 1 (head.Fit); its normalisation (none, L2 or standardisation) is
	// kept fixed and its kernel and bias train. Nil: no normalisation, Glorot uniform kernel
	// and zero bias drawn from Seed.
	Head *head.Weights
	// Dropout on the (normalised) features while training (0: none).
	Dropout float32
	// L2 adds L2*sum(w^2) of the head kernel to the loss.
	L2 float32
	// LearningRate is Adam's (1e-4 when 0: fine-tuning steps must be small); Adam's other
	// constants are Keras' defaults.
	LearningRate float32
	// Seed draws the head's initial weights when Head is nil, and the dropout masks.
	Seed uint64
	// Float64 computes in double precision (several times slower): for gradient checks.
	// Weights still come and go as float32.
	Float64 bool
	Session tf.SessionOptions
}

// DefaultLearningRate is Adam's learning rate when Options.LearningRate is 0.
const DefaultLearningRate = 1e-4

const (
	beta1, beta2, epsilon = 0.9, 0.999, 1e-7
)

type variable struct {
	name            string
	shape           []int64
	size            int
	handle, read    tf.Output
	value           tf.Output // placeholder that SetWeights assigns from
	assign          *tf.Operation
	adamM, adamV    tf.Output
	initFrom        tf.Output // the value the variable starts from
	constOfBackbone string    // the backbone constant it replaces; "" for the head
}

// Model is a backbone whose top layers are trainable variables, with a dense head, a
// cross-entropy loss and Adam, in one TensorFlow session. It is not safe for concurrent use.
type Model struct {
	st        *Structure
	opt       Options
	trainable []Layer
	units     int
	dt        tf.DataType   // tf.Float, or tf.Double with Options.Float64
	head      *head.Weights // the starting head: its normalisation is the model's

	g                          *tf.Graph
	sess                       *tf.Session
	input, labels, dropOn      tf.Output
	features                   tf.Output
	logits, probs, loss, l2    tf.Output
	vars                       []*variable
	grads                      []tf.Output
	apply                      []*tf.Operation
	lr, beta1Power, beta2Power tf.Output
	step                       int
}

// Open builds the fine-tuning model on the backbone in dir: the weights of the trainable layers
// become variables initialised from the backbone's constants, the other layers stay constants
// (frozen, outside the gradients), and the head starts from opt.Head.
func Open(dir string, opt Options) (*Model, error) {
	st, err := Inspect(dir)
	if err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	return New(st, opt)
}

// New is Open on a backbone already inspected.
func New(st *Structure, opt Options) (*Model, error) {
	if opt.Classes < 2 {
		return nil, fmt.Errorf("tune: need at least 2 classes, got %d", opt.Classes)
	}
	if opt.Dropout < 0 || opt.Dropout >= 1 || opt.L2 < 0 || opt.LearningRate < 0 {
		return nil, fmt.Errorf("tune: dropout %v (0..1), l2 %v and learning rate %v must not be negative", opt.Dropout, opt.L2, opt.LearningRate)
	}
	if opt.LearningRate == 0 {
		opt.LearningRate = DefaultLearningRate
	}
	trainable, err := st.Trainable(opt.Unfreeze, opt.From)
	if err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	m := &Model{st: st, opt: opt, trainable: trainable, units: outputs(opt.Classes), dt: tf.Float}
	if opt.Float64 {
		m.dt = tf.Double
	}
	if opt.Head != nil {
		if err := checkHead(opt.Head, st.Spec.Features.Size, opt.Classes); err != nil {
			return nil, fmt.Errorf("tune: %w", err)
		}
	}
	if m.g, err = tf.NewGraph(); err != nil {
		return nil, err
	}
	if err := m.build(); err != nil {
		m.g.Close()
		return nil, fmt.Errorf("tune: backbone %s: %w", st.Dir, err)
	}
	if m.sess, err = tf.NewSession(m.g, opt.Session); err != nil {
		m.g.Close()
		return nil, fmt.Errorf("tune: %w", err)
	}
	if err := m.initialise(); err != nil {
		m.Close()
		return nil, fmt.Errorf("tune: initialise: %w", err)
	}
	return m, nil
}

// newVariable adds a resource variable with Adam slots that starts from init.
func (m *Model) newVariable(s *tf.Scope, name string, init tf.Output) *variable {
	shape, _ := init.Shape()
	v := &variable{name: name, shape: shape, size: 1, initFrom: init}
	for _, d := range shape {
		v.size *= int(d)
	}
	vs := s.Sub(name)
	handle := func(suffix string) tf.Output {
		return vs.Out("VarHandleOp", map[string]any{"dtype": m.dt, "shape": tf.Shape(shape), "shared_name": name + suffix})
	}
	v.handle, v.adamM, v.adamV = handle(""), handle("/adam_m"), handle("/adam_v")
	v.value = vs.Placeholder("value", m.dt, tf.Shape(shape))
	v.assign = vs.Op("AssignVariableOp", []any{v.handle, v.value}, map[string]any{"dtype": m.dt})
	v.read = vs.Out("ReadVariableOp", map[string]any{"dtype": m.dt}, v.handle)
	m.vars = append(m.vars, v)
	return v
}

func (m *Model) build() error {
	s := tf.NewScope(m.g)
	st := m.st
	in := st.Spec.Input
	m.input = s.Placeholder("input", m.dt, tf.Shape{-1, int64(in.Height), int64(in.Width), 3})
	graph := st.GraphDef
	if m.dt == tf.Double {
		var err error
		if graph, err = castToDouble(graph); err != nil {
			return err
		}
	}
	// The trainable layers' constants come first, alone, so that variables can start from them;
	// the backbone is then imported without them, its layers reading the variables instead.
	consts := map[string]bool{}
	for _, l := range m.trainable {
		consts[l.Kernel] = true
		if l.Bias != "" {
			consts[l.Bias] = true
		}
	}
	mapping := map[string]tf.Output{st.Input: m.input}
	if len(consts) > 0 {
		initDef, err := tf.FilterGraphDef(graph, func(n tf.NodeDef) bool { return consts[n.Name] })
		if err != nil {
			return err
		}
		if err := m.g.ImportMapped(initDef, "init", nil); err != nil {
			return err
		}
	}
	vs := s.Sub("vars")
	for _, l := range m.trainable {
		for _, c := range []string{l.Kernel, l.Bias} {
			if c == "" {
				continue
			}
			init, err := m.g.Output("init/" + c)
			if err != nil {
				return err
			}
			v := m.newVariable(vs, BackbonePrefix+c, init)
			v.constOfBackbone = c
			mapping[c] = v.read
		}
	}
	if err := vs.Err(); err != nil {
		return err
	}
	def, err := st.needed(graph, consts)
	if err != nil {
		return err
	}
	if err := m.g.ImportMapped(def, "backbone", mapping); err != nil {
		return err
	}
	if m.features, err = m.g.Output("backbone/" + st.Features); err != nil {
		return err
	}
	m.buildHead(s)
	m.buildLoss(s)
	if err := s.Err(); err != nil {
		return err
	}
	reads := make([]tf.Output, len(m.vars))
	for i, v := range m.vars {
		reads[i] = v.read
	}
	if m.grads, err = m.g.AddGradients("gradients", []tf.Output{m.loss}, reads); err != nil {
		return err
	}
	as := s.Sub("adam")
	m.lr = as.Placeholder("lr", m.dt, tf.Shape{})
	m.beta1Power = as.Placeholder("beta1_power", m.dt, tf.Shape{})
	m.beta2Power = as.Placeholder("beta2_power", m.dt, tf.Shape{})
	b1 := m.constant(as, "beta1", nil, beta1)
	b2 := m.constant(as, "beta2", nil, beta2)
	eps := m.constant(as, "epsilon", nil, epsilon)
	for i, v := range m.vars {
		m.apply = append(m.apply, as.Op("ResourceApplyAdam", []any{v.handle, v.adamM, v.adamV, m.beta1Power, m.beta2Power,
			m.lr, b1, b2, eps, m.grads[i]}, map[string]any{"T": m.dt}))
	}
	return s.Err()
}

// buildHead adds dropout on the features and the dense output layer.
func (m *Model) buildHead(s *tf.Scope) {
	hs := s.Sub("head")
	f := int64(m.st.Spec.Features.Size)
	u := int64(m.units)
	w := m.opt.Head
	if w == nil {
		rng := rand.New(rand.NewPCG(m.opt.Seed, 0x74756e65))
		limit := math.Sqrt(6 / float64(f+u))
		w = &head.Weights{Classes: m.opt.Classes, W: make([][]float64, f), B: make([]float64, u)}
		for j := range w.W {
			w.W[j] = make([]float64, u)
			for o := range w.W[j] {
				w.W[j][o] = (rng.Float64()*2 - 1) * limit
			}
		}
	}
	kernel := m.newVariable(hs, HeadKernel, m.constant(hs, "kernel_init", []int64{f, u}, flatten(w.W)...))
	bias := m.newVariable(hs, HeadBias, m.constant(hs, "bias_init", []int64{u}, f32(w.B)...))
	m.head = w
	m.dropOn = hs.Out("PlaceholderWithDefault", map[string]any{"dtype": m.dt, "shape": tf.Shape{}}, m.constant(hs, "dropout_off", nil, 0))
	x := normaliseFeatures(hs, m.features, w, m.constant)
	if rate := m.opt.Dropout; rate > 0 {
		shape := hs.Out("Shape", map[string]any{"out_type": tf.Int32}, x)
		rnd := hs.Out("RandomUniform", map[string]any{"dtype": m.dt, "seed": int64(m.opt.Seed%(1<<31)) + 1, "seed2": int64(1)}, shape)
		keep := hs.Out("Cast", map[string]any{"DstT": m.dt}, hs.Out("GreaterEqual", nil, rnd, m.constant(hs, "rate", nil, rate)))
		mask := hs.Out("Mul", nil, keep, m.constant(hs, "scale", nil, 1/(1-rate)))
		one := m.constant(hs, "one", nil, 1)
		x = hs.Out("Mul", nil, x, hs.Out("AddV2", nil, one, hs.Out("Mul", nil, m.dropOn, hs.Out("Sub", nil, mask, one))))
	}
	m.logits = s.Identity("logits", hs.Out("BiasAdd", nil, hs.Out("MatMul", nil, x, kernel.read), bias.read))
	if m.units == 1 {
		m.probs = s.Identity("probabilities", hs.Out("Sigmoid", nil, m.logits))
	} else {
		m.probs = s.Identity("probabilities", hs.Out("Softmax", nil, m.logits))
	}
	if m.opt.L2 > 0 {
		m.l2 = hs.Out("Mul", nil, hs.Out("Sum", nil, hs.Out("Square", nil, kernel.read), hs.ConstInt32("axes", []int64{2}, []int32{0, 1})),
			m.constant(hs, "l2", nil, m.opt.L2))
	}
}

// buildLoss adds the labels and the mean cross-entropy (plus the L2 term).
func (m *Model) buildLoss(s *tf.Scope) {
	var perExample tf.Output
	if m.units == 1 {
		// softplus(z) - z*y: binary cross-entropy from the logit z, exact at z = 0 (see nn).
		m.labels = s.Placeholder("labels", m.dt, tf.Shape{-1, 1})
		z := m.logits
		perExample = s.Out("Sub", nil, s.Out("Softplus", nil, z), s.Out("Mul", nil, z, m.labels))
		perExample = s.Out("Reshape", nil, perExample, s.ConstInt32("flat", []int64{1}, []int32{-1}))
	} else {
		// -sum(y * log_softmax(z)), not SoftmaxCrossEntropyWithLogits: TensorFlow's C++
		// gradient of that builds a float32 constant and fails in float64.
		m.labels = s.Placeholder("labels", m.dt, tf.Shape{-1, int64(m.opt.Classes)})
		ll := s.Out("Mul", nil, m.labels, s.Out("LogSoftmax", nil, m.logits))
		perExample = s.Out("Neg", nil, s.Out("Sum", nil, ll, s.ConstInt32("class_axis", []int64{1}, []int32{1})))
	}
	loss := s.Out("Mean", nil, perExample, s.ConstInt32("batch_axis", []int64{1}, []int32{0}))
	if m.l2.Op != nil {
		loss = s.Out("AddV2", nil, loss, m.l2)
	}
	m.loss = s.Identity("loss", loss)
}

// initialise sets every variable to its starting value and the Adam slots to zero.
func (m *Model) initialise() error {
	s := tf.NewScope(m.g).Sub("initialise")
	var targets []*tf.Operation
	for _, v := range m.vars {
		zeros := s.Out("ZerosLike", nil, v.initFrom)
		for _, p := range []struct{ h, val tf.Output }{{v.handle, v.initFrom}, {v.adamM, zeros}, {v.adamV, zeros}} {
			targets = append(targets, s.Op("AssignVariableOp", []any{p.h, p.val}, map[string]any{"dtype": m.dt}))
		}
	}
	if err := s.Err(); err != nil {
		return err
	}
	_, err := m.sess.Run(nil, nil, targets)
	return err
}

// Close frees the session and the graph.
func (m *Model) Close() {
	if m.sess != nil {
		m.sess.Close()
	}
	m.g.Close()
}

// Structure returns the backbone's structure.
func (m *Model) Structure() *Structure { return m.st }

// TrainableLayers returns the backbone layers that train, from the input up.
func (m *Model) TrainableLayers() []Layer { return append([]Layer(nil), m.trainable...) }

// TrainableParams returns the number of trained weights: the trainable backbone layers' kernels
// and biases, and the head's.
func (m *Model) TrainableParams() int {
	n := 0
	for _, v := range m.vars {
		n += v.size
	}
	return n
}

// Classes returns the number of classes.
func (m *Model) Classes() int { return m.opt.Classes }

// InputSize returns the width and height of the model's input images.
func (m *Model) InputSize() (w, h int) { return m.st.Spec.Input.Width, m.st.Spec.Input.Height }

func (m *Model) feeds(b nn.Batch, withLabels bool) (map[tf.Output]*tf.Tensor, error) {
	w, h := m.InputSize()
	if b.Count < 1 || len(b.X) != b.Count*w*h*3 {
		return nil, fmt.Errorf("tune: a batch of %d images of %dx%dx3 needs %d values, got %d", b.Count, h, w, b.Count*w*h*3, len(b.X))
	}
	x, err := m.tensor([]int64{int64(b.Count), int64(h), int64(w), 3}, b.X)
	if err != nil {
		return nil, fmt.Errorf("tune: batch: %w", err)
	}
	feeds := map[tf.Output]*tf.Tensor{m.input: x}
	if !withLabels {
		return feeds, nil
	}
	if len(b.Labels) != b.Count {
		x.Close()
		return nil, fmt.Errorf("tune: a batch of %d images has %d labels", b.Count, len(b.Labels))
	}
	k := m.opt.Classes
	y := make([]float32, b.Count*m.units)
	for i, l := range b.Labels {
		if l < 0 || l >= k {
			x.Close()
			return nil, fmt.Errorf("tune: label %d is not a class index below %d", l, k)
		}
		if m.units == 1 {
			y[i] = float32(l)
		} else {
			y[i*k+l] = 1
		}
	}
	t, err := m.tensor([]int64{int64(b.Count), int64(m.units)}, y)
	if err != nil {
		x.Close()
		return nil, err
	}
	feeds[m.labels] = t
	return feeds, nil
}

func closeAll(ts map[tf.Output]*tf.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}

func closeTensors(ts []*tf.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}

// rows turns the probability output into one row of class probabilities per image.
func (m *Model) rows(t *tf.Tensor, count int) ([][]float32, error) {
	v, err := float32s(t)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, count)
	for i := range out {
		if m.units == 1 {
			out[i] = []float32{1 - v[i], v[i]}
		} else {
			out[i] = v[i*m.units : (i+1)*m.units]
		}
	}
	return out, nil
}

func (m *Model) lossRows(out []*tf.Tensor, count int) (float64, [][]float32, error) {
	l, err := float64s(out[0])
	if err != nil {
		return 0, nil, err
	}
	if math.IsNaN(l[0]) || math.IsInf(l[0], 0) {
		return 0, nil, fmt.Errorf("tune: the loss is %v: training diverged (lower the learning rate)", l[0])
	}
	probs, err := m.rows(out[1], count)
	return l[0], probs, err
}

// TrainBatch takes one Adam step on a batch of normalised images (NHWC, the backbone's input
// size) with dropout on, and returns the loss and the class probabilities from before the step.
func (m *Model) TrainBatch(b nn.Batch) (float64, [][]float32, error) {
	feeds, err := m.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	m.step++
	for o, v := range map[tf.Output]float32{
		m.dropOn:     1,
		m.lr:         m.opt.LearningRate,
		m.beta1Power: float32(math.Pow(beta1, float64(m.step))),
		m.beta2Power: float32(math.Pow(beta2, float64(m.step))),
	} {
		t, err := m.tensor(nil, []float32{v})
		if err != nil {
			return 0, nil, err
		}
		feeds[o] = t
	}
	out, err := m.sess.Run(feeds, []tf.Output{m.loss, m.probs}, m.apply)
	if err != nil {
		return 0, nil, fmt.Errorf("tune: train step: %w", err)
	}
	defer closeTensors(out)
	return m.lossRows(out, b.Count)
}

// Evaluate returns the loss and class probabilities of a labelled batch without training.
func (m *Model) Evaluate(b nn.Batch) (float64, [][]float32, error) {
	feeds, err := m.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	out, err := m.sess.Run(feeds, []tf.Output{m.loss, m.probs}, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("tune: evaluate: %w", err)
	}
	defer closeTensors(out)
	return m.lossRows(out, b.Count)
}

// Predict returns class probabilities for a batch; labels are not needed.
func (m *Model) Predict(b nn.Batch) ([][]float32, error) {
	feeds, err := m.feeds(b, false)
	if err != nil {
		return nil, err
	}
	defer closeAll(feeds)
	out, err := m.sess.Run(feeds, []tf.Output{m.probs}, nil)
	if err != nil {
		return nil, fmt.Errorf("tune: predict: %w", err)
	}
	defer closeTensors(out)
	return m.rows(out[0], b.Count)
}

// Gradients returns the loss of a labelled batch and its gradient with respect to every trained
// weight, by name (as Weights), without training.
func (m *Model) Gradients(b nn.Batch) (float64, map[string][]float32, error) {
	feeds, err := m.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	out, err := m.sess.Run(feeds, append([]tf.Output{m.loss}, m.grads...), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("tune: gradients: %w", err)
	}
	defer closeTensors(out)
	l, err := float64s(out[0])
	if err != nil {
		return 0, nil, err
	}
	grads, err := m.named(out[1:])
	return l[0], grads, err
}

func (m *Model) named(ts []*tf.Tensor) (map[string][]float32, error) {
	w := make(map[string][]float32, len(m.vars))
	for i, v := range m.vars {
		vals, err := float32s(ts[i])
		if err != nil {
			return nil, fmt.Errorf("tune: %s: %w", v.name, err)
		}
		w[v.name] = vals
	}
	return w, nil
}

// Weights returns a copy of every trained weight by name: BackbonePrefix and the backbone
// constant each replaces (such as "backbone/weights_50"), each in its constant's layout, and
// HeadKernel ([features x units], row-major) and HeadBias.
func (m *Model) Weights() (map[string][]float32, error) {
	reads := make([]tf.Output, len(m.vars))
	for i, v := range m.vars {
		reads[i] = v.read
	}
	out, err := m.sess.Run(nil, reads, nil)
	if err != nil {
		return nil, fmt.Errorf("tune: read weights: %w", err)
	}
	defer closeTensors(out)
	return m.named(out)
}

// SetWeights replaces the trained weights; every one must be given, with its size (keep-best
// restores what Weights returned).
func (m *Model) SetWeights(w map[string][]float32) error {
	feeds := map[tf.Output]*tf.Tensor{}
	defer closeAll(feeds)
	targets := make([]*tf.Operation, 0, len(m.vars))
	for _, v := range m.vars {
		vals, ok := w[v.name]
		if !ok {
			return fmt.Errorf("tune: no value for weight %s", v.name)
		}
		t, err := m.tensor(v.shape, vals)
		if err != nil {
			return fmt.Errorf("tune: weight %s: %w", v.name, err)
		}
		feeds[v.value] = t
		targets = append(targets, v.assign)
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		return fmt.Errorf("tune: set weights: %w", err)
	}
	return nil
}

// tensor makes a tensor of the model's precision from float32 values.
func (m *Model) tensor(shape []int64, v []float32) (*tf.Tensor, error) {
	if m.dt == tf.Double {
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		return tf.NewTensor(shape, d)
	}
	return tf.NewTensor(shape, v)
}

// constant adds a constant of the model's precision.
func (m *Model) constant(s *tf.Scope, name string, shape []int64, v ...float32) tf.Output {
	t, err := m.tensor(shape, v)
	if err != nil {
		s.Fail(fmt.Errorf("constant %s: %w", name, err))
		return tf.Output{}
	}
	defer t.Close()
	return s.Const(name, t)
}

// float64s reads a float32 or float64 tensor.
func float64s(t *tf.Tensor) ([]float64, error) {
	if t.DataType() == tf.Double {
		return tf.Values[float64](t)
	}
	v, err := tf.Values[float32](t)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}

// float32s reads a float32 or float64 tensor as float32.
func float32s(t *tf.Tensor) ([]float32, error) {
	if t.DataType() == tf.Float {
		return tf.Values[float32](t)
	}
	v, err := tf.Values[float64](t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}
