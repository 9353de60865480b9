package gradcam

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/internal/shared"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
	"github.com/lessdata/lessdata/tune"
)

// planted is an image whose class is decided by a small object pasted on a real photograph.
type planted struct {
	img    *dataset.Image
	class  int
	x0, y0 int // the object's top-left corner; it is objectSize pixels square
}

const objectSize = 56

// plant pastes the class's object at a random position: class 0 a red square with a white
// cross, class 1 a blue and yellow checkerboard disc.
func plant(r *rand.Rand, bg *dataset.Image, class int) planted {
	img := &dataset.Image{W: bg.W, H: bg.H, Pix: slices.Clone(bg.Pix)}
	p := planted{img: img, class: class, x0: r.IntN(bg.W - objectSize), y0: r.IntN(bg.H - objectSize)}
	c := float64(objectSize-1) / 2
	for dy := range objectSize {
		for dx := range objectSize {
			var rgb [3]float32
			switch class {
			case 0:
				rgb = [3]float32{220, 20, 30}
				if math.Abs(float64(dx)-c) < c/4 && math.Abs(float64(dy)-c) < 0.7*c || math.Abs(float64(dy)-c) < c/4 && math.Abs(float64(dx)-c) < 0.7*c {
					rgb = [3]float32{255, 255, 255}
				}
			default:
				if math.Hypot(float64(dx)-c, float64(dy)-c) > c {
					continue
				}
				rgb = [3]float32{20, 40, 220}
				if (dx/8+dy/8)%2 == 0 {
					rgb = [3]float32{250, 220, 20}
				}
			}
			copy(img.Pix[((p.y0+dy)*img.W+p.x0+dx)*3:], rgb[:])
		}
	}
	return p
}

// backgrounds loads n photographs from ../shared's datasets at w x h.
func backgrounds(t *testing.T, n, w, h int) []*dataset.Image {
	var paths []string
	var dirs []string
	for _, set := range []string{"car_vs_bus/%s/car", "car_vs_bus/%s/bus", "hymenoptera/%s/ants", "hymenoptera/%s/bees"} {
		for _, split := range []string{"train", "validation"} {
			dirs = append(dirs, "datasets/"+fmt.Sprintf(set, split))
		}
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(shared.Need(t, d))
		require.NoError(t, err)
		for _, e := range entries {
			paths = append(paths, filepath.Join(shared.Dir(), d, e.Name()))
		}
	}
	rand.New(rand.NewPCG(31, 32)).Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
	var out []*dataset.Image
	for _, p := range paths {
		if len(out) == n {
			break
		}
		img, err := dataset.LoadImage(p, w, h, 0, nil)
		if err != nil {
			continue // Go's decoder rejects a few progressive JPEGs; other photos will do
		}
		out = append(out, img)
	}
	require.Len(t, out, n)
	return out
}

var plantedSeeds = flag.Int("planted-seeds", 1, "TestPlantedObjectHeatmapPeak: how many seeds of the planted dataset to run")

// The phase-1 head (head.Fit, L2-normalised features) on frozen MobileNetV2 features of
// photographs with a planted object tells the object apart, and its Grad-CAM hotspot
// (Heatmap.Hotspot, on the 7x7 map placed by its receptive fields) falls on the object. The
// hotspot counts as on the object when it lies within the object's square grown by half a cell
// (16 pixels at 224 = 7 cells of 32): the map knows positions only to a cell. By chance a point
// would land there for (56+32)^2/224^2, 15% of the images. The share strictly inside the object
// is logged. The test asserts 90% on average, as the issue asks, and 85% for each seed of object
// positions; -planted-seeds N runs N seeds (go test ./gradcam -run Planted -v -args -planted-seeds 5).
//
// The same network with its top two blocks fine-tuned for two epochs is explained from its
// frozen SavedModel (Open); its rate is logged, not asserted: fine-tuning spreads the evidence.
func TestPlantedObjectHeatmapPeak(t *testing.T) {
	if testing.Short() {
		t.Skip("real-data Grad-CAM test skipped in -short mode")
	}
	dir := real(t, "mobilenet_v2")
	b, err := backbone.Open(dir, backbone.Options{})
	require.NoError(t, err)
	defer b.Close()
	w, h := b.InputSize()
	// Every training photograph appears twice, once with each object, so that nothing but the
	// object tells the classes apart; validation photographs are others, with one object each.
	const train, val = 300, 50 // photographs; val per class
	bgs := backgrounds(t, train+2*val, w, h)
	var sum float64
	for seed := range uint64(*plantedSeeds) {
		t.Run(fmt.Sprintf("seed%d", seed+1), func(t *testing.T) {
			hits := plantedRun(t, b, dir, bgs, train, seed)
			require.GreaterOrEqual(t, hits, 0.85)
			sum += hits
		})
	}
	mean := sum / float64(*plantedSeeds)
	t.Logf("hotspot on the object in %.3f of the images, mean over %d seeds", mean, *plantedSeeds)
	require.GreaterOrEqual(t, mean, 0.9)
}

