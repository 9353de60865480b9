package augment

import (
	"fmt"
	"math"
)

// Transform describes one drawn transform (for tests and previews). See
// the package documentation for the exact conventions. The zero value is
// the identity: a zero Zx, Zy or Brightness is treated as 1.
type Transform struct {
	// Theta is the rotation in degrees; positive turns content clockwise on
	// screen (y down).
	Theta float64
	// Tx is the shift in x (columns, pixels); positive moves content right.
	Tx float64
	// Ty is the shift in y (rows, pixels); positive moves content down.
	Ty float64
	// Shear is the Keras shear angle in degrees.
	Shear float64
	// Zx and Zy are Keras zoom factors for x and y: they scale the sampling
	// coordinate, so values < 1 enlarge the content and values > 1 shrink it.
	Zx, Zy float64
	// FlipH mirrors left-right, FlipV top-bottom, after the affine part.
	FlipH, FlipV bool
	// Brightness multiplies all channels; the result is clipped to [0, 255]
	// whenever the factor is not 1.
	Brightness float64
}

// affine maps an output pixel (x, y) to its source position:
// sx = m00·x + m01·y + m02, sy = m10·x + m11·y + m12.
type affine struct{ m00, m01, m02, m10, m11, m12 float64 }

func orOne(v float64) float64 {
	if v == 0 {
		return 1
	}
	return v
}

// matrix returns the inverse (output → source) map of t for a w×h image,
// flips included.
func (t Transform) matrix(w, h int) affine {
	zx, zy := orOne(t.Zx), orOne(t.Zy)
	c, s := 1.0, 0.0
	if t.Theta != 0 {
		s, c = math.Sincos(t.Theta * math.Pi / 180)
	}
	cs, ss := 1.0, 0.0
	if t.Shear != 0 {
		ss, cs = math.Sincos(t.Shear * math.Pi / 180)
	}
	// R = [[c, s], [-s, c]], S = [[cs, 0], [-ss, 1]], Z = diag(zx, zy):
	// Keras' rotation, shear and zoom matrices with (row, col) → (x, y).
	a00 := (c*cs - s*ss) * zx
	a01 := s * zy
	a10 := (-s*cs - c*ss) * zx
	a11 := c * zy
	cx, cy := float64(w-1)/2, float64(h-1)/2
	// p_src = A·(p − ctr) − R·t + ctr
	o0 := -(c*t.Tx + s*t.Ty) + cx - (a00*cx + a01*cy)
	o1 := -(c*t.Ty - s*t.Tx) + cy - (a10*cx + a11*cy)
	// Flips act on the output position before the affine map.
	fx, kx := 1.0, 0.0
	if t.FlipH {
		fx, kx = -1, float64(w-1)
	}
	fy, ky := 1.0, 0.0
	if t.FlipV {
		fy, ky = -1, float64(h-1)
	}
	return affine{
		m00: a00 * fx, m01: a01 * fy, m02: a00*kx + a01*ky + o0,
		m10: a10 * fx, m11: a11 * fy, m12: a10*kx + a11*ky + o1,
	}
}

// post is a per-channel linear map v·scale + off applied after brightness.
type post struct{ scale, off [channels]float32 }

// Apply writes src transformed by t into dst: affine transform with
// bilinear sampling and the given fill mode (cval on the 0..255 scale),
// flips and brightness. No rescaling or standardisation is done. dst is
// resized to src's size, reusing dst.Pix when it is large enough; dst may
// be src itself (a temporary copy is made then). Apply panics on an
// invalid fill mode.
func Apply(dst, src *Image, t Transform, fill FillMode, cval float32) {
	if !fill.valid() {
		panic(fmt.Sprintf("augment: invalid fill mode %v", fill))
	}
	n := pixLen(src)
	in := src.Pix[:n]
	if aliases(dst, src) {
		in = append([]float32(nil), in...)
	}
	prepare(dst, src)
	render(dst.Pix, in, src.W, src.H, t, fill, cval, nil)
}

