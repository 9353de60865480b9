package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeFormats(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.jpg", "a.gif", "a.bmp", "a.tif"} {
		t.Run(name, func(t *testing.T) {
			p := writeImage(t, filepath.Join(dir, name), solid(20, 10, red))
			img, err := DecodeFile(p, 0, nil)
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, 20, 10), img.Bounds())
			im, err := LoadImage(p, 8, 6, 0, nil)
			require.NoError(t, err)
			require.Equal(t, 8, im.W)
			require.Equal(t, 6, im.H)
			require.Len(t, im.Pix, 8*6*3)
			for _, xy := range [][2]int{{0, 0}, {7, 5}, {4, 3}} {
				requireColor(t, im, xy[0], xy[1], red, 3)
			}
		})
	}
}

func TestDecodeWebP(t *testing.T) {
	p := writeFile(t, filepath.Join(t.TempDir(), "a.webp"), webpLossless(5, 3, blue))
	img, err := DecodeFile(p, 0, nil)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 5, 3), img.Bounds())
	im, err := LoadImage(p, 4, 4, 0, nil)
	require.NoError(t, err)
	requireColor(t, im, 2, 2, blue, 0)
	_, err = Probe(p, 0)
	require.NoError(t, err)
}

func TestDecodePNGVariants(t *testing.T) {
	dir := t.TempDir()

	rgb16 := image.NewRGBA64(image.Rect(0, 0, 6, 4))
	gray16 := image.NewGray16(image.Rect(0, 0, 6, 4))
	for y := range 4 {
		for x := range 6 {
			rgb16.SetRGBA64(x, y, color.RGBA64{0xFFFF, 0x8080, 0x0101, 0xFFFF})
			gray16.SetGray16(x, y, color.Gray16{0x6464})
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 6, 4))
	for i := range gray.Pix {
		gray.Pix[i] = 100
	}
	pal := image.NewPaletted(image.Rect(0, 0, 6, 4), color.Palette{red, blue})
	for y := range 4 {
		for x := 3; x < 6; x++ {
			pal.SetColorIndex(x, y, 1) // right half blue
		}
	}
	// Left half fully transparent, right half half-transparent blue.
	alpha := image.NewNRGBA(image.Rect(0, 0, 6, 4))
	for y := range 4 {
		for x := 3; x < 6; x++ {
			alpha.SetNRGBA(x, y, color.NRGBA{0, 0, 255, 128})
		}
	}

	tests := []struct {
		name        string
		img         image.Image
		left, right color.RGBA
	}{
		{"rgb16", rgb16, color.RGBA{255, 128, 1, 255}, color.RGBA{255, 128, 1, 255}},
		{"gray8", gray, color.RGBA{100, 100, 100, 255}, color.RGBA{100, 100, 100, 255}},
		{"gray16", gray16, color.RGBA{100, 100, 100, 255}, color.RGBA{100, 100, 100, 255}},
		{"palette", pal, red, blue},
		{"alpha", alpha, color.RGBA{255, 255, 255, 255}, color.RGBA{127, 127, 255, 255}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeImage(t, filepath.Join(dir, tc.name+".png"), tc.img)
			im, err := LoadImage(p, 6, 4, 0, nil) // same size: pixels map 1:1
			require.NoError(t, err)
			requireColor(t, im, 0, 1, tc.left, 1)
			requireColor(t, im, 5, 2, tc.right, 1)
			if tc.name == "gray8" {
				require.Equal(t, im.At(2, 2, 0), im.At(2, 2, 1))
				require.Equal(t, im.At(2, 2, 0), im.At(2, 2, 2))
			}
		})
	}
}

func TestEXIFOrientation(t *testing.T) {
	// Stored 64x32 image: TL red, TR green, BL blue, BR yellow. For each EXIF
	// orientation, the colours expected at the displayed top-left and
	// top-right quadrants (worked out by hand from the EXIF definitions).
	stored := encode(t, "jpeg", quadrants(64, 32))
	tests := []struct {
		o       uint16
		tl, tr  color.RGBA
		swapped bool
	}{
		{1, red, green, false},
		{2, green, red, false},      // mirrored left-right
		{3, yellow, blue, false},    // rotated 180
		{4, blue, yellow, false},    // mirrored top-bottom
		{5, red, blue, true},        // transposed
		{6, blue, red, true},        // rotated 90 clockwise
		{7, yellow, green, true},    // transversed
		{8, green, yellow, true},    // rotated 90 anticlockwise
		{0, red, green, false},      // invalid value: ignored
		{9, red, green, false},      // invalid value: ignored
		{0x0106, red, green, false}, // invalid value: ignored
	}
	dir := t.TempDir()
	for _, tc := range tests {
		p := writeFile(t, filepath.Join(dir, "o.jpg"), withOrientation(stored, tc.o))
		w, h := 64, 32
		if tc.swapped {
			w, h = 32, 64
		}
		img, err := DecodeFile(p, 0, nil)
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, w, h), img.Bounds(), "orientation %d", tc.o)
		requireRGBA(t, img, w/4, h/4, tc.tl, 40)
		requireRGBA(t, img, 3*w/4, h/4, tc.tr, 40)

		im, err := LoadImage(p, w/4, h/4, 0, nil)
		require.NoError(t, err)
		require.Equal(t, [2]int{w / 4, h / 4}, [2]int{im.W, im.H})
		requireColor(t, im, w/16, h/16, tc.tl, 40)
		requireColor(t, im, 3*w/16, h/16, tc.tr, 40)
	}
}

