package gradcam

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/models"
	"github.com/lessdata/lessdata/tf"
)

// The grid placeGrid computes from strides, kernels and paddings puts every cell at the centre of
// its receptive field, measured independently: in a network of linear layers with all-one
// kernels, the gradient of one cell with respect to the image is non-zero exactly on the cell's
// receptive field. The layers mix what the zoo's graphs hold: explicit Pad before a VALID
// convolution, SAME convolutions of stride 2 on odd and even sizes, a depthwise convolution, a
// dilated one, average pooling, and a residual sum.
func TestGridMatchesReceptiveFields(t *testing.T) {
	for _, size := range [][2]int64{{37, 37}, {42, 29}} {
		g, err := tf.NewGraph()
		require.NoError(t, err)
		defer g.Close()
		s := tf.NewScope(g)
		h, w := size[0], size[1]
		in := s.Placeholder("input", tf.Float, tf.Shape{-1, h, w, 1})
		ones := func(name string, k int64) tf.Output {
			v := make([]float32, k*k)
			for i := range v {
				v[i] = 1
			}
			return s.ConstFloat(name, []int64{k, k, 1, 1}, v)
		}
		conv := func(op string, x tf.Output, k, stride, dilation int64, padding string) tf.Output {
			return s.Out(op, map[string]any{"strides": []int64{1, stride, stride, 1}, "padding": padding,
				"dilations": []int64{1, dilation, dilation, 1}}, x, ones("k", k))
		}
		x := s.Out("Pad", nil, in, s.ConstInt32("paddings", []int64{4, 2}, []int32{0, 0, 0, 1, 0, 1, 0, 0}))
		x = conv("Conv2D", x, 3, 2, 1, "VALID")
		x = s.Out("AddV2", nil, x, conv("DepthwiseConv2dNative", x, 3, 1, 1, "SAME"))
		x = conv("Conv2D", x, 3, 2, 1, "SAME")
		x = conv("Conv2D", x, 3, 1, 2, "SAME")
		x = s.Out("AvgPool", map[string]any{"ksize": []int64{1, 2, 2, 1}, "strides": []int64{1, 2, 2, 1}, "padding": "SAME"}, x)
		fmap := s.Identity("fmap", s.Out("Relu", nil, x))
		require.NoError(t, s.Err())
		def, err := g.GraphDef()
		require.NoError(t, err)
		list, err := tf.ParseGraphDef(def)
		require.NoError(t, err)
		nodes := map[string]tf.NodeDef{}
		for _, n := range list {
			nodes[n.Name] = n
		}
		grid, err := placeGrid(nodes, func(name string) ([]int64, bool) {
			o, err := g.Output(name)
			if err != nil {
				return nil, false
			}
			return o.Shape()
		}, "input:0", fmap.Name())
		require.NoError(t, err)

		fs, ok := fmap.Shape()
		require.True(t, ok)
		fh, fw := int(fs[1]), int(fs[2])
		mask := s.Placeholder("mask", tf.Float, tf.Shape{-1, fs[1], fs[2], 1})
		grads, err := g.AddGradients("grad", []tf.Output{s.Out("Sum", nil, s.Out("Mul", nil, fmap, mask),
			s.ConstInt32("axes", []int64{4}, []int32{0, 1, 2, 3}))}, []tf.Output{in})
		require.NoError(t, err)
		require.NoError(t, s.Err())
		sess, err := tf.NewSession(g, tf.SessionOptions{})
		require.NoError(t, err)
		defer sess.Close()
		image := make([]float32, h*w)
		for i := range image {
			image[i] = 1 // positive everywhere, so that Relu passes gradients
		}
		xt, err := tf.NewTensor([]int64{1, h, w, 1}, image)
		require.NoError(t, err)
		defer xt.Close()
		checked, widest := 0, [2]int{}
		type field struct{ y0, y1, x0, x1 int }
		fields := map[[2]int]field{}
		for i := range fh {
			for j := range fw {
				m := make([]float32, fh*fw)
				m[i*fw+j] = 1
				mt, err := tf.NewTensor([]int64{1, int64(fh), int64(fw), 1}, m)
				require.NoError(t, err)
				out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt, mask: mt}, []tf.Output{grads[0]}, nil)
				mt.Close()
				require.NoError(t, err)
				gv, err := tf.Values[float32](out[0])
				out[0].Close()
				require.NoError(t, err)
				f := field{y0: math.MaxInt, x0: math.MaxInt, y1: -1, x1: -1}
				for p, v := range gv {
					if v != 0 {
						y, x := p/int(w), p%int(w)
						f = field{min(f.y0, y), max(f.y1, y), min(f.x0, x), max(f.x1, x)}
					}
				}
				fields[[2]int{i, j}] = f
				widest = [2]int{max(widest[0], f.y1-f.y0), max(widest[1], f.x1-f.x0)}
			}
		}
		for cell, f := range fields {
			// Only fields that the image's edges do not cut show their centre.
			if f.y1-f.y0 != widest[0] || f.x1-f.x0 != widest[1] || f.y0 == 0 || f.x0 == 0 || f.y1 == int(h)-1 || f.x1 == int(w)-1 {
				continue
			}
			cx, cy := grid.Centre(cell[0], cell[1])
			require.InDelta(t, float64(f.x0+f.x1)/2+0.5, cx, 1e-9, "size %v cell %v field %+v", size, cell, f)
			require.InDelta(t, float64(f.y0+f.y1)/2+0.5, cy, 1e-9, "size %v cell %v field %+v", size, cell, f)
			checked++
		}
		require.GreaterOrEqual(t, checked, 2, "size %v: at least two whole receptive fields", size)
		t.Logf("%dx%d: grid %+v, %d of %d fields checked", h, w, grid, checked, fh*fw)
	}
}

// The tiny backbone's stem pads one pixel after the image and convolves 3x3 with stride 2, so
// cell j is centred on input pixel 2j+1, at coordinate 2j+1.5; MobileNetV2's five such stride-2
// layers put cell j at 32j+31.5. Every backbone of the zoo is placed, at its output stride of 32
// (not its input size over its cells: EfficientNet-Lite2's 9 cells of 32 overhang its 260
// pixels).
func TestExplainerGrid(t *testing.T) {
	e, err := New(backbonetest.MustWrite(t, backbonetest.Options{}), Options{})
	require.NoError(t, err)
	require.Equal(t, Grid{X0: 1.5, Y0: 1.5, StepX: 2, StepY: 2}, e.grid)
	e.Close()
	entries, err := models.Manifest()
	require.NoError(t, err)
	for _, entry := range entries {
		name := entry.Name
		e, err := New(real(t, name), Options{})
		require.NoError(t, err, name)
		fs, _ := e.fmap.Shape()
		t.Logf("%s: %dx%d cells on %dx%d, grid %+v", name, fs[2], fs[1], e.w, e.h, e.grid)
		require.Equal(t, 32.0, e.grid.StepX, name)
		require.Equal(t, 32.0, e.grid.StepY, name)
		if name == "mobilenet_v2" {
			require.Equal(t, Grid{X0: 31.5, Y0: 31.5, StepX: 32, StepY: 32}, e.grid)
		}
		e.Close()
	}
}
