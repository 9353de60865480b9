package backbone

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/shared"
)

// mirror returns ../shared/backbones, which has the manifest's mirror layout.
func mirror(t testing.TB) string { return shared.Need(t, "backbones") }

// fetched converts a named backbone from the shared mirror into a cache shared by the tests of
// this package run.
func fetched(t testing.TB, name string) string {
	t.Helper()
	m := mirror(t)
	cache := filepath.Join(os.TempDir(), "lessdata-test-cache")
	dir, err := Fetch(context.Background(), name, FetchOptions{CacheDir: cache, Mirror: m})
	require.NoError(t, err)
	return dir
}

func TestClassifyCheckImages(t *testing.T) {
	dir := fetched(t, "mobilenet_v2")
	b, err := Open(dir, Options{})
	require.NoError(t, err)
	defer b.Close()
	want := map[string]string{"cat.bmp": "Egyptian cat", "grace_hopper.bmp": "military uniform",
		"bird.bmp": "chickadee", "parrot.jpg": "macaw"}
	w, h := b.InputSize()
	for file, label := range want {
		img, err := dataset.LoadImage(filepath.Join(shared.Need(t, "images/coral"), file), w, h, 0, nil)
		require.NoError(t, err)
		res, err := b.Run(context.Background(), []*dataset.Image{img}, true)
		require.NoError(t, err)
		top := b.TopK(res.Logits[0], 3)
		t.Logf("%s: %+v", file, top)
		require.Equal(t, label, top[0].Label, file)
		require.Len(t, res.Features[0], 1280)
	}
}
