package nn

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/tf"
)

// tinyCNN is the article's architecture at toy size.
func tinyCNN(b *Builder, x tf.Output) tf.Output {
	x = b.MaxPool(b.Conv2D(x, 3, 3, "relu"), 2)
	x = b.MaxPool(b.Conv2D(x, 2, 3, "relu"), 2)
	return b.Dense(b.Flatten(x), 5, "relu", 0)
}

func randomBatch(r *rand.Rand, count int, shape []int64, classes int) Batch {
	size := count
	for _, d := range shape {
		size *= int(d)
	}
	b := Batch{X: make([]float32, size), Count: count, Labels: make([]int, count)}
	for i := range b.X {
		b.X[i] = float32(r.NormFloat64())
	}
	for i := range b.Labels {
		b.Labels[i] = r.IntN(classes)
	}
	return b
}

// TensorFlow's gradients of the whole CNN agree with central finite differences of its loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, classes := range []int{2, 3} {
		shape := []int64{14, 14, 2}
		net, err := New(shape, tinyCNN, Config{Classes: classes, L2: 0.01}, 7)
		require.NoError(t, err)
		batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 4, shape, classes)
		_, grads, err := net.Gradients(batch)
		require.NoError(t, err)
		w, err := net.Weights()
		require.NoError(t, err)
		names := make([]string, 0, len(w))
		for k := range w {
			names = append(names, k)
		}
		sort.Strings(names)
		r := rand.New(rand.NewPCG(3, 4))
		checked, kinks := 0, 0
		for _, name := range names {
			for k := 0; k < 4; k++ {
				i := r.IntN(len(w[name]))
				const h = 1e-3
				orig := w[name][i]
				loss := func(v float32) float64 {
					w[name][i] = v
					require.NoError(t, net.SetWeights(w))
					l, _, err := net.Evaluate(batch)
					require.NoError(t, err)
					return l
				}
				lp, l0, lm := loss(orig+h), loss(orig), loss(orig-h)
				w[name][i] = orig
				// A step across a ReLU or max-pool kink makes the one-sided slopes disagree;
				// such points say nothing about the gradient.
				right, left := (lp-l0)/h, (l0-lm)/h
				if math.Abs(right-left) > 0.1*math.Max(math.Abs(right), math.Abs(left))+1e-3 {
					kinks++
					continue
				}
				numeric := (lp - lm) / (2 * h)
				analytic := float64(grads[name][i])
				require.InDelta(t, numeric, analytic, 1e-3+0.02*math.Abs(numeric),
					"classes %d, weight %s[%d]: finite difference %g, TensorFlow %g", classes, name, i, numeric, analytic)
				checked++
			}
		}
		require.NoError(t, net.SetWeights(w))
		require.Greater(t, checked, 20)
		require.Less(t, kinks, checked/4, "too many kinks for the check to mean much")
		net.Close()
	}
}

// separable makes a dataset whose class is the sign of the mean of the first channel.
func separable(r *rand.Rand, count int, shape []int64) Batch {
	b := randomBatch(r, count, shape, 2)
	per := len(b.X) / count
	for i := 0; i < count; i++ {
		shift := float32(-1)
		if i%2 == 1 {
			shift = 1
		}
		b.Labels[i] = i % 2
		for j := 0; j < per; j += int(shape[2]) {
			b.X[i*per+j] += shift
		}
	}
	return b
}

func train(t *testing.T, seed uint64, dropout float32) []float64 {
	shape := []int64{14, 14, 2}
	arch := func(b *Builder, x tf.Output) tf.Output { return b.Dropout(tinyCNN(b, x), dropout) }
	net, err := New(shape, arch, Config{Classes: 2, LearningRate: 0.01}, seed)
	require.NoError(t, err)
	defer net.Close()
	batch := separable(rand.New(rand.NewPCG(5, 6)), 16, shape)
	var losses []float64
	for i := 0; i < 40; i++ {
		l, _, err := net.TrainBatch(batch)
		require.NoError(t, err)
		losses = append(losses, l)
	}
	_, probs, err := net.Evaluate(batch)
	require.NoError(t, err)
	correct := 0
	for i, p := range probs {
		if (p[1] > 0.5) == (batch.Labels[i] == 1) {
			correct++
		}
	}
	require.Equal(t, 16, correct, "a separable toy set is learnt")
	return losses
}

