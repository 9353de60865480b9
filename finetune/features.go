package finetune

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/lessdata/lessdata/internal/files"
)

// FeatureCache keeps backbone feature vectors in memory and on disk, one small file per vector,
// under dir/<backbone digest>/. Keys are content hashes, so a cache is shared across runs, sizes,
// folds and datasets that contain the same images. The zero value keeps them in memory only. It
// is safe for concurrent use.
type FeatureCache struct {
	dir string
	mu  sync.Mutex
	mem map[string][]float32
}

// NewFeatureCache returns a cache for one backbone in root ("" for none).
func NewFeatureCache(root, backboneDigest string) *FeatureCache {
	if root == "" {
		return &FeatureCache{}
	}
	return &FeatureCache{dir: filepath.Join(root, "features", backboneDigest[:min(16, len(backboneDigest))])}
}

func (c *FeatureCache) path(key string) string { return filepath.Join(c.dir, key[:2], key+".f32") }

// Get returns the vector stored under key, if it is there with length n.
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
	b, err := os.ReadFile(c.path(key))
	if err != nil || len(b) != 4*n {
		return nil, false
	}
	v = make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	c.remember(key, v)
	return v, true
}

func (c *FeatureCache) remember(key string, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		c.mem = map[string][]float32{}
	}
	c.mem[key] = v
}

// Put stores v under key; a failure to cache is returned but does not lose the vector.
func (c *FeatureCache) Put(key string, v []float32) error {
	c.remember(key, v)
	if c.dir == "" {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("feature cache: %w", err)
	}
	if err := files.WriteAtomic(p, b); err != nil {
		return fmt.Errorf("feature cache: %w", err)
	}
	return nil
}

// featureKey names one feature vector: an image, the view's recipe (augmentation parameters
// and seed, or "plain"), the view number and the input size.
func featureKey(imageHash, recipe string, view, w, h int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d|%dx%d", imageHash, recipe, view, w, h)))
	return hex.EncodeToString(s[:])
}

// PlainFeatureKey is the cache key of the features of an image's plain (not augmented) view at
// w x h: validation images, and anything else that wants an image's features as they are.
func PlainFeatureKey(imageHash string, w, h int) string {
	return featureKey(imageHash, "plain", 0, w, h)
}

// viewSeed turns an image's hash and a view number into an augmentation stream index, so a
// view's random transform depends on the image's content, not on its place in a list.
func viewSeed(imageHash string, view int) int {
	b, err := hex.DecodeString(imageHash[:16])
	if err != nil || len(b) < 8 {
		b = []byte(imageHash + "00000000")[:8]
	}
	return int((binary.LittleEndian.Uint64(b) + uint64(view)*0x9e3779b97f4a7c15) >> 1)
}

var errNoHash = errors.New("image has no content hash")
