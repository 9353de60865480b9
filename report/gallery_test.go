package report

import (
	"context"
	"encoding/csv"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHighlightMultiClass(t *testing.T) {
	classes := []string{"cat", "dog", "fox"}
	paths := []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg", "g.jpg"}
	labels := []int{0, 0, 1, 1, 2, 0, 1}
	probs := [][]float32{
		{0.9, 0.05, 0.05}, // right, sure
		{0.2, 0.7, 0.1},   // wrong: loss -ln 0.2
		{0.1, 0.6, 0.3},   // right
		{0.05, 0.05, 0.9}, // wrong: loss -ln 0.05, the worst
		{0.5, 0.5, 0.0},   // wrong (argmax tie to cat): true probability 0, loss floored
		{0.6, 0.3, 0.1},   // right, less sure than a.jpg
		{0.1, 0.8, 0.1},   // right, surer than c.jpg
	}
	h, err := Highlight(classes, paths, labels, probs, 0, 0, 1)
	require.NoError(t, err)
	var order []string
	for _, e := range h.Errors {
		order = append(order, e.Path)
		require.False(t, e.Correct())
	}
	require.Equal(t, []string{"e.jpg", "d.jpg", "b.jpg"}, order)
	require.InDelta(t, -math.Log(1e-7), h.Errors[0].Loss, 1e-9)
	require.Equal(t, "cat", h.Errors[0].Predicted)
	require.InDelta(t, 0.5, h.Errors[0].Probability, 1e-7)
	require.InDelta(t, -math.Log(0.05), h.Errors[1].Loss, 1e-6)

	require.Len(t, h.Confident, 3)
	require.Equal(t, "cat", h.Confident[0].Class)
	require.Len(t, h.Confident[0].Examples, 1, "capped at perClass")
	require.Equal(t, "a.jpg", h.Confident[0].Examples[0].Path)
	require.Equal(t, "g.jpg", h.Confident[1].Examples[0].Path)
	require.Empty(t, h.Confident[2].Examples, "no fox is right")

	all, err := Highlight(classes, paths, labels, probs, 0, 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"a.jpg", "f.jpg"}, []string{all.Confident[0].Examples[0].Path, all.Confident[0].Examples[1].Path})

	_, err = Highlight(classes, paths[:3], labels, probs, 0, 0, 1)
	require.Error(t, err)
	_, err = Highlight(classes, paths, labels, probs, 0, 0, 0)
	require.Error(t, err)
	_, err = Highlight(classes, paths, []int{0, 0, 1, 1, 3, 0, 1}, probs, 0, 0, 1)
	require.Error(t, err)
}

func TestHighlightBinaryThreshold(t *testing.T) {
	// At threshold 0.3 the second image (p 0.4 of malignant) is called malignant: an error.
	h, err := Highlight(binClasses, []string{"x", "y"}, []int{1, 0}, twoClass(0.9, 0.4), 1, 0.3, 5)
	require.NoError(t, err)
	require.Len(t, h.Errors, 1)
	require.Equal(t, "y", h.Errors[0].Path)
	require.Equal(t, "malignant", h.Errors[0].Predicted)
	require.InDelta(t, 0.4, h.Errors[0].Probability, 1e-7)
}

