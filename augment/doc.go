// Package augment reproduces the random image augmentation of Keras'
// ImageDataGenerator (keras_preprocessing) for small image-classification
// datasets: rotation, shifts, shear, zoom, flips, brightness, fill modes,
// rescaling and feature-wise standardisation.
//
// # Conventions
//
// Images are RGB, float32 in 0..255, row-major HWC (see [Image]). Pixel
// (x, y) is column x, row y; y grows downwards (screen orientation). The
// image centre is ((W-1)/2, (H-1)/2), the true centre of the pixel grid.
// (Keras' transform_matrix_offset_center uses size/2+0.5, which is exactly
// one pixel right of and below the true centre; we deliberately use the
// exact centre so that a 90° rotation of a square image is an exact pixel
// permutation and rotations/zooms do not drift the image by one pixel.)
//
// A [Transform] is applied like Keras' apply_affine_transform: every output
// pixel is sampled from the source by inverse mapping with bilinear
// interpolation (Keras: scipy.ndimage order=1), source coordinates outside
// the image are resolved with the [FillMode]. The inverse map is, with
// p the output position relative to the centre,
//
//	p_src = R · (S · Z · p − t) + centre
//
// which is Keras' rotation·shift·shear·zoom product rewritten from Keras'
// (row, col) axes into (x, y) axes:
//
//   - Theta (degrees): positive Theta turns the content clockwise on
//     screen (the source's right edge moves to the bottom).
//   - Tx, Ty (pixels): positive Tx moves content right, positive Ty moves
//     content down. Keras' tx is the row shift with the opposite sign
//     (Keras tx = −Ty, Keras ty = −Tx); since the ranges are symmetric the
//     distribution is identical. As in Keras, the shift is applied inside
//     the rotation, i.e. with Theta ≠ 0 the shift vector is rotated too.
//   - Shear (degrees): source x is scaled by cos(Shear) and source
//     y = y − sin(Shear)·x, so for positive Shear horizontal lines descend
//     to the right while vertical lines stay vertical (Keras' shear matrix).
//   - Zx, Zy: Keras' zoom semantics, the factor multiplies the *sampling*
//     coordinate: Z < 1 zooms in (content is enlarged by 1/Z), Z > 1 zooms
//     out (content shrinks, borders are filled). Zx acts on x (columns),
//     Zy on y (rows); Keras' zx/zy are the row/column factors, but both are
//     drawn independently from the same range so this is only a naming
//     difference.
//   - FlipH / FlipV are applied after the affine transform (as Keras does):
//     out(x, y) = affine(W−1−x, y) resp. affine(x, H−1−y).
//   - Brightness multiplies all channels by the factor and clips to
//     [0, 255], like PIL's ImageEnhance.Brightness used by Keras (Keras'
//     extra min/max rescaling and uint8 quantisation are not reproduced).
//
// The full pipeline of [Augmenter.Random] is: affine + fill, flips,
// brightness (on 0..255 values), then [Augmenter.Standardize]: multiply by
// Rescale, subtract the feature-wise mean, divide by (std + 1e-6), which is
// the order of Keras' random_transform followed by standardize.
package augment