func TestTrainingLearnsAndRepeats(t *testing.T) {
	a := train(t, 11, 0.3)
	require.Less(t, a[len(a)-1], a[0]/4, "loss falls")
	b := train(t, 11, 0.3)
	require.Equal(t, a, b, "the same seed gives the same losses, bit for bit")
	c := train(t, 12, 0.3)
	require.NotEqual(t, a, c)
}

func TestFreezeMatchesPredict(t *testing.T) {
	shape := []int64{14, 14, 2}
	for _, classes := range []int{2, 4} {
		arch := func(b *Builder, x tf.Output) tf.Output { return b.Dropout(tinyCNN(b, x), 0.5) }
		net, err := New(shape, arch, Config{Classes: classes}, 3)
		require.NoError(t, err)
		batch := randomBatch(rand.New(rand.NewPCG(7, 8)), 5, shape, classes)
		for i := 0; i < 3; i++ {
			_, _, err := net.TrainBatch(batch)
			require.NoError(t, err)
		}
		want, err := net.Predict(batch)
		require.NoError(t, err)
		again, err := net.Predict(batch)
		require.NoError(t, err)
		require.Equal(t, want, again, "no dropout when predicting")

		dir := filepath.Join(t.TempDir(), "frozen")
		require.NoError(t, net.Freeze(dir))
		m, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
		require.NoError(t, err)
		sig, err := m.Signature(tf.DefaultSignature)
		require.NoError(t, err)
		in, _ := m.Output(sig.Inputs["input"].Name)
		out, _ := m.Output(sig.Outputs["probabilities"].Name)
		x, _ := tf.NewTensor([]int64{5, 14, 14, 2}, batch.X)
		res, err := m.Session.Run(map[tf.Output]*tf.Tensor{in: x}, []tf.Output{out}, nil)
		require.NoError(t, err)
		got, err := net.probsOf(res[0], 5)
		require.NoError(t, err)
		for i := range want {
			require.InDeltaSlice(t, want[i], got[i], 1e-6)
		}
		m.Close()
		net.Close()
	}
}

func TestBadInputs(t *testing.T) {
	_, err := New([]int64{4}, func(b *Builder, x tf.Output) tf.Output { return x }, Config{Classes: 1}, 1)
	require.ErrorContains(t, err, "at least 2 classes")
	_, err = New([]int64{4}, func(b *Builder, x tf.Output) tf.Output { return b.Conv2D(x, 2, 3, "relu") }, Config{Classes: 2}, 1)
	require.ErrorContains(t, err, "HxWxC")
	_, err = New([]int64{4, 4, 1}, func(b *Builder, x tf.Output) tf.Output { return b.Dense(x, 2, "relu", 0) }, Config{Classes: 2}, 1)
	require.ErrorContains(t, err, "Flatten first")
	_, err = New([]int64{4}, func(b *Builder, x tf.Output) tf.Output { return b.Dense(x, 2, "tanhh", 0) }, Config{Classes: 2}, 1)
	require.ErrorContains(t, err, "unknown activation")

	net, err := New([]int64{3}, func(b *Builder, x tf.Output) tf.Output { return x }, Config{Classes: 3}, 1)
	require.NoError(t, err)
	defer net.Close()
	_, _, err = net.TrainBatch(Batch{X: make([]float32, 6), Count: 2, Labels: []int{0, 3}})
	require.ErrorContains(t, err, "label 3")
	_, _, err = net.TrainBatch(Batch{X: make([]float32, 5), Count: 2, Labels: []int{0, 1}})
	require.ErrorContains(t, err, "needs 6 values")
	_, _, err = net.Evaluate(Batch{X: make([]float32, 6), Count: 2, Labels: []int{0}})
	require.ErrorContains(t, err, "1 labels")
	require.ErrorContains(t, net.SetWeights(map[string][]float32{}), "no value")
}
