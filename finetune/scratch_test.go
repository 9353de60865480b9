package finetune

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/internal/shared"
)

// loadShared decodes a shared dataset at size x size.
func loadShared(t testing.TB, name string, size int) ([]string, Labelled, Labelled) {
	dir := shared.Need(t, "datasets/"+name)
	ds, err := dataset.Load(dir, dataset.Options{})
	require.NoError(t, err)
	cache := dataset.NewDecoder(size, size, 0, tfdecode.Decode)
	get := func(items []dataset.Item) Labelled {
		imgs, errs := cache.Images(context.Background(), items, nil)
		for _, err := range errs {
			require.NoError(t, err)
		}
		l := Labelled{Images: imgs}
		for _, it := range items {
			l.Labels = append(l.Labels, it.Class)
		}
		return l
	}
	return ds.Classes, get(ds.Train), get(ds.Val)
}

func TestScratchCarVsBusShort(t *testing.T) {
	classes, train, val := loadShared(t, "car_vs_bus", 64)
	run, err := Scratch(context.Background(), classes, train, val, ScratchOptions{Augment: augment.Article(),
		Fit: FitOptions{Epochs: 8, BatchSize: 32, Seed: 1}})
	require.NoError(t, err)
	defer run.Net.Close()
	require.Len(t, train.Images, 137, "every training image decodes, Image_35.jpg through TensorFlow")
	for _, e := range run.History.Epochs {
		t.Logf("%+v", e)
	}
	best, _ := run.History.Best()
	require.GreaterOrEqual(t, best.ValAccuracy, 0.6, "the CNN learns something in 8 epochs (chance is 0.5)")
}