// writeHalves writes a w×h PNG, red on the left half and blue on the right.
func writeHalves(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{220, 20, 20, 255}
			if x >= w/2 {
				c = color.RGBA{20, 20, 220, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, jpeg.Encode(f, img, &jpeg.Options{Quality: 95}))
	require.NoError(t, f.Close())
}

func TestWriteThumbnail(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wide.jpg")
	writeHalves(t, src, 300, 200)
	for _, name := range []string{"t.jpg", "t.png"} {
		dst := filepath.Join(dir, name)
		require.NoError(t, WriteThumbnail(src, dst, 60, nil))
		f, err := os.Open(dst)
		require.NoError(t, err)
		img, format, err := image.Decode(f)
		f.Close()
		require.NoError(t, err)
		require.Equal(t, strings.TrimPrefix(filepath.Ext(name), ".")[:1], format[:1], "jpeg or png by extension")
		require.Equal(t, image.Pt(60, 40), img.Bounds().Size(), "aspect ratio kept")
		r, _, b, _ := img.At(5, 20).RGBA()
		require.Greater(t, r>>8, uint32(150))
		require.Less(t, b>>8, uint32(100))
		r, _, b, _ = img.At(55, 20).RGBA()
		require.Less(t, r>>8, uint32(100))
		require.Greater(t, b>>8, uint32(150))
	}
	// A small image is not enlarged.
	small := filepath.Join(dir, "small.jpg")
	writeHalves(t, small, 20, 10)
	require.NoError(t, WriteThumbnail(small, filepath.Join(dir, "s.png"), 60, nil))
	f, err := os.Open(filepath.Join(dir, "s.png"))
	require.NoError(t, err)
	cfg, _, err := image.DecodeConfig(f)
	f.Close()
	require.NoError(t, err)
	require.Equal(t, [2]int{20, 10}, [2]int{cfg.Width, cfg.Height})

	err = WriteThumbnail(filepath.Join(dir, "missing.jpg"), filepath.Join(dir, "m.jpg"), 60, nil)
	require.ErrorContains(t, err, "missing.jpg")
	require.Error(t, WriteThumbnail(src, filepath.Join(dir, "z.jpg"), 0, nil))
}

func TestExampleGalleryInDocument(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"one.jpg", "two (copy).jpg"} {
		p := filepath.Join(dir, "data", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		writeHalves(t, p, 120, 90)
		paths = append(paths, p)
	}
	h, err := Highlight([]string{"cat", "dog <b>"}, paths, []int{0, 1}, [][]float32{{0.3, 0.7}, {0.2, 0.8}}, 1, 0, 3)
	require.NoError(t, err)
	require.Len(t, h.Errors, 1)
	thumbs := filepath.Join(dir, "report", "thumbs")
	g, err := ExampleGallery(context.Background(), "Errors by loss", append(h.Errors, h.Confident[1].Examples...), thumbs, 64, nil)
	require.NoError(t, err)
	require.Len(t, g.Items, 2)
	require.Equal(t, []string{"true: cat", "predicted: dog <b> (0.70)", "one.jpg"}, g.Items[0].Lines)
	require.Equal(t, []string{"dog <b> (0.80)", "two (copy).jpg"}, g.Items[1].Lines)
	entries, err := os.ReadDir(thumbs)
	require.NoError(t, err)
	require.Len(t, entries, 2)

	d := &Document{Title: "t", Sections: []Section{{Heading: "Errors", Gallery: g, Notes: []string{"n"}}}}
	md := filepath.Join(dir, "report", "report.md")
	require.NoError(t, d.WriteMarkdown(md))
	text, err := os.ReadFile(md)
	require.NoError(t, err)
	require.Contains(t, string(text), "**Errors by loss**")
	require.Contains(t, string(text), "](thumbs/")
	require.Contains(t, string(text), "<br>predicted: dog <b> (0.70)<br>one.jpg |")

	page := filepath.Join(dir, "report", "report.html")
	require.NoError(t, d.WriteHTML(page))
	b, err := os.ReadFile(page)
	require.NoError(t, err)
	srcs := imgSrcs(t, b)
	require.Len(t, srcs, 2)
	for _, s := range srcs {
		require.True(t, strings.HasPrefix(s, "data:image/jpeg;base64,"), s[:30])
	}
	require.Contains(t, string(b), "predicted: dog &lt;b&gt; (0.70)<br>one.jpg</figcaption>")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ExampleGallery(ctx, "", h.Errors, thumbs, 64, nil)
	require.ErrorIs(t, err, context.Canceled)

	// A gallery image that is neither PNG nor JPEG, or missing, is an error naming it.
	bad := filepath.Join(dir, "bad.jpg")
	require.NoError(t, os.WriteFile(bad, []byte("not an image"), 0o644))
	d.Sections[0].Gallery = &Gallery{Items: []Thumb{{Path: bad}}}
	require.ErrorContains(t, d.WriteHTML(page), bad)
	d.Sections[0].Gallery = &Gallery{Items: []Thumb{{Path: filepath.Join(dir, "none.png")}}}
	require.ErrorContains(t, d.WriteMarkdown(md), "none.png")
}

func TestWritePredictionsCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "predictions.csv")
	methods := []MethodProbs{
		{Method: "probe", Probs: twoClass(0.9, 0.4), Positive: 1, Threshold: 0.3},
		{Method: "scratch", Probs: twoClass(0.2, 0.1), Positive: 1},
	}
	require.NoError(t, WritePredictionsCSV(path, binClasses, []string{"a, b.jpg", "c.jpg"}, []int{1, 0}, methods))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"method", "path", "true", "predicted", "correct", "loss", "p_benign", "p_malignant"},
		{"probe", "a, b.jpg", "malignant", "malignant", "true", "0.105361", "0.100000024", "0.9"},
		{"probe", "c.jpg", "benign", "malignant", "false", "0.510826", "0.6", "0.4"},
		{"scratch", "a, b.jpg", "malignant", "benign", "false", "1.60944", "0.8", "0.2"},
		{"scratch", "c.jpg", "benign", "benign", "true", "0.105361", "0.9", "0.1"},
	}, rows)

	bad := []MethodProbs{{Method: "short", Probs: twoClass(0.5), Positive: 1}}
	require.ErrorContains(t, WritePredictionsCSV(path, binClasses, []string{"a", "c"}, []int{1, 0}, bad), "short")
	require.Error(t, WritePredictionsCSV(path, binClasses, []string{"a"}, []int{1, 0}, methods))
}
