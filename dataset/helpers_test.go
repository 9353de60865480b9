package dataset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

var (
	red    = color.RGBA{255, 0, 0, 255}
	green  = color.RGBA{0, 255, 0, 255}
	blue   = color.RGBA{0, 0, 255, 255}
	yellow = color.RGBA{255, 255, 0, 255}
)

// solid returns a w x h image of one colour.
func solid(w, h int, c color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

// quadrants returns a w x h image: top-left red, top-right green,
// bottom-left blue, bottom-right yellow.
func quadrants(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := [2][2]color.RGBA{{red, green}, {blue, yellow}}[2*y/h][2*x/w]
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func encode(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "tiff":
		err = tiff.Encode(&buf, img, nil)
	default:
		t.Fatalf("unknown format %q", format)
	}
	require.NoError(t, err)
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// writeImage encodes img in the format given by the file extension of path.
func writeImage(t *testing.T, path string, img image.Image) string {
	t.Helper()
	format := map[string]string{".png": "png", ".jpg": "jpeg", ".gif": "gif", ".bmp": "bmp", ".tif": "tiff"}[filepath.Ext(path)]
	return writeFile(t, path, encode(t, format, img))
}

// pngHeader returns just a PNG signature and an IHDR chunk (8-bit RGB)
// claiming w x h pixels, with a correct CRC.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)-4))
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// withOrientation inserts an APP1 Exif segment holding orientation o right
// after the SOI marker of a JPEG.
func withOrientation(jpg []byte, o uint16) []byte {
	// Little-endian TIFF: header, IFD0 with one SHORT entry (0x0112), no next IFD.
	tif := []byte("II*\x00")
	tif = binary.LittleEndian.AppendUint32(tif, 8) // IFD0 offset
	tif = binary.LittleEndian.AppendUint16(tif, 1) // entry count
	tif = binary.LittleEndian.AppendUint16(tif, 0x0112)
	tif = binary.LittleEndian.AppendUint16(tif, 3) // SHORT
	tif = binary.LittleEndian.AppendUint32(tif, 1) // count
	tif = binary.LittleEndian.AppendUint16(tif, o)
	tif = binary.LittleEndian.AppendUint16(tif, 0) // value padding
	tif = binary.LittleEndian.AppendUint32(tif, 0) // next IFD
	payload := append([]byte("Exif\x00\x00"), tif...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// unsupportedJPEG returns a Go-encoded JPEG whose Cr sampling factors are
// changed to 2x2 (as in car_vs_bus Image_35.jpg), which image/jpeg rejects.
func unsupportedJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	data := encode(t, "jpeg", img)
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	require.Positive(t, i)
	require.Equal(t, byte(3), data[i+9], "three components")
	data[i+17] = 0x22 // component 3 (Cr): H=2, V=2
	return data
}

// webpLossless returns a lossless WebP (VP8L) of w x h pixels of one opaque
// colour, written by hand: no transforms, no colour cache, and five simple
// one-symbol prefix codes, so that the pixels themselves take no bits.
func webpLossless(w, h int, c color.RGBA) []byte {
	var bits []bool
	put := func(v, n int) { // LSB first
		for i := range n {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	put(w-1, 14)
	put(h-1, 14)
	put(0, 1)                                            // alpha not used
	put(0, 3)                                            // version
	put(0, 1)                                            // no transform
	put(0, 1)                                            // no colour cache
	put(0, 1)                                            // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} { // green, red, blue, alpha, distance
		put(1, 1) // simple code
		put(0, 1) // one symbol
		put(1, 1) // 8-bit symbol
		put(int(sym), 8)
	}
	data := []byte{0x2F}
	for i := 0; i < len(bits); i += 8 {
		var b byte
		for j := 0; j < 8 && i+j < len(bits); j++ {
			if bits[i+j] {
				b |= 1 << j
			}
		}
		data = append(data, b)
	}
	if len(data)%2 == 1 {
		data = append(data, 0) // chunks are padded to even size; the size field stays unpadded
	}
	chunk := binary.LittleEndian.AppendUint32([]byte("VP8L"), uint32(len(data)))
	chunk = append(chunk, data...)
	out := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(chunk)))
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

// requireColor checks pixel (x, y) of im against c within tol.
func requireColor(t *testing.T, im *Image, x, y int, c color.RGBA, tol float32) {
	t.Helper()
	want := [3]float32{float32(c.R), float32(c.G), float32(c.B)}
	got := [3]float32{im.At(x, y, 0), im.At(x, y, 1), im.At(x, y, 2)}
	for i := range 3 {
		require.InDelta(t, want[i], got[i], float64(tol), "pixel (%d,%d): got %v, want %v", x, y, got, want)
	}
}

// requireRGBA checks pixel (x, y) of an image.Image against c within tol.
func requireRGBA(t *testing.T, img image.Image, x, y int, c color.RGBA, tol int) {
	t.Helper()
	b := img.Bounds()
	got := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
	for _, d := range [][2]uint8{{got.R, c.R}, {got.G, c.G}, {got.B, c.B}} {
		require.InDelta(t, int(d[1]), int(d[0]), float64(tol), "pixel (%d,%d): got %v, want %v", x, y, got, c)
	}
}

// makeClasses creates root/<class>/imgNN.png with n[class] small PNGs each.
func makeClasses(t *testing.T, root string, n map[string]int) {
	t.Helper()
	for class, k := range n {
		require.NoError(t, os.MkdirAll(filepath.Join(root, class), 0o755))
		for i := range k {
			writeImage(t, filepath.Join(root, class, "img"+string(rune('a'+i/26))+string(rune('a'+i%26))+".png"),
				solid(4, 3, color.RGBA{uint8(i), 0, 0, 255}))
		}
	}
}

// sharedDatasets finds shared/datasets by walking up from the package folder
// (the project sees it at ../shared beside the repository root).
func sharedDatasets(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	for {
		p := filepath.Join(dir, "shared", "datasets")
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("../shared not found; real-data tests skipped")
		}
		dir = parent
	}
}
