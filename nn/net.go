package nn

import (
	"fmt"
	"math"

	"github.com/lessdata/lessdata/tf"
)

// Arch builds a network's body, from its input to the features the output layer reads.
type Arch func(b *Builder, x tf.Output) tf.Output

// Config sets the output layer, the loss and Adam.
type Config struct {
	// Classes is the number of classes: 2 gives one sigmoid unit with binary cross-entropy,
	// more give a softmax layer with categorical cross-entropy.
	Classes int
	// L2 adds L2*sum(w^2) of the output kernel to the loss.
	L2 float32
	// LearningRate, Beta1, Beta2 and Epsilon are Adam's (Keras' defaults when zero: 0.001, 0.9,
	// 0.999, 1e-7).
	LearningRate, Beta1, Beta2, Epsilon float32
	Session                             tf.SessionOptions
}

func (c *Config) defaults() {
	if c.LearningRate == 0 {
		c.LearningRate = 0.001
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-7
	}
}

// Net is a network in a TensorFlow session, ready to train and predict. It is not safe for
// concurrent use.
type Net struct {
	cfg        Config
	arch       Arch
	inputShape []int64
	seed       uint64

	g                          *tf.Graph
	sess                       *tf.Session
	input, labels, dropOn      tf.Output
	logits, probs, loss        tf.Output
	vars, slots                []*variable
	grads                      []tf.Output
	apply                      []*tf.Operation
	lr, beta1Power, beta2Power tf.Output
	step                       int
}

