package audit

import (
	"context"
	"fmt"
	"image"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/internal/shared"
)

// realAudit runs the quick audit of a shared dataset and writes its contact sheet.
func realAudit(t *testing.T, name string) *Report {
	t.Helper()
	r := audit(t, shared.Need(t, "datasets/"+name), Options{Quick: true})
	writeSheet(t, r, name)
	return r
}

// writeSheet writes a report's contact sheet into $LESSDATA_AUDIT_SHEETS when set (to look
// at), else into a temporary folder.
func writeSheet(t *testing.T, r *Report, name string) {
	t.Helper()
	dir := os.Getenv("LESSDATA_AUDIT_SHEETS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, r.WriteContactSheet(filepath.Join(dir, name+".png")))
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
	require.Empty(t, r.LookAlikes)
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
	writeSheet(t, r, "car_vs_bus_features")
}

func TestChestXraysNoFalseAlarms(t *testing.T) {
	r := realAudit(t, "chest_xray_pneumonia_small")
	require.Empty(t, r.Groups, "patient-disjoint X-rays look alike but are not copies")
	require.Empty(t, junkFlags(r))
	require.NotEmpty(t, r.LookAlikes, "X-rays within a few pHash bits of each other are listed as look-alikes")
	for _, g := range r.LookAlikes {
		require.Less(t, g.Aligned, r.Thresholds.Aligned)
	}
	require.Empty(t, r.Exclusions(), "look-alikes are never excluded")
}

// TestNearCopyCalibration is the evidence behind Thresholds.Aligned: on the shared datasets,
// every pair the hash or the features put forward as a possible copy is scored by its aligned
// pixels; the known copies (car_vs_bus's 4 leaks and 4 training duplicates) score at least
// 0.95, every other pair (164 pairs of X-rays of different patients within 10 bits, 10 of them
// within 6) at most 0.6, well apart on each side of the threshold (0.8).
func TestNearCopyCalibration(t *testing.T) {
	th := Defaults()
	for _, name := range []string{"hymenoptera", "car_vs_bus", "chest_xray_pneumonia_small"} {
		dir := shared.Need(t, "datasets/"+name)
		ds := load(t, dir)
		es := entries(t, dir, ds)
		require.NoError(t, inspect(context.Background(), es, image.Point{}, nil))
		ok := es[:0]
		for _, e := range es {
			if e.err == nil {
				ok = append(ok, e)
			}
		}
		groups, look, _, err := duplicates(context.Background(), ok, th)
		require.NoError(t, err)
		copies, others := 2.0, -1.0
		for _, g := range groups {
			if g.Kind == KindNear {
				copies = min(copies, g.Aligned)
			}
		}
		for _, g := range look {
			others = max(others, g.Aligned)
		}
		var checked int
		for i := range ok {
			for j := i + 1; j < len(ok); j++ {
				if d := bits.OnesCount64(ok[i].phash ^ ok[j].phash); d > 0 && d <= th.HashDistance && groupWith(&Report{Groups: groups}, ok[i].Path, ok[j].Path) == nil {
					others = max(others, pixelSimilarity(newAlignImage(ok[i].grey), newAlignImage(ok[j].grey)))
					checked++
				}
			}
		}
		t.Logf("%s: %d copy groups (lowest near-copy correlation %s), %d look-alikes, %d other pairs within %d bits (highest correlation %s); threshold %.2f",
			name, len(groups), score(copies), len(look), checked, th.HashDistance, score(others), th.Aligned)
		require.Less(t, others, 0.6)
		if len(groups) > 0 {
			require.GreaterOrEqual(t, copies, 0.95)
		}
	}
}

// score formats a correlation, or "none" for the sentinels (-1, 2) left when nothing was scored.
func score(v float64) string {
	if v <= -1 || v > 1 {
		return "none"
	}
	return fmt.Sprintf("%.3f", v)
}

// With a backbone, a near copy needs its features to agree too: car_vs_bus's 4 leaks and 4
// training duplicates are still found, and confirmed by all three signals.
func TestCarVsBusLeaksWithFeatures(t *testing.T) {
	dir := shared.Need(t, "datasets/car_vs_bus")
	r := audit(t, dir, Options{Backbone: opened(t, "mobilenet_v1_025"), Seed: 1})
	require.Len(t, r.Groups, 8)
	leaks := 0
	for _, g := range r.Groups {
		if g.Leak {
			leaks++
		}
		if g.Kind == KindNear {
			require.Equal(t, "phash+aligned+features", g.By, g.describe())
		}
	}
	require.Equal(t, 4, leaks)
	writeSheet(t, r, "car_vs_bus_features")
}

// BenchmarkAudit measures the audit of hymenoptera (398 images) without a backbone (quick) and
// with MobileNetV2 (features computed afresh: no cache).
func BenchmarkAudit(b *testing.B) {
	dir := shared.Need(b, "datasets/hymenoptera")
	ds := load(b, dir)
	for _, bench := range []struct {
		name     string
		backbone string
	}{{"quick", ""}, {"mobilenet_v2", "mobilenet_v2"}} {
		b.Run(bench.name, func(b *testing.B) {
			opt := Options{Data: dir, Quick: bench.backbone == "", Seed: 1}
			if bench.backbone != "" {
				opt.Backbone = opened(b, bench.backbone)
			}
			var r *Report
			for b.Loop() {
				var err error
				r, err = Run(context.Background(), ds, opt)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(r.Images), "images")
			require.Contains(b, flagged(r, "train/ants/imageNotFound.gif"), KindPlaceholder)
			if bench.backbone != "" {
				require.Contains(b, flagged(r, "train/ants/imageNotFound.gif"), KindOutlier, "the placeholder is far from every class too")
			}
		})
	}
}
