package audit

import (
	"context"
	"image"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/internal/shared"
)

// realAudit runs the quick audit of a shared dataset and writes its contact sheet into
// $LESSDATA_AUDIT_SHEETS when set (to look at), else into a temporary folder.
func realAudit(t *testing.T, name string) *Report {
	t.Helper()
	r := audit(t, shared.Need(t, "datasets/"+name), Options{Quick: true})
	dir := os.Getenv("LESSDATA_AUDIT_SHEETS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, r.WriteContactSheet(filepath.Join(dir, name+".png")))
	return r
}

func junkFlags(r *Report) map[string]string {
	out := map[string]string{}
	for _, f := range r.Flags {
		if f.Kind != KindLabelSuspect && f.Kind != KindOutlier {
			out[f.Path] = f.Kind
		}
	}
	return out
}

// The flags below were checked by eye on the contact sheets.
func TestHymenopteraPlaceholder(t *testing.T) {
	r := realAudit(t, "hymenoptera")
	require.Equal(t, 398, r.Images)
	require.Equal(t, map[string]string{
		"train/ants/imageNotFound.gif": KindPlaceholder, // "We're sorry, this image could not be found"
		"train/ants/175998972.jpg":     KindNonPhoto,    // a stock 3D render of an ant on blank white
	}, junkFlags(r))
	require.Empty(t, r.Groups)
	require.Less(t, r.Seconds, 30.0)
}

func TestCarVsBusLeaks(t *testing.T) {
	r := realAudit(t, "car_vs_bus")
	for _, pair := range [][2]string{ // the same photo, resized or re-encoded, in both splits
		{"train/bus/Image_50.jpg", "validation/bus/Image_91.jpg"},
		{"train/car/Image_21.jpg", "validation/car/Image_91.jpg"},
		{"train/car/Image_25.jpg", "validation/car/Image_74.jpg"},
		{"train/car/Image_62.jpg", "validation/car/Image_98.jpg"},
	} {
		g := groupWith(r, pair[0], pair[1])
		require.NotNil(t, g, "%v", pair)
		require.True(t, g.Leak, "%v", pair)
	}
	for _, pair := range [][2]string{ // copies inside the training split
		{"train/car/Image_10.jpeg", "train/car/Image_54.jpg"},
		{"train/car/Image_2.jpg", "train/car/Image_38.jpg"},
		{"train/car/Image_23.jpg", "train/car/Image_32.jpg"},
		{"train/car/Image_34.jpg", "train/car/Image_66.jpg"},
	} {
		g := groupWith(r, pair[0], pair[1])
		require.NotNil(t, g, "%v", pair)
		require.False(t, g.Leak, "%v", pair)
	}
	require.Len(t, r.Groups, 8)
	require.Equal(t, map[string]string{
		"validation/car/Image_86.jpg": KindNonPhoto,    // a grid of car-maker logos
		"validation/car/Image_89.png": KindNonPhoto,    // a clip-art car (also transparent)
		"train/bus/Image_25.png":      KindTransparent, // bus cut out on a transparent background
		"train/car/Image_18.png":      KindTransparent, // car cut out on a transparent background
	}, junkFlags(r))
	require.Contains(t, flagged(r, "validation/car/Image_89.png"), KindTransparent)
	var leaks int
	for _, e := range r.Exclusions() {
		if strings.HasPrefix(e.Reason, "leak") {
			leaks++
			require.True(t, strings.HasPrefix(e.Path, "validation/"), e.Path)
		}
	}
	require.Equal(t, 4, leaks)
}

func TestChestXraysNoFalseAlarms(t *testing.T) {
	r := realAudit(t, "chest_xray_pneumonia_small")
	require.Empty(t, r.Groups, "patient-disjoint X-rays look alike but are not copies")
	require.Empty(t, junkFlags(r))
}

// TestHashCalibration logs the perceptual-hash distances of every pair of images of the shared
// datasets that are not grouped as copies: the threshold must stay well below them.
func TestHashCalibration(t *testing.T) {
	for _, name := range []string{"hymenoptera", "car_vs_bus", "chest_xray_pneumonia_small"} {
		dir := shared.Need(t, "datasets/"+name)
		ds := load(t, dir)
		es := entries(t, dir, ds)
		require.NoError(t, inspect(context.Background(), es, image.Point{}, nil))
		groups := duplicates(es, Defaults())
		same := map[[2]string]bool{}
		for _, g := range groups {
			for _, a := range g.Items {
				for _, b := range g.Items {
					same[[2]string{a.Path, b.Path}] = true
				}
			}
		}
		hist := make([]int, 65)
		pairs, closest, within := 0, 64, 0
		for i := range es {
			for j := i + 1; j < len(es); j++ {
				if es[i].err != nil || es[j].err != nil || same[[2]string{es[i].Path, es[j].Path}] {
					continue
				}
				d := bits.OnesCount64(es[i].phash ^ es[j].phash)
				hist[d]++
				pairs++
				closest = min(closest, d)
				if d <= 2*Defaults().HashDistance {
					within++
				}
			}
		}
		t.Logf("%s: %d distinct pairs, closest pHash distance %d, %d pairs (%.4f%%) within twice the threshold %d; histogram 0..24: %v",
			name, pairs, closest, within, 100*float64(within)/float64(pairs), Defaults().HashDistance, hist[:25])
		require.Greater(t, closest, Defaults().HashDistance)
	}
}

// TestTiming measures the audit of hymenoptera (398 images) without and with a backbone
// (MobileNetV2, features computed afresh: no cache).
func TestTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing skipped in -short mode")
	}
	dir := shared.Need(t, "datasets/hymenoptera")
	ds := load(t, dir)
	start := time.Now()
	quick, err := Run(context.Background(), ds, Options{Data: dir, Quick: true})
	require.NoError(t, err)
	tq := time.Since(start)
	b := opened(t, "mobilenet_v2")
	start = time.Now()
	full, err := Run(context.Background(), ds, Options{Data: dir, Backbone: b, Seed: 1})
	require.NoError(t, err)
	tf := time.Since(start)
	t.Logf("hymenoptera, %d images, GOMAXPROCS %d: quick %.2fs, with mobilenet_v2 %.2fs (cross-validated accuracy %.3f, %d label suspects, %d outliers)",
		full.Images, runtime.GOMAXPROCS(0), tq.Seconds(), tf.Seconds(), full.CVAccuracy, full.SuspectsFound, full.Counts()[KindOutlier])
	require.Equal(t, quick.Images, full.Images)
	require.Contains(t, flagged(full, "train/ants/imageNotFound.gif"), KindOutlier, "the placeholder is far from every class too")
}
