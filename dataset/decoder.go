package dataset

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Decoder decodes and resizes images in parallel, remembering each result by
// (path, w, h) so that a file asked for twice is decoded once; it is safe for
// concurrent use. Decode failures are remembered too. The images it returns
// are shared between callers and must not be modified.
type Decoder struct {
	w, h      int
	maxPixels int64
	fallback  FallbackDecoder

	mu      sync.Mutex
	m       map[cacheKey]*cacheEntry
	decodes atomic.Int64 // number of LoadImage calls made, for tests
}

type cacheKey struct {
	path string
	w, h int
}

type cacheEntry struct {
	done chan struct{} // closed once img and err are set
	img  *Image
	err  error
}

// NewDecoder returns a decoder producing w x h images with LoadImage's
// maxPixels and fallback arguments.
func NewDecoder(w, h int, maxPixels int64, fallback FallbackDecoder) *Decoder {
	return &Decoder{w: w, h: h, maxPixels: maxPixels, fallback: fallback, m: map[cacheKey]*cacheEntry{}}
}

// Images decodes all items in parallel (runtime.GOMAXPROCS workers),
// returning images in item order. A failure is reported per item (nil image,
// error in errs[i]) and never aborts the others. Cancelling ctx stops the
// work promptly: items not reached get ctx's error. progress, if non-nil, is
// called after each finished item with the number finished so far; calls are
// serialised.
func (c *Decoder) Images(ctx context.Context, items []Item, progress func(done int)) ([]*Image, []error) {
	imgs := make([]*Image, len(items))
	errs := make([]error, len(items))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	var pmu sync.Mutex
	done := 0
	for i := range items {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			imgs[i], errs[i] = c.get(ctx, items[i].Path)
			if progress != nil && ctx.Err() == nil {
				pmu.Lock()
				done++
				progress(done)
				pmu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		for i := range items {
			if imgs[i] == nil && errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return imgs, errs
}

// get returns the cached image for path, decoding it on first use. Concurrent
// requests for the same path share one decode.
func (c *Decoder) get(ctx context.Context, path string) (*Image, error) {
	k := cacheKey{path, c.w, c.h}
	c.mu.Lock()
	e, ok := c.m[k]
	if !ok {
		e = &cacheEntry{done: make(chan struct{})}
		c.m[k] = e
		c.mu.Unlock()
		c.decodes.Add(1)
		e.img, e.err = LoadImage(path, c.w, c.h, c.maxPixels, c.fallback)
		close(e.done)
		return e.img, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.img, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
