package backbone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/lessdata/lessdata/internal/files"
)

// Pipeline names the way an image file becomes a backbone's input: dataset.LoadImage (decode,
// then dataset.Resize: transparency over white, bilinear resize, EXIF orientation), the one path
// that transfer, audit and predict all take. It is part of every feature-cache key, so a change
// in that path can never serve features computed the old way: change it whenever
// dataset.LoadImage's output may change.
const Pipeline = "load-v1"

// cacheMagic starts every cached feature file; a CRC-32C of the values ends it.
var cacheMagic = [4]byte{'L', 'D', 'F', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FeatureCache keeps feature vectors in memory and on disk, one small file per vector, under
// dir/features/<backbone digest>/. Keys are content hashes (see PlainKey and ViewKey), so a
// cache is shared across runs, sizes, folds and datasets that hold the same images. Every file
// carries a checksum: a damaged one is ignored, counted in Repaired and recomputed by the caller.
// When the folder cannot be written the cache keeps working in memory and Unwritable reports
// why. The zero value keeps vectors in memory only. It is safe for concurrent use.
type FeatureCache struct {
	dir string

	mu         sync.Mutex
	mem        map[string][]float32
	repaired   int
	unwritable error
}

// NewFeatureCache returns the feature cache of b under root ("" for memory only).
func NewFeatureCache(root string, b *Backbone) *FeatureCache {
	return newFeatureCache(root, b.Digest())
}

func newFeatureCache(root, digest string) *FeatureCache {
	if root == "" {
		return &FeatureCache{}
	}
	return &FeatureCache{dir: filepath.Join(root, "features", digest[:min(16, len(digest))])}
}

func (c *FeatureCache) path(key string) string { return filepath.Join(c.dir, key[:2], key+".f32") }

// Get returns the vector stored under key, if it is there, intact, with length n.
func (c *FeatureCache) Get(key string, n int) ([]float32, bool) {
	c.mu.Lock()
	v, ok := c.mem[key]
	c.mu.Unlock()
	if ok && len(v) == n {
		return v, true
	}
	if c.dir == "" {
		return nil, false
	}
	b, err := files.ReadRegular(c.path(key))
	if err != nil {
		return nil, false
	}
	v, err = decodeVector(b, n)
	if err != nil {
		c.mu.Lock()
		c.repaired++
		c.mu.Unlock()
		return nil, false
	}
	c.remember(key, v)
	return v, true
}

// decodeVector checks a cached file's magic, length and checksum and returns its values.
func decodeVector(b []byte, n int) ([]float32, error) {
	if len(b) != 4*n+8 || [4]byte(b[:4]) != cacheMagic {
		return nil, errors.New("not a cached feature vector of this length")
	}
	payload := b[4 : 4+4*n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4+4*n:]) {
		return nil, errors.New("checksum mismatch")
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return nil, errors.New("value not finite")
		}
	}
	return v, nil
}

func (c *FeatureCache) remember(key string, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		c.mem = map[string][]float32{}
	}
	c.mem[key] = v
}

// Put stores v under key. Writing to disk is best effort: the first failure (a read-only or
// full cache folder) turns the disk cache off for this cache's life and is kept in Unwritable.
func (c *FeatureCache) Put(key string, v []float32) {
	c.remember(key, v)
	c.mu.Lock()
	off := c.dir == "" || c.unwritable != nil
	c.mu.Unlock()
	if off {
		return
	}
	b := make([]byte, 4*len(v)+8)
	copy(b, cacheMagic[:])
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4+4*i:], math.Float32bits(x))
	}
	binary.LittleEndian.PutUint32(b[4+4*len(v):], crc32.Checksum(b[4:4+4*len(v)], castagnoli))
	p := c.path(key)
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		err = files.WriteAtomic(p, b)
	}
	if err != nil {
		c.mu.Lock()
		if c.unwritable == nil {
			c.unwritable = fmt.Errorf("feature cache %s: %w", c.dir, err)
		}
		c.mu.Unlock()
	}
}

// Repaired returns how many damaged cache files Get has refused so far.
func (c *FeatureCache) Repaired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.repaired
}

// Unwritable returns why the disk cache was turned off, or nil.
func (c *FeatureCache) Unwritable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unwritable
}

// Dir returns the folder that holds this cache's files ("" for memory only).
func (c *FeatureCache) Dir() string { return c.dir }

// ViewKey names one feature vector: an image (its file's content hash), the view's recipe
// (augmentation parameters and seed, or "plain"), the view number and the input size, under the
// current Pipeline.
func ViewKey(imageHash, recipe string, view, w, h int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%d|%dx%d", Pipeline, imageHash, recipe, view, w, h))
	return hex.EncodeToString(s[:])
}

// PlainKey is the cache key of the features of an image's plain (not augmented) view at w x h:
// validation images, and anything else that wants an image's features as they are.
func PlainKey(imageHash string, w, h int) string { return ViewKey(imageHash, "plain", 0, w, h) }
