package tfdecode

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/shared"
)

func TestDecodeMatchesGo(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			src.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 200, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: 100}))
	got, err := Decode(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 64, 48), got.Bounds())
	ref, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	// libjpeg-turbo and Go upsample chroma differently, so pixels differ a little; a channel swap
	// or a shifted image would differ a lot.
	var sum, worst int
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			r1, g1, b1, _ := got.At(x, y).RGBA()
			r2, g2, b2, _ := ref.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				sum += max(d, -d)
				worst = max(worst, d, -d)
			}
		}
	}
	require.Less(t, float64(sum)/(64*48*3), 4.0, "mean difference from Go's decoder")
	require.Less(t, worst, 24, "largest difference from Go's decoder")
}

func TestDecodeRejectsGarbage(t *testing.T) {
	_, err := Decode([]byte("\xff\xd8 not really a jpeg"))
	require.Error(t, err)
	_, err = Decode(nil)
	require.Error(t, err)
}

// Image_35.jpg is a valid progressive JPEG that Go's image/jpeg refuses.
func TestDecodeProgressiveGoRejects(t *testing.T) {
	path := shared.Need(t, "datasets/car_vs_bus/train/car/Image_35.jpg")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = jpeg.Decode(bytes.NewReader(data))
	require.Error(t, err, "Go's decoder accepts the file now; the fallback test proves nothing")
	img, err := Decode(data)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 560, 373), img.Bounds())
	small, err := dataset.LoadImage(path, 64, 64, 0, Decode)
	require.NoError(t, err)
	var sum float64
	for _, v := range small.Pix {
		sum += float64(v)
	}
	require.Greater(t, sum/float64(len(small.Pix)), 10.0, "decoded image is black")
}
