package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // register GIF
	"image/jpeg"
	_ "image/png" // register PNG
	"io"

	"github.com/lessdata/lessdata/internal/files"
	"github.com/rwcarlsen/goexif/exif"
	_ "golang.org/x/image/bmp" // register BMP
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// Image is a decoded RGB image as float32 values 0..255, row-major HWC (3 channels).
type Image struct {
	W, H int
	Pix  []float32 // len W*H*3; pixel (x, y) channel c is Pix[(y*W+x)*3+c]
}

// At returns channel c (0 red, 1 green, 2 blue) of pixel (x, y).
func (im *Image) At(x, y, c int) float32 { return im.Pix[(y*im.W+x)*3+c] }

// FallbackDecoder decodes the bytes of a JPEG that Go's image/jpeg rejects, so
// that another package (TensorFlow's libjpeg-turbo decoder) can handle it. It
// must return the pixels as stored, without applying EXIF orientation:
// DecodeFile applies that.
type FallbackDecoder func(data []byte) (image.Image, error)

// DecodeFile reads and decodes one file: JPEG (baseline or progressive), PNG
// (8/16-bit, grey, palette, alpha), GIF (first frame), BMP, WebP or TIFF. The
// header is checked first and images with more than maxPixels pixels are
// refused before decoding (DefaultMaxPixels when maxPixels is 0). JPEGs that
// Go's decoder rejects (jpeg.UnsupportedError, or jpeg.FormatError) are handed
// to fallback when it is non-nil. EXIF orientation (JPEG and TIFF) is applied;
// a reoriented image is returned as *image.RGBA (8 bits per channel),
// otherwise the decoder's own image type is returned unchanged.
func DecodeFile(path string, maxPixels int64, fallback FallbackDecoder) (image.Image, error) {
	img, o, err := decodeRaw(path, maxPixels, fallback)
	if err != nil {
		return nil, err
	}
	return Upright(img, o), nil
}

// DecodeStored decodes path as DecodeFile does but leaves the image as stored, returning its
// EXIF orientation (1..8) to apply with Upright or Resize: for callers that want both the
// full-size upright image and a model input, each made exactly as LoadImage and DecodeFile make
// them.
func DecodeStored(path string, maxPixels int64, fallback FallbackDecoder) (img image.Image, orientation int, err error) {
	return decodeRaw(path, maxPixels, fallback)
}

// Upright returns an image as stored turned as its EXIF orientation o says (unchanged for o <= 1).
func Upright(img image.Image, o int) image.Image {
	if o <= 1 {
		return img
	}
	return orient(toRGBA(img), o)
}

// LoadImage decodes the file at path as DecodeFile does, composites any
// transparency over white and resizes it to w x h (aspect ratio is not kept)
// with golang.org/x/image/draw's bilinear filter. When shrinking, that filter
// widens to cover every source pixel (antialiased, like PIL's bilinear
// resize, unlike TensorFlow's default tf.image.resize).
func LoadImage(path string, w, h int, maxPixels int64, fallback FallbackDecoder) (*Image, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("load %s: target size %dx%d must be positive", path, w, h)
	}
	img, o, err := decodeRaw(path, maxPixels, fallback)
	if err != nil {
		return nil, err
	}
	return Resize(img, o, w, h), nil
}

// Resize is LoadImage's second half, the one path from an image as stored (with its EXIF
// orientation o) to a w x h model input: transparency composited over white, bilinear scaling,
// then the orientation applied.
func Resize(img image.Image, o, w, h int) *Image {
	// Scale the stored image first and reorient the small result: cheaper, and
	// the separable bilinear filter commutes with flips and transposes.
	tw, th := w, h
	if o >= 5 {
		tw, th = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	for i := range dst.Pix {
		dst.Pix[i] = 0xFF // white, so draw.Over composites alpha on white
	}
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Over, nil)
	if o > 1 {
		dst = orient(dst, o)
	}
	out := &Image{W: w, H: h, Pix: make([]float32, w*h*3)}
	for y := range h {
		row := dst.Pix[y*dst.Stride:]
		for x := range w {
			q := out.Pix[(y*w+x)*3:]
			q[0], q[1], q[2] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
		}
	}
	return out
}

