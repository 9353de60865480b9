package augment

import (
	"context"
	"fmt"
	"image"

	"github.com/lessdata/lessdata/dataset"
)

// PreviewLimit bounds the pixels of a preview grid (rows x (variants+1) tiles of size x size),
// so that a typo in a flag cannot fill the memory.
const PreviewLimit = 100_000_000

// Preview returns a grid that shows p on images: one row per image, the resized original
// (size x size) first, then variants random draws of p (seeded). Normalisation is left out: it
// is not something to look at.
func Preview(ctx context.Context, images []*dataset.Image, p Params, variants int, seed uint64) (*image.RGBA, error) {
	if len(images) == 0 || variants < 1 {
		return nil, fmt.Errorf("preview: %d images and %d variants, need at least 1 of each", len(images), variants)
	}
	w, h := images[0].W, images[0].H
	if px := int64(len(images)) * int64(variants+1) * int64(w*h); px > PreviewLimit {
		return nil, fmt.Errorf("preview: %d x %d tiles of %dx%d would be %.1f gigapixels; lower --rows, --variants or --size", len(images), variants+1, w, h, float64(px)/1e9)
	}
	p.FeaturewiseCenter, p.FeaturewiseStdNormalization = false, false
	aug, err := New(p, nil, seed)
	if err != nil {
		return nil, err
	}
	tiles := make([]*dataset.Image, 0, len(images)*(variants+1))
	for _, img := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tiles = append(tiles, img)
		for v := 0; v < variants; v++ {
			dst := &dataset.Image{}
			Apply(dst, img, aug.Draw(img.W, img.H), p.FillMode, p.Cval)
			tiles = append(tiles, dst)
		}
	}
	return Grid(tiles, variants+1, 4), nil
}
