package tune

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

var testCache string

func TestMain(m *testing.M) { shared.RunWithTempDir(m, "lessdata-tune-test-", &testCache) }

// real converts a named backbone from ../shared into the run's cache (skipping without it).
func real(t testing.TB, name string) string {
	t.Helper()
	dir, err := backbone.Fetch(context.Background(), name, backbone.FetchOptions{CacheDir: testCache, Mirror: shared.Need(t, "backbones")})
	require.NoError(t, err)
	return dir
}

func randomBatch(r *rand.Rand, count, w, h, classes int) nn.Batch {
	b := nn.Batch{X: make([]float32, count*w*h*3), Count: count, Labels: make([]int, count)}
	for i := range b.X {
		b.X[i] = float32(r.Float64()*2 - 1)
	}
	for i := range b.Labels {
		b.Labels[i] = i % classes
	}
	return b
}

func layerOps(ls []Layer) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Op
	}
	return out
}

func TestInspectTinyBackbone(t *testing.T) {
	st, err := Inspect(backbonetest.MustWrite(t, backbonetest.Options{}))
	require.NoError(t, err)
	require.Equal(t, backbonetest.LastConv+":0", st.FeatureMap)
	require.Equal(t, []string{"stem/Conv2D", "block/depthwise/DepthwiseConv2dNative", "block/project/Conv2D", "head/Conv2D"}, layerOps(st.Layers))
	require.Len(t, st.Blocks, 2)
	require.Equal(t, []string{"stem/Conv2D"}, layerOps(st.Blocks[0].Layers))
	for _, l := range st.Layers {
		require.NotEmpty(t, l.Bias, l.Op)
	}
	top, err := st.Trainable(1, "")
	require.NoError(t, err)
	require.Equal(t, layerOps(st.Blocks[1].Layers), layerOps(top))
	from, err := st.Trainable(0, "block/project/Conv2D")
	require.NoError(t, err)
	require.Equal(t, []string{"block/project/Conv2D", "head/Conv2D"}, layerOps(from))
	_, err = st.Trainable(3, "")
	require.ErrorContains(t, err, "has 2 blocks")
	_, err = st.Trainable(0, "nope")
	require.ErrorContains(t, err, "no weighted layer named \"nope\"")
}

// The blocks of the real converted backbones: MobileNetV1's 13 depthwise-separable pairs and
// MobileNetV2's 17 inverted residuals, each after the stem.
func TestInspectMobileNets(t *testing.T) {
	for name, want := range map[string]struct {
		blocks, layers int
		top            []string
	}{
		"mobilenet_v1_025": {14, 27, []string{"DepthwiseConv2dNative", "Conv2D"}},
		"mobilenet_v2":     {18, 52, []string{"Conv2D", "DepthwiseConv2dNative", "Conv2D", "Conv2D"}},
	} {
		st, err := Inspect(real(t, name))
		require.NoError(t, err)
		require.Len(t, st.Blocks, want.blocks, name)
		require.Len(t, st.Layers, want.layers, name)
		var types []string
		for _, l := range st.Blocks[len(st.Blocks)-1].Layers {
			types = append(types, l.Type)
		}
		require.Equal(t, want.top, types, name)
		for i, b := range st.Blocks[1:] {
			n := 0
			for _, l := range b.Layers {
				if l.Type == "DepthwiseConv2dNative" {
					n++
				}
			}
			require.Equal(t, 1, n, "%s block %d has one depthwise convolution", name, i+1)
		}
	}
}