// plantedRun plants objects on bgs (the first train for training), fits and explains, and
// returns the share of validation hotspots on the object.
func plantedRun(t *testing.T, b *backbone.Backbone, dir string, bgs []*dataset.Image, train int, seed uint64) float64 {
	w, h := b.InputSize()
	r := rand.New(rand.NewPCG(21, 22+seed))
	var trainSet, valSet []planted
	for i, bg := range bgs {
		if i < train {
			trainSet = append(trainSet, plant(r, bg, 0), plant(r, bg, 1))
		} else {
			valSet = append(valSet, plant(r, bg, i%2))
		}
	}
	normalised := func(ps []planted) []float32 {
		x := make([]float32, len(ps)*w*h*3)
		for i, p := range ps {
			require.NoError(t, b.Normalize(x[i*w*h*3:(i+1)*w*h*3], p.img))
		}
		return x
	}
	imgs := make([]*dataset.Image, len(trainSet))
	labels := make([]int, len(trainSet))
	for i, p := range trainSet {
		imgs[i], labels[i] = p.img, p.class
	}
	feats, err := b.Features(context.Background(), imgs)
	require.NoError(t, err)
	fitted, err := head.Fit(context.Background(), head.Dataset{X: feats, Labels: labels, Classes: 2}, 1, head.NormL2)
	require.NoError(t, err)
	hw := fitted.Weights()
	e, err := New(dir, Options{Head: &hw})
	require.NoError(t, err)
	defer e.Close()
	maps, err := e.Explain(context.Background(), normalised(valSet), len(valSet), nil)
	require.NoError(t, err)
	acc, hits := score(t, "L2-normalised logistic regression (head.Fit, C = 1) on frozen features", maps, valSet)
	require.GreaterOrEqual(t, acc, 0.9)

	// Phase 2: the top two blocks fine-tuned from that head for two epochs, frozen, explained.
	m, err := tune.Open(dir, tune.Options{Unfreeze: 2, Classes: 2, Head: &hw, Seed: 1})
	require.NoError(t, err)
	defer m.Close()
	order := r.Perm(len(trainSet))
	for epoch := range 2 {
		for start := 0; start < len(order); start += 32 {
			var ps []planted
			for _, i := range order[start:min(start+32, len(order))] {
				ps = append(ps, trainSet[i])
			}
			lab := make([]int, len(ps))
			for i, p := range ps {
				lab[i] = p.class
			}
			loss, _, err := m.TrainBatch(nn.Batch{X: normalised(ps), Count: len(ps), Labels: lab})
			require.NoError(t, err)
			if start == 0 {
				t.Logf("fine-tuning epoch %d: first batch loss %.4f", epoch+1, loss)
			}
		}
	}
	tuned := filepath.Join(t.TempDir(), "tuned")
	require.NoError(t, m.Freeze(tuned))
	ft, err := Open(tuned, tf.SessionOptions{})
	require.NoError(t, err)
	defer ft.Close()
	maps, err = ft.Explain(context.Background(), normalised(valSet), len(valSet), nil)
	require.NoError(t, err)
	acc, _ = score(t, "top 2 blocks fine-tuned", maps, valSet)
	require.GreaterOrEqual(t, acc, 0.9)
	return hits
}

// score returns the accuracy of the explained classes and the share of hotspots on the object:
// in the object's square grown by half a cell (see TestPlantedObjectHeatmapPeak).
func score(t *testing.T, what string, maps []Heatmap, valSet []planted) (acc, hits float64) {
	const margin = 16
	correct, hit, strict := 0, 0, 0
	var byClass [2][2]int
	for i, m := range maps {
		p := valSet[i]
		if m.Class == p.class {
			correct++
		}
		x, y := m.Hotspot()
		byClass[p.class][1]++
		if x >= p.x0-margin && x < p.x0+objectSize+margin && y >= p.y0-margin && y < p.y0+objectSize+margin {
			hit++
			byClass[p.class][0]++
		}
		if x >= p.x0 && x < p.x0+objectSize && y >= p.y0 && y < p.y0+objectSize {
			strict++
		}
	}
	n := float64(len(maps))
	t.Logf("%s: validation accuracy %.3f; heatmap hotspot on the object %.3f (class 0: %d/%d, class 1: %d/%d; inside the object itself %.3f) of %d images",
		what, float64(correct)/n, float64(hit)/n, byClass[0][0], byClass[0][1], byClass[1][0], byClass[1][1], float64(strict)/n, len(maps))
	return float64(correct) / n, float64(hit) / n
}
