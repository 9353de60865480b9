package audit

import (
	"fmt"
	"strings"
)

// Thresholds are the limits the checks use; Defaults gives the calibrated ones.
type Thresholds struct {
	// HashDistance is the largest pHash Hamming distance (of 64 bits) of a pair checked as a
	// possible near copy.
	HashDistance int `json:"hash_distance"`
	// Similarity is the smallest cosine similarity of (centred) backbone features of a pair
	// checked as a possible near copy; with a backbone, a near copy must also reach it.
	Similarity float64 `json:"similarity"`
	// Aligned is the smallest correlation of the aligned pixels' details that confirms a
	// possible near copy as a copy.
	Aligned float64 `json:"aligned"`
	// LookAlikeDistance: unconfirmed pairs within it (or within Similarity) are look-alikes;
	// at most MaxLookAlikes of them are listed.
	LookAlikeDistance int `json:"look_alike_distance"`
	MaxLookAlikes     int `json:"max_look_alikes"`
	// TinySide: images whose shorter side is below it are tiny.
	TinySide int `json:"tiny_side"`
	// UniformStd: images whose luminance standard deviation is below it are uniform.
	UniformStd float64 `json:"uniform_std"`
	// Transparent: images with a larger share of pixels with alpha < 128 are transparent.
	Transparent float64 `json:"transparent"`
	// Placeholder: images whose 4 most frequent colours (of 4-bit quantised RGB) cover more
	// than this share, with at most PlaceholderColors colours, saturation below 0.1 and
	// more than Flat flat pixels, are placeholders ("image not found" and the like).
	Placeholder       float64 `json:"placeholder"`
	PlaceholderColors int     `json:"placeholder_colors"`
	// Non-photo rules: more than Flat flat pixels (flat graphics, clip-art); more than White
	// near-white pixels (a mostly blank frame); or more than TextWhite near-white pixels with
	// EdgeInk of the rest being edges (text or logos on white).
	Flat      float64 `json:"flat"`
	White     float64 `json:"white"`
	TextWhite float64 `json:"text_white"`
	EdgeInk   float64 `json:"edge_ink"`
	// OutlierZ: an outlier's robust z-score of distance to the nearest class centroid is above it.
	OutlierZ float64 `json:"outlier_z"`
	// MaxSuspects and SuspectShare cap the label suspects listed: the least probable
	// max(MaxSuspects, SuspectShare x images) are kept.
	MaxSuspects  int     `json:"max_suspects"`
	SuspectShare float64 `json:"suspect_share"`
	// Folds is the number of cross-validation folds of the label check.
	Folds int `json:"folds"`
}

// Defaults returns the thresholds calibrated on the shared datasets (hymenoptera, car_vs_bus,
// chest_xray_pneumonia_small); see the package tests.
func Defaults() Thresholds {
	return Thresholds{HashDistance: 10, Similarity: 0.95, Aligned: 0.7, LookAlikeDistance: 6, MaxLookAlikes: 50, TinySide: 32, UniformStd: 4, Transparent: 0.3,
		Placeholder: 0.9, PlaceholderColors: 64, Flat: 0.88, White: 0.85, TextWhite: 0.5, EdgeInk: 0.5, OutlierZ: 4, MaxSuspects: 10, SuspectShare: 0.03, Folds: 5}
}

// junk flags tiny, uniform, transparent, placeholder and non-photo images.
func junk(es []*entry, t Thresholds) []Flag {
	var flags []Flag
	for _, e := range es {
		s := e.stats
		add := func(kind string, score float64, format string, args ...any) {
			flags = append(flags, Flag{ItemRef: e.ItemRef, Kind: kind, Score: round3(score), Reason: fmt.Sprintf(format, args...)})
		}
		if side := min(e.w, e.h); side < t.TinySide {
			add(KindTiny, float64(side), "%dx%d pixels, shorter side below %d", e.w, e.h, t.TinySide)
		}
		if s.LumaStd < t.UniformStd {
			add(KindUniform, s.LumaStd, "one flat colour: luminance std %.1f (< %.0f)", s.LumaStd, t.UniformStd)
		}
		if s.Transparent > t.Transparent {
			add(KindTransparent, s.Transparent, "%.0f%% of pixels transparent (> %.0f%%)", 100*s.Transparent, 100*t.Transparent)
		}
		if s.LumaStd < t.UniformStd {
			continue
		}
		if s.TopColors > t.Placeholder && s.Colors <= t.PlaceholderColors && s.Saturation < 0.1 && s.Flat > 0.8 {
			add(KindPlaceholder, s.TopColors, "%.0f%% of pixels in 4 colours, %d colours, %.0f%% white: a placeholder or blank graphic",
				100*s.TopColors, s.Colors, 100*s.White)
			continue
		}
		var why []string
		if s.Flat > t.Flat {
			why = append(why, fmt.Sprintf("%.0f%% flat pixels (a drawing or clip-art)", 100*s.Flat))
		}
		if s.White > t.White {
			why = append(why, fmt.Sprintf("%.0f%% blank white", 100*s.White))
		}
		if s.White > t.TextWhite && s.EdgeInk > t.EdgeInk {
			why = append(why, fmt.Sprintf("%.0f%% of the non-white pixels are sharp edges (text or logos on white)", 100*s.EdgeInk))
		}
		if len(why) > 0 {
			add(KindNonPhoto, s.Flat, "not a photo: %s", strings.Join(why, "; "))
		}
	}
	return flags
}