// render samples in (w×h) through t into out, then applies brightness and
// the optional post map row by row.
func render(out, in []float32, w, h int, t Transform, fill FillMode, cval float32, pp *post) {
	if w == 0 || h == 0 {
		return
	}
	m := t.matrix(w, h)
	k := float32(orOne(t.Brightness))
	stride := w * channels
	for y := range h {
		fy := float64(y)
		bx := m.m01*fy + m.m02
		by := m.m11*fy + m.m12
		row := out[y*stride : (y+1)*stride]
		for x := range w {
			fx := float64(x)
			sx := m.m00*fx + bx
			sy := m.m10*fx + by
			x0 := int(sx)
			if float64(x0) > sx {
				x0--
			}
			y0 := int(sy)
			if float64(y0) > sy {
				y0--
			}
			o := row[x*channels : x*channels+channels : x*channels+channels]
			if uint(x0) < uint(w-1) && uint(y0) < uint(h-1) {
				ax := float32(sx - float64(x0))
				ay := float32(sy - float64(y0))
				i := (y0*w + x0) * channels
				p := in[i : i+2*channels : i+2*channels]
				q := in[i+stride : i+stride+2*channels : i+stride+2*channels]
				t0 := p[0] + ax*(p[3]-p[0])
				t1 := p[1] + ax*(p[4]-p[1])
				t2 := p[2] + ax*(p[5]-p[2])
				b0 := q[0] + ax*(q[3]-q[0])
				b1 := q[1] + ax*(q[4]-q[1])
				b2 := q[2] + ax*(q[5]-q[2])
				o[0] = t0 + ay*(b0-t0)
				o[1] = t1 + ay*(b1-t1)
				o[2] = t2 + ay*(b2-t2)
			} else {
				sampleEdge(o, in, w, h, sx, sy, fill, cval)
			}
		}
		switch {
		case k != 1 && pp != nil:
			for i := 0; i+channels <= len(row); i += channels {
				o := row[i : i+channels : i+channels]
				o[0] = clip255(o[0]*k)*pp.scale[0] + pp.off[0]
				o[1] = clip255(o[1]*k)*pp.scale[1] + pp.off[1]
				o[2] = clip255(o[2]*k)*pp.scale[2] + pp.off[2]
			}
		case k != 1:
			for i, v := range row {
				row[i] = clip255(v * k)
			}
		case pp != nil:
			for i := 0; i+channels <= len(row); i += channels {
				o := row[i : i+channels : i+channels]
				o[0] = o[0]*pp.scale[0] + pp.off[0]
				o[1] = o[1]*pp.scale[1] + pp.off[1]
				o[2] = o[2]*pp.scale[2] + pp.off[2]
			}
		}
	}
}

// clip255 clips v to [0, 255].
func clip255(v float32) float32 {
	if v > 255 {
		return 255
	}
	if v < 0 {
		return 0
	}
	return v
}

// edgeEps is the tolerance for Constant mode: sampling points this close
// outside the image (rounding noise, e.g. cos 90° ≠ 0) still use the edge.
const edgeEps = 1e-6

// maxCoord bounds sampling coordinates before integer conversion.
const maxCoord = 1 << 40

// sampleEdge is the slow path of render for sampling points whose 2×2
// neighbourhood is not entirely inside the image.
func sampleEdge(o, in []float32, w, h int, sx, sy float64, fill FillMode, cval float32) {
	if fill == Constant {
		if !(sx >= -edgeEps && sx <= float64(w-1)+edgeEps && sy >= -edgeEps && sy <= float64(h-1)+edgeEps) {
			o[0], o[1], o[2] = cval, cval, cval
			return
		}
		sx = min(max(sx, 0), float64(w-1))
		sy = min(max(sy, 0), float64(h-1))
	} else if math.IsNaN(sx) || math.IsNaN(sy) {
		o[0], o[1], o[2] = cval, cval, cval
		return
	}
	sx = min(max(sx, -maxCoord), maxCoord)
	sy = min(max(sy, -maxCoord), maxCoord)
	fx, fy := math.Floor(sx), math.Floor(sy)
	ax, ay := float32(sx-fx), float32(sy-fy)
	x0, y0 := int(fx), int(fy)
	xa, xb := mapIndex(x0, w, fill), mapIndex(x0+1, w, fill)
	ya, yb := mapIndex(y0, h, fill), mapIndex(y0+1, h, fill)
	p00 := in[(ya*w+xa)*channels:]
	p01 := in[(ya*w+xb)*channels:]
	p10 := in[(yb*w+xa)*channels:]
	p11 := in[(yb*w+xb)*channels:]
	for ch := range channels {
		top := p00[ch] + ax*(p01[ch]-p00[ch])
		bot := p10[ch] + ax*(p11[ch]-p10[ch])
		o[ch] = top + ay*(bot-top)
	}
}

// mapIndex maps an integer index to [0, n) according to the fill mode
// (Constant clamps: its out-of-range points were handled by the caller).
func mapIndex(i, n int, fill FillMode) int {
	if i >= 0 && i < n {
		return i
	}
	switch fill {
	case Reflect:
		if i < 0 && i >= -n {
			return -1 - i
		}
		if i >= n && i < 2*n {
			return 2*n - 1 - i
		}
		p := 2 * n
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - 1 - i
		}
		return i
	case Wrap:
		if i < 0 && i >= -n {
			return i + n
		}
		if i >= n && i < 2*n {
			return i - n
		}
		i %= n
		if i < 0 {
			i += n
		}
		return i
	default: // Nearest, Constant
		if i < 0 {
			return 0
		}
		return n - 1
	}
}