func TestJPEGFallback(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "odd.jpg"), unsupportedJPEG(t, solid(40, 24, red)))

	// Without a fallback: a clear error, but the header scan accepts it.
	_, err := Probe(p, 0)
	require.NoError(t, err)
	_, err = DecodeFile(p, 0, nil)
	require.ErrorContains(t, err, "TensorFlow")
	require.ErrorContains(t, err, "odd.jpg")

	// With a fallback: it gets the file's bytes and its image is used.
	calls := 0
	fb := func(data []byte) (image.Image, error) {
		calls++
		require.True(t, bytes.HasPrefix(data, []byte{0xFF, 0xD8}))
		return solid(40, 24, green), nil
	}
	im, err := LoadImage(p, 10, 6, 0, fb)
	require.NoError(t, err)
	require.Equal(t, 1, calls)
	requireColor(t, im, 5, 3, green, 0)

	// The fallback is not used for JPEGs Go can read, nor for other formats.
	ok := writeImage(t, filepath.Join(dir, "ok.jpg"), solid(8, 8, red))
	_, err = LoadImage(ok, 4, 4, 0, fb)
	require.NoError(t, err)
	bad := writeFile(t, filepath.Join(dir, "bad.png"), append(pngHeader(8, 8), "garbage"...))
	_, err = LoadImage(bad, 4, 4, 0, fb)
	require.Error(t, err)
	require.Equal(t, 1, calls)

	// Fallback errors are reported with the path; the pixel limit applies before it is called.
	_, err = DecodeFile(p, 0, func([]byte) (image.Image, error) { return nil, errors.New("boom") })
	require.ErrorContains(t, err, "boom")
	require.ErrorContains(t, err, "odd.jpg")
	_, err = DecodeFile(p, 100, fb)
	require.ErrorContains(t, err, "pixels")
	require.Equal(t, 1, calls)
}

func TestDecodeRefuses(t *testing.T) {
	dir := t.TempDir()
	huge := writeFile(t, filepath.Join(dir, "huge.png"), pngHeader(30000, 30000))
	_, err := DecodeFile(huge, 0, nil)
	require.ErrorContains(t, err, "30000x30000 = 900000000 pixels")
	_, err = LoadImage(huge, 4, 4, 0, nil)
	require.ErrorContains(t, err, "huge.png")

	small := writeImage(t, filepath.Join(dir, "small.png"), solid(20, 10, red))
	_, err = DecodeFile(small, 199, nil)
	require.ErrorContains(t, err, "more than the limit of 199")
	_, err = DecodeFile(small, 200, nil)
	require.NoError(t, err)

	for name, data := range map[string][]byte{
		"empty.jpg":     nil,
		"text.jpg":      []byte("this is not an image\n"),
		"truncated.jpg": encode(t, "jpeg", solid(64, 64, red))[:300],
		"soi-only.jpg":  {0xFF, 0xD8},
	} {
		p := writeFile(t, filepath.Join(dir, name), data)
		_, err := DecodeFile(p, 0, func([]byte) (image.Image, error) { return solid(1, 1, red), nil })
		require.Error(t, err, name)
		require.ErrorContains(t, err, name)
	}
	_, err = LoadImage(filepath.Join(dir, "missing.png"), 4, 4, 0, nil)
	require.ErrorContains(t, err, "missing.png")
	_, err = LoadImage(small, 0, 4, 0, nil)
	require.ErrorContains(t, err, "must be positive")
}

func TestOneByOne(t *testing.T) {
	p := writeImage(t, filepath.Join(t.TempDir(), "dot.png"), solid(1, 1, green))
	im, err := LoadImage(p, 5, 7, 0, nil)
	require.NoError(t, err)
	requireColor(t, im, 0, 0, green, 0)
	requireColor(t, im, 4, 6, green, 0)
}