// checkGradients compares TensorFlow's gradient of the loss with central finite differences on
// the perTensor weights with the largest gradients of every trained tensor, and returns the
// largest relative error by kind of weight. The model computes in float64 (Options.Float64),
// so the loss carries about 1e-16 relative error, and a step of 1e-5 leaves a finite-difference
// error near h^2 = 1e-10 where the loss is smooth and makes crossing a Relu6 kink rare; the
// gradients come back as float32, 6e-8 relative, so 1e-4 relative is a tolerance with margin. Weights are set as float32, so the steps
// actually taken are measured rather than assumed. A step across a Relu6 kink makes the
// one-sided slopes disagree; such points say nothing about the gradient and are skipped (and
// counted).
func checkGradients(t *testing.T, m *Model, b nn.Batch, perTensor int) map[string]float64 {
	t.Helper()
	_, grads, err := m.Gradients(b)
	require.NoError(t, err)
	w, err := m.Weights()
	require.NoError(t, err)
	kind := map[string]string{HeadKernel: "head kernel (MatMul)", HeadBias: "head bias"}
	for _, l := range m.TrainableLayers() {
		kind[BackbonePrefix+l.Kernel] = l.Type + " kernel"
		kind[BackbonePrefix+l.Bias] = "BiasAdd bias"
	}
	names := make([]string, 0, len(w))
	for k := range w {
		names = append(names, k)
	}
	sort.Strings(names)
	worst := map[string]float64{}
	checked, kinks := 0, 0
	for _, name := range names {
		g := grads[name]
		idx := make([]int, len(g))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(i, j int) bool { return math.Abs(float64(g[idx[i]])) > math.Abs(float64(g[idx[j]])) })
		for _, i := range idx[:min(perTensor, len(idx))] {
			const h = 1e-5
			orig := w[name][i]
			loss := func(v float32) float64 {
				w[name][i] = v
				require.NoError(t, m.SetWeights(w))
				l, _, err := m.Evaluate(b)
				require.NoError(t, err)
				return l
			}
			up, down := orig+h, orig-h
			lp, l0, lm := loss(up), loss(orig), loss(down)
			w[name][i] = orig
			hp, hm := float64(up)-float64(orig), float64(orig)-float64(down)
			right, left := (lp-l0)/hp, (l0-lm)/hm
			if math.Abs(right-left) > 0.01*math.Max(math.Abs(right), math.Abs(left))+1e-6 {
				kinks++
				continue
			}
			numeric, analytic := (lp-lm)/(hp+hm), float64(g[i])
			require.InDelta(t, numeric, analytic, 1e-7+1e-4*math.Abs(numeric),
				"weight %s[%d] (%s): finite difference %g, TensorFlow %g", name, i, kind[name], numeric, analytic)
			rel := math.Abs(numeric-analytic) / math.Max(math.Abs(numeric), 1e-12)
			worst[kind[name]] = math.Max(worst[kind[name]], rel)
			checked++
		}
	}
	require.NoError(t, m.SetWeights(w))
	require.Less(t, kinks, checked/4+1, "too many kinks for the check to mean much")
	t.Logf("checked %d weights (%d kinks skipped); largest relative error by kind: %v", checked, kinks, worst)
	return worst
}

// The trainable backbone's gradients agree with central finite differences for every kind of
// weight: Conv2D and depthwise kernels, biases and the head, through Pad, Relu6, AddV2 and Mean.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	for _, classes := range []int{2, 3} {
		m, err := Open(dir, Options{Unfreeze: 2, Classes: classes, L2: 0.01, Seed: 3, Float64: true})
		require.NoError(t, err)
		w, h := m.InputSize()
		worst := checkGradients(t, m, randomBatch(rand.New(rand.NewPCG(1, 2)), 4, w, h, classes), 4)
		require.Len(t, worst, 5, "every kind of weight was checked: %v", worst)
		m.Close()
	}
}

// The same check on the top two blocks of the real MobileNetV1 (AvgPool, real weights).
func TestGradientsMatchFiniteDifferencesMobileNetV1(t *testing.T) {
	m, err := Open(real(t, "mobilenet_v1_025"), Options{Unfreeze: 2, Classes: 2, Seed: 5, Float64: true})
	require.NoError(t, err)
	defer m.Close()
	w, h := m.InputSize()
	worst := checkGradients(t, m, randomBatch(rand.New(rand.NewPCG(3, 4)), 2, w, h, 2), 2)
	require.Len(t, worst, 5, "every kind of weight was checked: %v", worst)
}

// The float64 model computes what the float32 one does, to float32's precision.
func TestFloat64MatchesFloat32(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	var losses []float64
	var probs [][][]float32
	for _, f64 := range []bool{false, true} {
		m, err := Open(dir, Options{Unfreeze: 1, Classes: 3, Seed: 2, Float64: f64})
		require.NoError(t, err)
		w, h := m.InputSize()
		l, p, err := m.Evaluate(randomBatch(rand.New(rand.NewPCG(5, 6)), 3, w, h, 3))
		require.NoError(t, err)
		losses, probs = append(losses, l), append(probs, p)
		m.Close()
	}
	require.InDelta(t, losses[0], losses[1], 1e-5)
	for i := range probs[0] {
		require.InDeltaSlice(t, probs[0][i], probs[1][i], 1e-5)
	}
}

// colourBatch makes images whose class is their colour: red-ish for 0, blue-ish for 1.
func colourBatch(r *rand.Rand, count, w, h int) nn.Batch {
	b := randomBatch(r, count, w, h, 2)
	for i := 0; i < count; i++ {
		for p := 0; p < w*h; p++ {
			c := 2 * b.Labels[i] // channel 0 or 2
			b.X[(i*w*h+p)*3+c] = 0.5*b.X[(i*w*h+p)*3+c] + 0.5
		}
	}
	return b
}

