package finetune

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/tf"
)

// synthetic makes n images per class of size x size: class 0 bright on the left, class 1 on
// the right, with noise.
func synthetic(n, size int, seed uint64) Labelled {
	r := rand.New(rand.NewPCG(seed, 9))
	var l Labelled
	for i := 0; i < 2*n; i++ {
		c := i % 2
		im := &dataset.Image{W: size, H: size, Pix: make([]float32, size*size*3)}
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				v := float32(40 + 60*r.Float64())
				if (x < size/2) == (c == 0) {
					v += 120
				}
				for ch := 0; ch < 3; ch++ {
					im.Pix[(y*size+x)*3+ch] = v
				}
			}
		}
		l.Images = append(l.Images, im)
		l.Labels = append(l.Labels, c)
	}
	return l
}

func scratchOpts(epochs int) ScratchOptions {
	p := augment.Article()
	p.HorizontalFlip = false // the classes differ by left and right
	return ScratchOptions{Augment: p, Fit: FitOptions{Epochs: epochs, BatchSize: 8, Seed: 3}}
}

func TestScratchLearnsAndRepeatsBitForBit(t *testing.T) {
	train, val := synthetic(12, 24, 1), synthetic(6, 24, 2)
	classes := []string{"left", "right"}
	a, err := Scratch(context.Background(), classes, train, val, scratchOpts(12))
	require.NoError(t, err)
	defer a.Net.Close()
	last, _ := a.History.Last()
	require.GreaterOrEqual(t, last.ValAccuracy, 0.9, "%+v", a.History.Epochs)
	require.Equal(t, StopCompleted, a.History.Stopped)

	b, err := Scratch(context.Background(), classes, train, val, scratchOpts(12))
	require.NoError(t, err)
	defer b.Net.Close()
	strip := func(h *History) []Epoch {
		out := append([]Epoch(nil), h.Epochs...)
		for i := range out {
			out[i].Seconds = 0
		}
		return out
	}
	require.Equal(t, strip(a.History), strip(b.History), "same seed, same history, bit for bit")

	o := scratchOpts(12)
	o.Fit.Seed = 4
	c, err := Scratch(context.Background(), classes, train, val, o)
	require.NoError(t, err)
	defer c.Net.Close()
	require.NotEqual(t, strip(a.History), strip(c.History))
}

func TestFitStopsEarlyAndKeepsBest(t *testing.T) {
	train, val := synthetic(6, 20, 1), synthetic(4, 20, 2)
	o := scratchOpts(200)
	o.Fit.EarlyStopping = &EarlyStopping{Patience: 3}
	o.Fit.KeepBest = true
	run, err := Scratch(context.Background(), []string{"l", "r"}, train, val, o)
	require.NoError(t, err)
	defer run.Net.Close()
	h := run.History
	require.Equal(t, StopEarly, h.Stopped)
	require.Less(t, len(h.Epochs), 200)
	best, ok := h.Best()
	require.True(t, ok)
	require.Equal(t, len(h.Epochs)-3, best.Epoch, "stopped 3 epochs after the best")
	for _, e := range h.Epochs {
		require.GreaterOrEqual(t, e.ValLoss, best.ValLoss)
	}
	// The kept weights are the best epoch's: re-evaluating gives its validation loss.
	loss, _, err := Probabilities(run.Net, StandardizeAll(run.Standardizer, val), 8)
	require.NoError(t, err)
	require.InDelta(t, best.ValLoss, loss, 1e-5)
	require.True(t, h.Restored)
}

func TestFitInterruptKeepsWhatWasDone(t *testing.T) {
	train, val := synthetic(6, 20, 1), synthetic(4, 20, 2)
	ctx, cancel := context.WithCancel(context.Background())
	o := scratchOpts(1000)
	saved := 0
	o.Fit.OnEpoch = func(h *History) error {
		saved = len(h.Epochs)
		if len(h.Epochs) == 3 {
			cancel()
		}
		return nil
	}
	run, err := Scratch(ctx, []string{"l", "r"}, train, val, o)
	require.NoError(t, err)
	defer run.Net.Close()
	require.Equal(t, StopInterrupted, run.History.Stopped)
	require.Len(t, run.History.Epochs, 3)
	require.Equal(t, 3, saved)
	best, _ := run.History.Best()
	loss, _, err := Probabilities(run.Net, StandardizeAll(run.Standardizer, val), 8)
	require.NoError(t, err)
	require.InDelta(t, best.ValLoss, loss, 1e-5, "the best weights so far are kept")
}

func TestHistorySaveLoad(t *testing.T) {
	h := &History{Epochs: []Epoch{{Epoch: 1, Loss: 0.5, Accuracy: 0.75, ValLoss: 0.6, ValAccuracy: 0.7, Seconds: 1.5}}, BestEpoch: 1, Stopped: StopCompleted}
	dir := t.TempDir()
	require.NoError(t, h.Save(dir))
	got, err := LoadHistory(dir)
	require.NoError(t, err)
	require.Equal(t, h, got)
	csv := filepath.Join(dir, "history.csv")
	require.FileExists(t, csv)
}

func TestStreamCoversEveryExampleEachPass(t *testing.T) {
	s := newStream(10, 4, 1)
	for pass := 0; pass < 3; pass++ {
		seen := map[int]bool{}
		sizes := []int{}
		for len(seen) < 10 {
			b := s.next()
			sizes = append(sizes, len(b))
			for _, i := range b {
				require.False(t, seen[i], "example %d twice in one pass", i)
				seen[i] = true
			}
		}
		require.Equal(t, []int{4, 4, 2}, sizes)
	}
}

func TestScratchRejectsBadInput(t *testing.T) {
	train, val := synthetic(2, 20, 1), synthetic(2, 20, 2)
	_, err := Scratch(context.Background(), []string{"a", "b"}, Labelled{}, val, scratchOpts(1))
	require.ErrorContains(t, err, "need training and validation images")
	odd := synthetic(1, 24, 3)
	mixed := Labelled{Images: append(train.Images, odd.Images...), Labels: append(train.Labels, odd.Labels...)}
	_, err = Scratch(context.Background(), []string{"a", "b"}, mixed, val, scratchOpts(1))
	require.ErrorContains(t, err, "must all be 20x20")
	o := scratchOpts(0)
	_, err = Scratch(context.Background(), []string{"a", "b"}, train, val, o)
	require.ErrorContains(t, err, "epochs")
}

// A learning rate far too high makes the loss run away; the fit stops with an error instead of
// saving nonsense.
func TestFitStopsWhenTheLossDiverges(t *testing.T) {
	train, val := synthetic(8, 16, 1), synthetic(4, 16, 2)
	feats := func(l Labelled) *Examples {
		ex := &Examples{Labels: l.Labels}
		for _, im := range l.Images {
			ex.X = append(ex.X, im.Pix...)
		}
		return ex
	}
	net, err := head.New(16*16*3, 2, head.Options{LearningRate: 1e6}, 1, tf.SessionOptions{})
	require.NoError(t, err)
	defer net.Close()
	tr := feats(train)
	set := &featureSet{feats: make([][][]float32, len(tr.Labels)), labels: tr.Labels, dim: 16 * 16 * 3}
	for i := range set.feats {
		set.feats[i] = [][]float32{tr.X[i*set.dim : (i+1)*set.dim]}
	}
	_, err = Fit(context.Background(), net, set, feats(val), FitOptions{Epochs: 20, BatchSize: 4, Seed: 1})
	var div *DivergedError
	require.ErrorAs(t, err, &div)
	require.Greater(t, div.Loss, 1e4)
}
