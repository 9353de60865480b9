package dataset

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Cache holds decoded and resized images keyed by (path, w, h); it is safe
// for concurrent use. Decode failures are cached too. The images it returns
// are shared between callers and must not be modified.
type Cache struct {
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

// NewCache returns an empty cache producing w x h images with LoadImage's
// maxPixels and fallback arguments.
func NewCache(w, h int, maxPixels int64, fallback FallbackDecoder) *Cache {
	return &Cache{w: w, h: h, maxPixels: maxPixels, fallback: fallback, m: map[cacheKey]*cacheEntry{}}
}

// Images decodes all items in parallel (runtime.GOMAXPROCS workers),
// returning images in item order. A failure is reported per item (nil image,
// error in errs[i]) and never aborts the others. Cancelling ctx stops the
// work promptly: items not reached get ctx's error. progress, if non-nil, is
// called after each finished item with the number finished so far; calls are
// serialised.
func (c *Cache) Images(ctx context.Context, items []Item, progress func(done int)) ([]*Image, []error) {
	imgs := make([]*Image, len(items))
	errs := make([]error, len(items))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var pmu sync.Mutex
	done := 0
	for range min(runtime.GOMAXPROCS(0), max(len(items), 1)) {
		wg.Go(func() {
			for i := range jobs {
				if ctx.Err() != nil {
					continue // drain: the feeder stops soon
				}
				imgs[i], errs[i] = c.get(ctx, items[i].Path)
				if progress != nil && ctx.Err() == nil {
					pmu.Lock()
					done++
					progress(done)
					pmu.Unlock()
				}
			}
		})
	}
feed:
	for i := range items {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
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
func (c *Cache) get(ctx context.Context, path string) (*Image, error) {
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