// New builds the network arch on inputs of inputShape, with its output layer, loss and Adam, and
// initialises its weights from seed.
func New(inputShape []int64, arch Arch, cfg Config, seed uint64) (*Net, error) {
	if cfg.Classes < 2 {
		return nil, fmt.Errorf("nn: need at least 2 classes, got %d", cfg.Classes)
	}
	cfg.defaults()
	b, err := NewBuilder(inputShape, seed)
	if err != nil {
		return nil, err
	}
	n := &Net{cfg: cfg, arch: arch, inputShape: inputShape, seed: seed, g: b.g, input: b.input, dropOn: b.dropOn}
	if err := n.build(b); err != nil {
		b.g.Close()
		return nil, err
	}
	n.sess, err = tf.NewSession(b.g, cfg.Session)
	if err != nil {
		b.g.Close()
		return nil, err
	}
	init := map[string][]float32{}
	for _, v := range append(append([]*variable{}, n.vars...), n.slots...) {
		init[v.name] = v.init
	}
	if err := n.assign(init); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// head adds the output layer on the body's features and returns the logits and probabilities.
func head(b *Builder, feats tf.Output, cfg Config) (logits, probs tf.Output) {
	units := cfg.Classes
	if units == 2 {
		units = 1
	}
	logits = b.Dense(feats, units, "linear", cfg.L2)
	if units == 1 {
		return logits, b.s.Out("Sigmoid", nil, logits)
	}
	return logits, b.s.Out("Softmax", nil, logits)
}

func (n *Net) build(b *Builder) error {
	s := b.s
	feats := n.arch(b, b.input)
	n.logits, n.probs = head(b, feats, n.cfg)
	n.logits = s.Identity("logits", n.logits)
	n.probs = s.Identity("probabilities", n.probs)
	var perExample tf.Output
	if n.cfg.Classes == 2 {
		// Binary cross-entropy from logits z and labels y: softplus(z) - z*y. (The form
		// max(z,0) - z*y + log(1+exp(-|z|)) has subgradients at z = 0 that miss the true
		// slope, sigmoid(0) - y, and z = 0 happens when every feature is a dead ReLU.)
		n.labels = s.Placeholder("labels", tf.Float, tf.Shape{-1, 1})
		z := n.logits
		perExample = s.Out("Sub", nil, s.Out("Softplus", nil, z), s.Out("Mul", nil, z, n.labels))
	} else {
		n.labels = s.Placeholder("labels", tf.Float, tf.Shape{-1, int64(n.cfg.Classes)})
		ce := s.Op("SoftmaxCrossEntropyWithLogits", []any{n.logits, n.labels}, nil)
		if ce != nil {
			perExample = ce.Output(0)
		}
	}
	loss := s.Out("Mean", nil, perExample, s.ConstInt32("all", []int64{1}, []int32{0}))
	if n.cfg.Classes == 2 {
		loss = s.Out("Mean", nil, loss, s.ConstInt32("all1", []int64{1}, []int32{0}))
	}
	for _, t := range b.l2Terms {
		loss = s.Out("AddV2", nil, loss, t)
	}
	n.loss = s.Identity("loss", loss)
	if err := s.Err(); err != nil {
		return err
	}
	n.vars = b.vars
	reads := make([]tf.Output, len(n.vars))
	for i, v := range n.vars {
		reads[i] = v.read
	}
	grads, err := b.g.AddGradients("gradients", []tf.Output{n.loss}, reads)
	if err != nil {
		return err
	}
	n.grads = grads
	as := s.Sub("adam")
	n.lr = as.Placeholder("lr", tf.Float, tf.Shape{})
	n.beta1Power = as.Placeholder("beta1_power", tf.Float, tf.Shape{})
	n.beta2Power = as.Placeholder("beta2_power", tf.Float, tf.Shape{})
	beta1 := as.ConstFloat("beta1", []int64{}, []float32{n.cfg.Beta1})
	beta2 := as.ConstFloat("beta2", []int64{}, []float32{n.cfg.Beta2})
	eps := as.ConstFloat("epsilon", []int64{}, []float32{n.cfg.Epsilon})
	for i, v := range n.vars {
		size := 1
		for _, d := range v.shape {
			size *= int(d)
		}
		b.newVariable(v.name+"_m", v.shape, make([]float32, size))
		b.newVariable(v.name+"_v", v.shape, make([]float32, size))
		m, vv := b.vars[len(b.vars)-2], b.vars[len(b.vars)-1]
		n.slots = append(n.slots, m, vv)
		op := as.Op("ResourceApplyAdam", []any{v.handle, m.handle, vv.handle, n.beta1Power, n.beta2Power,
			n.lr, beta1, beta2, eps, grads[i]}, map[string]any{"T": tf.Float})
		n.apply = append(n.apply, op)
	}
	return s.Err()
}

// assign sets variables by name.
func (n *Net) assign(values map[string][]float32) error {
	feeds := map[tf.Output]*tf.Tensor{}
	var targets []*tf.Operation
	defer func() {
		for _, t := range feeds {
			t.Close()
		}
	}()
	for _, v := range append(append([]*variable{}, n.vars...), n.slots...) {
		vals, ok := values[v.name]
		if !ok {
			continue
		}
		t, err := tf.NewTensor(v.shape, vals)
		if err != nil {
			return fmt.Errorf("nn: weights %s: %w", v.name, err)
		}
		feeds[v.value] = t
		targets = append(targets, v.assign)
	}
	_, err := n.sess.Run(feeds, nil, targets)
	return err
}

// Close frees the session and the graph.
func (n *Net) Close() {
	if n.sess != nil {
		n.sess.Close()
	}
	n.g.Close()
}

// Classes returns the number of classes.
func (n *Net) Classes() int { return n.cfg.Classes }

// InputShape returns the shape of one example.
func (n *Net) InputShape() []int64 { return append([]int64(nil), n.inputShape...) }

// Batch is a batch of examples: count examples laid out one after another in X, and their class
// indices.
type Batch struct {
	X      []float32
	Count  int
	Labels []int
}

func (n *Net) feeds(b Batch, withLabels bool) (map[tf.Output]*tf.Tensor, error) {
	shape := append([]int64{int64(b.Count)}, n.inputShape...)
	x, err := tf.NewTensor(shape, b.X)
	if err != nil {
		return nil, fmt.Errorf("nn: batch: %w", err)
	}
	feeds := map[tf.Output]*tf.Tensor{n.input: x}
	if withLabels {
		if len(b.Labels) != b.Count {
			x.Close()
			return nil, fmt.Errorf("nn: batch of %d examples has %d labels", b.Count, len(b.Labels))
		}
		k := n.cfg.Classes
		for _, l := range b.Labels {
			if l < 0 || l >= k {
				x.Close()
				return nil, fmt.Errorf("nn: label %d is not a class index below %d", l, k)
			}
		}
		var y []float32
		var yshape []int64
		if k == 2 {
			y, yshape = make([]float32, b.Count), []int64{int64(b.Count), 1}
			for i, l := range b.Labels {
				y[i] = float32(l)
			}
		} else {
			y, yshape = make([]float32, b.Count*k), []int64{int64(b.Count), int64(k)}
			for i, l := range b.Labels {
				y[i*k+l] = 1
			}
		}
		t, err := tf.NewTensor(yshape, y)
		if err != nil {
			x.Close()
			return nil, err
		}
		feeds[n.labels] = t
	}
	return feeds, nil
}

func closeAll(ts map[tf.Output]*tf.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}

// probsOf turns the probability output into one row of class probabilities per example.
func (n *Net) probsOf(t *tf.Tensor, count int) ([][]float32, error) {
	v, err := tf.Values[float32](t)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, count)
	for i := range out {
		if n.cfg.Classes == 2 {
			out[i] = []float32{1 - v[i], v[i]}
		} else {
			out[i] = v[i*n.cfg.Classes : (i+1)*n.cfg.Classes]
		}
	}
	return out, nil
}

