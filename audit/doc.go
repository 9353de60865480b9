// Package audit inspects a small image dataset before training: exact and near duplicates
// within and across splits (leaks), duplicates whose labels disagree, images that do not look
// like their class (label suspects under cross-validated predictions on backbone features, and
// outliers), placeholders and junk (tiny, uniform, transparent, non-photo images), class and
// split balance, and files that cannot be decoded. It trains no user model and never changes
// the data folder: --fix style cleaning goes through an exclusion list (exclude.go).
//
// A near copy takes two independent signals: a close perceptual hash (or, with a backbone,
// close features) puts a pair forward, and its pixels, aligned by a small shift and scale,
// must correlate in their detail (similar.go); with a backbone its features must agree too.
// Pairs put forward but not confirmed are look-alikes (different photos of one layout, such as
// hands in one pose on a white table): listed in the report and on the contact sheet, never
// excluded.
package audit