// decodeRaw decodes path without reorienting it and returns the EXIF
// orientation (1..8) to apply.
func decodeRaw(path string, maxPixels int64, fallback FallbackDecoder) (img image.Image, o int, err error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not take the program down
			img, o, err = nil, 0, fmt.Errorf("decode %s: decoder panicked: %v", path, r)
		}
	}()
	data, err := files.ReadRegular(path)
	if err != nil {
		return nil, 0, fmt.Errorf("decode: %w", err)
	}
	isJPEG := bytes.HasPrefix(data, []byte{0xFF, 0xD8})
	var ji jpegInfo
	if isJPEG {
		ji, _ = scanJPEG(bufReader(bytes.NewReader(data))) // best effort: size and EXIF
	}
	w, h, format, err := imageHeader(bytes.NewReader(data))
	if err != nil {
		if !isJPEG || ji.w <= 0 || ji.h <= 0 || !goJPEGRejects(err) {
			return nil, 0, fmt.Errorf("decode %s: %w", path, err)
		}
		w, h = ji.w, ji.h // Go rejected the header, but the frame size is known
	}
	if err := checkPixels(w, h, maxPixels); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", path, err)
	}
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		if !isJPEG {
			return nil, 0, fmt.Errorf("decode %s: %w", path, err)
		}
		// libjpeg (TensorFlow's decoder) prints to stderr on a broken file, so only whole files
		// reach it.
		if serr := checkJPEGStructure(data); serr != nil {
			return nil, 0, fmt.Errorf("decode %s: truncated or corrupt JPEG (%v); re-save or remove the file", path, serr)
		}
		if !goJPEGRejects(err) {
			return nil, 0, fmt.Errorf("decode %s: %w", path, err)
		}
		if fallback == nil {
			return nil, 0, fmt.Errorf("decode %s: Go's JPEG decoder rejects it (%w); it needs the TensorFlow JPEG decoder "+
				"(pass a fallback decoder), or re-save the file (e.g. as PNG)", path, err)
		}
		if img, err = fallback(data); err != nil {
			return nil, 0, fmt.Errorf("decode %s with the fallback JPEG decoder: %w", path, err)
		}
		if img == nil {
			return nil, 0, fmt.Errorf("decode %s: the fallback JPEG decoder returned no image", path)
		}
		if err := checkPixels(img.Bounds().Dx(), img.Bounds().Dy(), maxPixels); err != nil {
			return nil, 0, fmt.Errorf("decode %s with the fallback JPEG decoder: %w", path, err)
		}
	}
	o = 1
	switch {
	case isJPEG && ji.exif != nil:
		o = exifOrientation(ji.exif)
	case format == "tiff":
		o = exifOrientation(data)
	}
	return img, o, nil
}

// checkJPEGStructure walks a JPEG's markers from SOI to EOI, skipping the entropy-coded data of
// each scan. It fails on a file that ends before EOI or holds a marker no JPEG uses.
func checkJPEGStructure(data []byte) error {
	if !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		return errors.New("no start-of-image marker")
	}
	errEnd := errors.New("the file ends before the end-of-image marker")
	i, inScan := 2, false
	for {
		if inScan { // entropy-coded data: 0xFF is followed by 0x00 (stuffing), RSTn or a marker
			j := bytes.IndexByte(data[i:], 0xFF)
			if j < 0 || i+j+1 >= len(data) {
				return errEnd
			}
			i += j
			if n := data[i+1]; n == 0x00 || (n >= 0xD0 && n <= 0xD7) {
				i += 2
				continue
			}
		}
		if i >= len(data) {
			return errEnd
		}
		if data[i] != 0xFF {
			return fmt.Errorf("byte %d is %#02x where a marker should be", i, data[i])
		}
		for i < len(data) && data[i] == 0xFF { // fill bytes may precede a marker
			i++
		}
		if i >= len(data) {
			return errEnd
		}
		m := data[i]
		i++
		switch {
		case m == 0xD9:
			return nil
		case m == 0x01:
			continue
		case m >= 0xD0 && m <= 0xD7: // a restart marker: more scan data follows
			inScan = true
			continue
		case m < 0xC0 || m == 0xD8:
			return fmt.Errorf("invalid marker %#02x at byte %d", m, i-2)
		}
		if i+2 > len(data) {
			return errEnd
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 {
			return fmt.Errorf("bad segment length at byte %d", i)
		}
		if i+n > len(data) {
			return errEnd
		}
		i += n
		inScan = m == 0xDA
	}
}

// goJPEGRejects reports whether err is image/jpeg refusing a file that
// another JPEG decoder may still read.
func goJPEGRejects(err error) bool {
	var ue jpeg.UnsupportedError
	var fe jpeg.FormatError
	return errors.As(err, &ue) || errors.As(err, &fe)
}