// Unfreezing the top block trains it and the head, leaves the stem alone, and the frozen
// SavedModel predicts what the model predicts.
func TestTrainAndFreeze(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	m, err := Open(dir, Options{Unfreeze: 1, Classes: 2, LearningRate: 0.01, Seed: 1})
	require.NoError(t, err)
	defer m.Close()
	require.NotContains(t, layerOps(m.TrainableLayers()), "stem/Conv2D")
	// Top block: depthwise 3*3*8+8, project 8*8+8, head conv 8*8+8; head 8+1.
	require.Equal(t, 80+72+72+9, m.TrainableParams())
	w, h := m.InputSize()
	train := colourBatch(rand.New(rand.NewPCG(7, 8)), 32, w, h)
	before, err := m.Weights()
	require.NoError(t, err)
	first, _, err := m.Evaluate(train)
	require.NoError(t, err)
	for range 60 {
		_, _, err := m.TrainBatch(train)
		require.NoError(t, err)
	}
	last, probs, err := m.Evaluate(train)
	require.NoError(t, err)
	t.Logf("loss %.4f -> %.4f", first, last)
	require.Less(t, last, first/2)
	after, err := m.Weights()
	require.NoError(t, err)
	require.NotEqual(t, before["backbone/block/depthwise/weights"], after["backbone/block/depthwise/weights"])

	out := filepath.Join(t.TempDir(), "tuned")
	require.NoError(t, m.Freeze(out))
	sm, err := tf.LoadSavedModel(out, nil, tf.SessionOptions{})
	require.NoError(t, err)
	sig, err := sm.Signature(tf.DefaultSignature)
	require.NoError(t, err)
	require.Equal(t, []int64{-1, 1}, sig.Outputs["probabilities"].Shape)
	require.Equal(t, []int64{-1, 8, 8, 8}, sig.Outputs["feature_map"].Shape)
	sm.Close()
	frozen := frozenPredict(t, out, train, w, h)
	for i := range probs {
		require.InDelta(t, probs[i][1], frozen[i], 1e-5)
	}

	// Keep-best: restoring the first weights gives back the first loss.
	require.NoError(t, m.SetWeights(before))
	again, _, err := m.Evaluate(train)
	require.NoError(t, err)
	require.InDelta(t, first, again, 1e-6)
}

// frozenPredict runs a SavedModel written by Freeze on a batch and returns its probabilities.
func frozenPredict(t *testing.T, dir string, b nn.Batch, w, h int) []float32 {
	sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
	require.NoError(t, err)
	defer sm.Close()
	sig, err := sm.Signature(tf.DefaultSignature)
	require.NoError(t, err)
	in, err := sm.Output(sig.Inputs["input"].Name)
	require.NoError(t, err)
	po, err := sm.Output(sig.Outputs["probabilities"].Name)
	require.NoError(t, err)
	x, err := tf.NewTensor([]int64{int64(b.Count), int64(h), int64(w), 3}, b.X)
	require.NoError(t, err)
	res, err := sm.Session.Run(map[tf.Output]*tf.Tensor{in: x}, []tf.Output{po}, nil)
	require.NoError(t, err)
	v, err := tf.Values[float32](res[0])
	require.NoError(t, err)
	return v
}

// With nothing unfrozen the model is the backbone's features through the phase-1 head, with its
// normalisation, before and after Freeze; its loss is the mean cross-entropy.
func TestHeadStartsFromPhaseOne(t *testing.T) {
	dir := backbonetest.MustWrite(t, backbonetest.Options{})
	bb, err := backbone.Open(dir, backbone.Options{})
	require.NoError(t, err)
	defer bb.Close()
	w, h := bb.InputSize()
	r := rand.New(rand.NewPCG(9, 9))
	train := randomBatch(r, 30, w, h, 3)
	feats, _, err := bb.RunNormalized(train.X, train.Count, false)
	require.NoError(t, err)
	b := randomBatch(r, 5, w, h, 3)
	valFeats, _, err := bb.RunNormalized(b.X, b.Count, false)
	require.NoError(t, err)
	for _, norm := range []head.Normalization{head.NormNone, head.NormL2, head.NormStandardize} {
		fitted, err := head.Fit(context.Background(), head.Dataset{X: feats, Labels: train.Labels, Classes: 3}, 1, norm)
		require.NoError(t, err)
		hw := fitted.Weights()
		m, err := Open(dir, Options{Classes: 3, Head: &hw})
		require.NoError(t, err)
		require.Equal(t, 8*3+3, m.TrainableParams())
		want, err := fitted.Predict(valFeats)
		require.NoError(t, err)
		probs, err := m.Predict(b)
		require.NoError(t, err)
		ce := 0.0
		for i := range want {
			require.InDeltaSlice(t, f32(want[i]), probs[i], 1e-5, "%v: image %d", norm, i)
			ce -= math.Log(want[i][b.Labels[i]]) / float64(b.Count)
		}
		loss, _, err := m.Evaluate(b)
		require.NoError(t, err)
		require.InDelta(t, ce, loss, 1e-5, "%v: the loss is the mean cross-entropy", norm)
		got, err := m.Head()
		require.NoError(t, err)
		require.Equal(t, norm, got.Normalization)
		require.InDeltaSlice(t, hw.B, got.B, 1e-6)

		out := filepath.Join(t.TempDir(), "tuned")
		require.NoError(t, m.Freeze(out))
		frozen := frozenPredict(t, out, b, w, h)
		for i := range probs {
			require.InDeltaSlice(t, probs[i], frozen[i*3:(i+1)*3], 1e-5, "%v: frozen image %d", norm, i)
		}
		m.Close()
	}
	bad := head.Weights{Classes: 3, W: make([][]float64, 5), B: make([]float64, 3)}
	_, err = Open(dir, Options{Classes: 3, Head: &bad})
	require.ErrorContains(t, err, "5 kernel rows")
}
