package dataset

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecoderImages(t *testing.T) {
	dir := t.TempDir()
	colors := []color.RGBA{red, green, blue, yellow}
	var items []Item
	for i, c := range colors {
		items = append(items, Item{Path: writeImage(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), solid(9, 7, c)), Class: i % 2})
	}
	items = append(items, Item{Path: writeFile(t, filepath.Join(dir, "bad.jpg"), []byte("nope"))})
	items = append(items, items[0]) // a duplicate shares one decode

	c := NewDecoder(4, 3, 0, nil)
	var calls []int
	imgs, errs := c.Images(context.Background(), items, func(done int) { calls = append(calls, done) })
	require.Len(t, imgs, len(items))
	require.Len(t, errs, len(items))
	for i, col := range colors {
		require.NoError(t, errs[i])
		require.Equal(t, 4, imgs[i].W)
		require.Equal(t, 3, imgs[i].H)
		requireColor(t, imgs[i], 2, 1, col, 0)
	}
	require.Nil(t, imgs[4])
	require.ErrorContains(t, errs[4], "bad.jpg")
	require.Same(t, imgs[0], imgs[5])
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, calls)
	require.EqualValues(t, 5, c.decodes.Load())

	// Second call: same images and errors, no decoding.
	imgs2, errs2 := c.Images(context.Background(), items, nil)
	require.EqualValues(t, 5, c.decodes.Load())
	for i := range items {
		require.Same(t, imgs[i], imgs2[i])
		require.Equal(t, errs[i], errs2[i])
	}

	// Another size is a different cache.
	imgs3, _ := NewDecoder(2, 2, 0, nil).Images(context.Background(), items[:1], nil)
	require.Equal(t, 2, imgs3[0].W)
}

func TestDecoderCancel(t *testing.T) {
	dir := t.TempDir()
	n := max(8*runtime.GOMAXPROCS(0), 40)
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Path: writeImage(t, filepath.Join(dir, fmt.Sprintf("%03d.png", i)), solid(64, 64, red))}
	}

	// Already cancelled: nothing is decoded.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := NewDecoder(8, 8, 0, nil)
	imgs, errs := c.Images(ctx, items, nil)
	require.Zero(t, c.decodes.Load())
	for i := range items {
		require.Nil(t, imgs[i])
		require.ErrorIs(t, errs[i], context.Canceled)
	}

	// Cancelled after the first item: the rest stop promptly.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	imgs, errs = c.Images(ctx, items, func(int) { cancel() })
	decoded := int(c.decodes.Load())
	require.Less(t, decoded, n)
	canceled := 0
	for i := range items {
		if errs[i] != nil {
			require.True(t, errors.Is(errs[i], context.Canceled))
			require.Nil(t, imgs[i])
			canceled++
		} else {
			require.NotNil(t, imgs[i])
		}
	}
	require.GreaterOrEqual(t, canceled, n-decoded)

	// Cancellation is not cached: a later call decodes everything.
	imgs, errs = c.Images(context.Background(), items, nil)
	for i := range items {
		require.NoError(t, errs[i])
		require.NotNil(t, imgs[i])
	}
	require.EqualValues(t, n, c.decodes.Load())
}
