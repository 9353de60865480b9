package predict

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/nn"
)

// A scratch bundle predicts what its net predicts, for two classes (one sigmoid unit) and more
// (softmax), with rescaling applied as in training.
func TestScratchMatchesNet(t *testing.T) {
	const size = 8
	for _, classes := range [][]string{{"ants", "bees"}, {"a", "b", "c"}} {
		dir, net := scratchBundle(t, size, len(classes), classes, size)
		m, err := Open(context.Background(), dir, Options{})
		require.NoError(t, err)
		defer m.Close()
		require.Equal(t, classes, m.Classes())

		var paths []string
		var x []float32
		for i := range 5 {
			p := writePNG(t, filepath.Join(t.TempDir(), fmt.Sprintf("%d.png", i)), size, size, i+1)
			paths = append(paths, p)
			im, err := dataset.LoadImage(p, size, size, 0, tfdecode.Decode)
			require.NoError(t, err)
			for _, v := range im.Pix {
				x = append(x, v/255)
			}
		}
		want, err := net.Predict(nn.Batch{X: x, Count: len(paths)})
		require.NoError(t, err)

		var done []int
		got, err := m.Files(context.Background(), paths, func(n int) { done = append(done, n) })
		require.NoError(t, err)
		require.Equal(t, []int{1, 2, 3, 4, 5}, done)
		require.Len(t, got, len(paths))
		for i, r := range got {
			require.NoError(t, r.Err)
			require.Equal(t, paths[i], r.Path)
			require.Len(t, r.Probs, len(classes))
			require.InDeltaSlice(t, want[i], r.Probs, 1e-5)
			best := 0
			for k := range r.Probs {
				if r.Probs[k] > r.Probs[best] {
					best = k
				}
			}
			require.Equal(t, best, r.Index)
			require.Equal(t, classes[best], r.Class)
		}
	}
}

// Stream keeps input order across chunks, reports unreadable files in place, and stops on
// emit's error.
func TestStreamOrder(t *testing.T) {
	dir, _ := scratchBundle(t, 8, 2, []string{"a", "b"}, 8)
	m, err := Open(context.Background(), dir, Options{})
	require.NoError(t, err)
	defer m.Close()
	imgs := t.TempDir()
	var paths []string
	for i := range 11 {
		p := filepath.Join(imgs, fmt.Sprintf("%02d.png", i))
		if i%4 == 3 {
			p = filepath.Join(imgs, fmt.Sprintf("missing-%02d.png", i))
		} else {
			writePNG(t, p, 12, 10, i)
		}
		paths = append(paths, p)
	}
	all, err := m.Files(context.Background(), paths, nil)
	require.NoError(t, err)
	for _, chunk := range []int{1, 3, 4, 100} {
		var got []Result
		require.NoError(t, m.Stream(context.Background(), paths, chunk, func(r Result) error {
			got = append(got, r)
			return nil
		}))
		require.Len(t, got, len(paths), "chunk %d", chunk)
		for i, r := range got {
			require.Equal(t, paths[i], r.Path)
			if i%4 == 3 {
				require.ErrorContains(t, r.Err, "missing")
				require.Nil(t, r.Probs)
			} else {
				require.NoError(t, r.Err)
				require.InDeltaSlice(t, all[i].Probs, r.Probs, 1e-6, "chunking changes only rounding")
			}
		}
	}

	stop := errors.New("enough")
	n := 0
	err = m.Stream(context.Background(), paths, 2, func(Result) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, n)

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = m.Stream(ctx, paths, 2, func(Result) error {
		n++
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.LessOrEqual(t, n, 2, "results after the cancel are not emitted")
}