// imageHeader reads the format and dimensions from the start of r without
// decoding pixels. For a JPEG that Go's decoder does not support
// (jpeg.UnsupportedError) the dimensions come from the frame (SOF) marker.
func imageHeader(r io.ReadSeeker) (w, h int, format string, err error) {
	cfg, format, err := image.DecodeConfig(bufReader(r))
	if err == nil {
		return cfg.Width, cfg.Height, format, nil
	}
	if errors.Is(err, image.ErrFormat) {
		return 0, 0, "", errors.New("not a supported image (JPEG, PNG, GIF, BMP, WebP, TIFF)")
	}
	var ue jpeg.UnsupportedError
	if errors.As(err, &ue) {
		if _, serr := r.Seek(0, io.SeekStart); serr == nil {
			if ji, jerr := scanJPEG(bufReader(r)); jerr == nil && ji.w > 0 && ji.h > 0 {
				return ji.w, ji.h, "jpeg", nil
			}
		}
	}
	return 0, 0, format, fmt.Errorf("unreadable %s header: %w", format, err)
}

func checkPixels(w, h int, maxPixels int64) error {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if w <= 0 || h <= 0 {
		return fmt.Errorf("invalid image size %dx%d", w, h)
	}
	if n := int64(w) * int64(h); n > maxPixels {
		return fmt.Errorf("image is %dx%d = %d pixels, more than the limit of %d; shrink the image or raise MaxPixels",
			w, h, n, maxPixels)
	}
	return nil
}

// jpegInfo is what scanJPEG finds before the first scan: the frame size and
// the first Exif APP1 payload ("Exif\x00\x00" + TIFF data).
type jpegInfo struct {
	w, h int
	exif []byte
}

// scanJPEG walks the JPEG marker segments up to the first SOS (start of scan).
func scanJPEG(r *bufio.Reader) (jpegInfo, error) {
	var ji jpegInfo
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil || b != [2]byte{0xFF, 0xD8} {
		return ji, errors.New("not a JPEG")
	}
	for {
		c, err := r.ReadByte()
		if err != nil {
			return ji, err
		}
		if c != 0xFF {
			return ji, fmt.Errorf("JPEG: expected a marker, found byte %#02x", c)
		}
		m := byte(0xFF)
		for m == 0xFF && err == nil { // 0xFF fill bytes may precede a marker
			m, err = r.ReadByte()
		}
		if err != nil {
			return ji, err
		}
		switch {
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image
			if ji.w == 0 && ji.h == 0 {
				return ji, errors.New("JPEG: no frame header before the image data")
			}
			return ji, nil
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return ji, err
		}
		n := int(binary.BigEndian.Uint16(b[:])) - 2
		if n < 0 {
			return ji, errors.New("JPEG: bad segment length")
		}
		isSOF := m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
		isExif := m == 0xE1 && ji.exif == nil
		if !isSOF && !isExif {
			if _, err := r.Discard(n); err != nil {
				return ji, err
			}
			continue
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(r, seg); err != nil {
			return ji, err
		}
		if isSOF && n >= 5 && ji.w == 0 && ji.h == 0 {
			ji.h, ji.w = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
		}
		if isExif && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			ji.exif = seg
		}
	}
}

// exifOrientation returns the EXIF orientation (1..8) found in raw, which is
// an Exif APP1 payload or a whole TIFF file; 1 when absent or unreadable.
func exifOrientation(raw []byte) (o int) {
	defer func() {
		if recover() != nil {
			o = 1
		}
	}()
	x, _ := exif.Decode(bytes.NewReader(raw)) // non-critical errors still return x
	if x == nil {
		return 1
	}
	tag, err := x.Get(exif.Orientation)
	if err != nil {
		return 1
	}
	if v, err := tag.Int(0); err == nil && v >= 1 && v <= 8 {
		return v
	}
	return 1
}

// toRGBA converts img to an *image.RGBA whose bounds start at (0, 0).
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Bounds(), img, b.Min, draw.Src)
	return m
}

// orient returns src transformed for display according to EXIF orientation
// o: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
// 7 transverse, 8 rotate 90 anticlockwise. src bounds must start at (0, 0).
func orient(src *image.RGBA, o int) *image.RGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			sx, sy := x, y
			switch o {
			case 2:
				sx = sw - 1 - x
			case 3:
				sx, sy = sw-1-x, sh-1-y
			case 4:
				sy = sh - 1 - y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, sh-1-x
			case 7:
				sx, sy = sw-1-y, sh-1-x
			case 8:
				sx, sy = sw-1-y, x
			}
			copy(dst.Pix[y*dst.Stride+4*x:][:4], src.Pix[sy*src.Stride+4*sx:][:4])
		}
	}
	return dst
}
