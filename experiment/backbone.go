package experiment

import (
	"context"
	"fmt"

	"github.com/lessdata/lessdata/backbone"
)

// Backbone is an open backbone with its feature cache, as every job that reads features uses it.
type Backbone struct {
	*backbone.Backbone
	// Dir is the folder the backbone was opened from.
	Dir   string
	Cache *backbone.FeatureCache
}

// OpenBackbone resolves a --backbone argument (a zoo name, fetched when missing, or a folder),
// opens it, and opens its feature cache in the fetch options' cache folder. The caller closes it.
func OpenBackbone(ctx context.Context, arg string, fetch backbone.FetchOptions) (*Backbone, error) {
	dir, err := backbone.Resolve(ctx, arg, fetch)
	if err != nil {
		return nil, fmt.Errorf("--backbone %s: %w", arg, err)
	}
	b, err := backbone.Open(dir, backbone.Options{})
	if err != nil {
		return nil, fmt.Errorf("--backbone %s: %w", arg, err)
	}
	root, err := fetch.CacheDirOrDefault()
	if err != nil {
		b.Close()
		return nil, err
	}
	return &Backbone{Backbone: b, Dir: dir, Cache: backbone.NewFeatureCache(root, b)}, nil
}