// TrainBatch takes one Adam step on the batch (with dropout on) and returns the batch's loss and
// class probabilities, both from before the step, as Keras reports them.
func (n *Net) TrainBatch(b Batch) (float64, [][]float32, error) {
	feeds, err := n.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	n.step++
	scalars := map[tf.Output]float32{
		n.dropOn:     1,
		n.lr:         n.cfg.LearningRate,
		n.beta1Power: float32(math.Pow(float64(n.cfg.Beta1), float64(n.step))),
		n.beta2Power: float32(math.Pow(float64(n.cfg.Beta2), float64(n.step))),
	}
	for o, v := range scalars {
		t, err := tf.Scalar(v)
		if err != nil {
			return 0, nil, err
		}
		feeds[o] = t
	}
	out, err := n.sess.Run(feeds, []tf.Output{n.loss, n.probs}, n.apply)
	if err != nil {
		return 0, nil, fmt.Errorf("nn: train step: %w", err)
	}
	defer out[0].Close()
	defer out[1].Close()
	return n.lossProbs(out, b.Count)
}

func (n *Net) lossProbs(out []*tf.Tensor, count int) (float64, [][]float32, error) {
	l, err := tf.Values[float32](out[0])
	if err != nil {
		return 0, nil, err
	}
	probs, err := n.probsOf(out[1], count)
	if err != nil {
		return 0, nil, err
	}
	if math.IsNaN(float64(l[0])) || math.IsInf(float64(l[0]), 0) {
		return 0, nil, fmt.Errorf("nn: the loss is %v: training diverged (lower the learning rate)", l[0])
	}
	return float64(l[0]), probs, nil
}

// Evaluate returns the loss and class probabilities of a labelled batch without training.
func (n *Net) Evaluate(b Batch) (float64, [][]float32, error) {
	feeds, err := n.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	out, err := n.sess.Run(feeds, []tf.Output{n.loss, n.probs}, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("nn: evaluate: %w", err)
	}
	defer out[0].Close()
	defer out[1].Close()
	return n.lossProbs(out, b.Count)
}

// Predict returns class probabilities for a batch (labels are not needed).
func (n *Net) Predict(b Batch) ([][]float32, error) {
	feeds, err := n.feeds(b, false)
	if err != nil {
		return nil, err
	}
	defer closeAll(feeds)
	out, err := n.sess.Run(feeds, []tf.Output{n.probs}, nil)
	if err != nil {
		return nil, fmt.Errorf("nn: predict: %w", err)
	}
	defer out[0].Close()
	return n.probsOf(out[0], b.Count)
}

// Gradients returns the loss of a labelled batch and its gradient with respect to every weight,
// by weight name, without training (dropout off).
func (n *Net) Gradients(b Batch) (float64, map[string][]float32, error) {
	feeds, err := n.feeds(b, true)
	if err != nil {
		return 0, nil, err
	}
	defer closeAll(feeds)
	out, err := n.sess.Run(feeds, append([]tf.Output{n.loss}, n.grads...), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("nn: gradients: %w", err)
	}
	grads := map[string][]float32{}
	for i, v := range n.vars {
		vals, err := tf.Values[float32](out[i+1])
		if err != nil {
			return 0, nil, err
		}
		grads[v.name] = vals
	}
	l, err := tf.Values[float32](out[0])
	for _, o := range out {
		o.Close()
	}
	if err != nil {
		return 0, nil, err
	}
	return float64(l[0]), grads, nil
}

// Weights returns a copy of every trainable weight, by name.
func (n *Net) Weights() (map[string][]float32, error) {
	reads := make([]tf.Output, len(n.vars))
	for i, v := range n.vars {
		reads[i] = v.read
	}
	out, err := n.sess.Run(nil, reads, nil)
	if err != nil {
		return nil, fmt.Errorf("nn: read weights: %w", err)
	}
	w := map[string][]float32{}
	for i, v := range n.vars {
		vals, err := tf.Values[float32](out[i])
		out[i].Close()
		if err != nil {
			return nil, err
		}
		w[v.name] = vals
	}
	return w, nil
}

// SetWeights replaces trainable weights by name; every weight must be given with its size.
func (n *Net) SetWeights(w map[string][]float32) error {
	for _, v := range n.vars {
		vals, ok := w[v.name]
		if !ok {
			return fmt.Errorf("nn: no value for weight %s", v.name)
		}
		if len(vals) != len(v.init) {
			return fmt.Errorf("nn: weight %s has %d values, want %d", v.name, len(vals), len(v.init))
		}
	}
	return n.assign(w)
}
