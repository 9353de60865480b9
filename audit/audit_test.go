package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/audit/audittest"
	"github.com/lessdata/lessdata/dataset"
)

func load(t testing.TB, dir string) *dataset.Dataset {
	t.Helper()
	ds, err := dataset.Load(dir, dataset.Options{})
	require.NoError(t, err)
	return ds
}

func audit(t testing.TB, dir string, opt Options) *Report {
	t.Helper()
	opt.Data = dir
	r, err := Run(context.Background(), load(t, dir), opt)
	require.NoError(t, err)
	var buf bytes.Buffer
	r.Summary(&buf)
	t.Log(buf.String())
	return r
}

// groupWith returns the group holding every path, or nil.
func groupWith(r *Report, paths ...string) *Group {
	for i, g := range r.Groups {
		n := 0
		for _, it := range g.Items {
			if slices.Contains(paths, it.Path) {
				n++
			}
		}
		if n == len(paths) {
			return &r.Groups[i]
		}
	}
	return nil
}

func flagged(r *Report, path string) []string {
	var kinds []string
	for _, f := range r.Flags {
		if f.Path == path {
			kinds = append(kinds, f.Kind)
		}
	}
	return kinds
}

func TestPlantedProblems(t *testing.T) {
	dir := t.TempDir()
	p, err := audittest.Plant(dir, 10)
	require.NoError(t, err)
	r := audit(t, dir, Options{Quick: true})

	leak := groupWith(r, p.LeakSource, p.Leak)
	require.NotNil(t, leak, "the resized, re-encoded validation copy is found")
	require.Equal(t, KindNear, leak.Kind)
	require.True(t, leak.Leak)
	require.False(t, leak.LabelConflict)
	require.Len(t, leak.Items, 2)

	conflict := groupWith(r, p.ConflictSource, p.Conflict)
	require.NotNil(t, conflict, "the exact copy under the other class is found")
	require.Equal(t, KindExact, conflict.Kind)
	require.Equal(t, "pixels", conflict.By)
	require.True(t, conflict.LabelConflict)
	require.False(t, conflict.Leak)
	require.Len(t, r.Groups, 2, "nothing else is a duplicate")

	require.Contains(t, flagged(r, p.Grey), KindUniform)
	require.Contains(t, flagged(r, p.Tiny), KindTiny)
	require.Contains(t, flagged(r, p.Transparent), KindTransparent)
	for _, f := range r.Flags {
		require.Contains(t, []string{p.Grey, p.Tiny, p.Transparent}, f.Path, "only the planted junk is flagged: %+v", f)
	}

	ex := r.Exclusions()
	var paths []string
	for _, e := range ex {
		paths = append(paths, e.Path)
	}
	require.ElementsMatch(t, []string{p.Leak, p.Conflict, p.ConflictSource, p.Grey, p.Tiny, p.Transparent}, paths,
		"the validation copy of the leak, both sides of the conflict and the junk; the training copy stays")

	kept, excluded := ApplyExclusions(load(t, dir), dir, ex)
	require.Len(t, excluded, len(ex))
	require.Len(t, kept.Train, 2*10+4-5) // 20 clean + conflict, grey, tiny, cutout; minus the conflict pair and 3 junk
	require.Len(t, kept.Val, 2*10)
	require.FileExists(t, filepath.Join(dir, p.Leak), "the data folder is untouched")

	warnings := r.Warnings(3)
	require.Len(t, warnings, 3)
	require.Contains(t, warnings[0], "LABEL CONFLICT")
	require.Contains(t, warnings[1], "LEAK")
	require.Contains(t, warnings[2], "... and 3 more")
}

func TestCleanSetHasNoFalseAlarms(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, audittest.Clean(dir, 10, 7))
	r := audit(t, dir, Options{Quick: true})
	require.Equal(t, 40, r.Images)
	require.Empty(t, r.Groups)
	require.Empty(t, r.Flags)
	require.Empty(t, r.Skipped)
	require.Empty(t, r.Balance.Notes)
	require.Empty(t, r.Exclusions())
	require.Empty(t, r.Warnings(10))
	var buf bytes.Buffer
	r.Summary(&buf)
	require.Contains(t, buf.String(), "found: nothing to report")
}

func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	_, err := audittest.Plant(dir, 6)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train", "blobs", "broken.jpg"), []byte("\xff\xd8 not really"), 0o644))
	r := audit(t, dir, Options{Quick: true})
	require.Len(t, r.Skipped, 1)
	require.Equal(t, "train/blobs/broken.jpg", r.Skipped[0].Path)

	out := t.TempDir()
	require.NoError(t, r.WriteJSON(filepath.Join(out, "audit.json")))
	back, err := ReadReport(filepath.Join(out, "audit.json"))
	require.NoError(t, err)
	require.Equal(t, r.Groups, back.Groups)
	require.Equal(t, r.Flags, back.Flags)
	raw, err := os.ReadFile(filepath.Join(out, "audit.json"))
	require.NoError(t, err)
	for _, key := range []string{`"label_conflict": true`, `"hash_distance"`, `"validation_share"`, `"kind": "uniform"`} {
		require.Contains(t, string(raw), key)
	}

	// The sheet of the run and the sheet of the report read back (images decoded again) agree.
	for _, rep := range []*Report{r, back} {
		path := filepath.Join(out, "sheet.png")
		require.NoError(t, rep.WriteContactSheet(path))
		f, err := os.Open(path)
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err)
		require.Equal(t, sheetWidth, img.Bounds().Dx())
		require.Greater(t, img.Bounds().Dy(), len(rep.Groups)*thumbSide)
		require.Greater(t, distinctColours(img), 1000, "thumbnails are drawn")
	}

	ex := r.Exclusions()
	require.NoError(t, WriteExclusions(filepath.Join(out, "exclude.json"), ex))
	ex2, err := ReadExclusions(filepath.Join(out, "exclude.json"))
	require.NoError(t, err)
	require.Equal(t, ex, ex2)
	require.NoError(t, os.WriteFile(filepath.Join(out, "bad.json"), []byte(`{"path": "x"}`), 0o644))
	_, err = ReadExclusions(filepath.Join(out, "bad.json"))
	require.ErrorContains(t, err, "JSON list")
}

func distinctColours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

func TestBalanceNotes(t *testing.T) {
	es := []*entry{}
	add := func(split string, class, n int) {
		for range n {
			es = append(es, &entry{ItemRef: ItemRef{Split: split}, class: class})
		}
	}
	add(SplitTrain, 0, 40)
	add(SplitValidation, 0, 10)
	add(SplitTrain, 1, 12)
	add(SplitValidation, 1, 12)
	b := balance([]string{"a", "b"}, es)
	require.InDelta(t, 40.0/12, b.Imbalance, 1e-3)
	require.Equal(t, 0.2, b.Classes[0].ValShare)
	require.Equal(t, 0.5, b.Classes[1].ValShare)
	notes := strings.Join(b.Notes, "\n")
	require.Contains(t, notes, "class b has 12 training images, less than half")
	require.Contains(t, notes, "class b puts 50% of its images in validation")
}

// Issue 13, item 7: the contact sheet numbers groups as the summary and audit.json do, shows
// the suggested class of each label suspect and full class names, and pages instead of
// leaving rows out.
func TestContactSheetPages(t *testing.T) {
	dir := t.TempDir()
	p, err := audittest.Plant(dir, 6)
	require.NoError(t, err)
	r := audit(t, dir, Options{Quick: true})
	var buf bytes.Buffer
	r.Summary(&buf)
	for i, g := range r.Groups {
		require.Equal(t, i+1, g.ID)
		require.Regexp(t, "(?m)^"+regexp.QuoteMeta(g.Title())+" +"+regexp.QuoteMeta(g.describe())+"$", buf.String())
	}
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"id":2,"kind":"near"`)

	long := "a_class_name_far_too_long_for_one_thumbnail_line"
	suspect := Flag{ItemRef: ItemRef{Path: p.LeakSource, Split: SplitTrain, Class: long}, Kind: KindLabelSuspect, Score: 0.1,
		Reason: "cross-validated p = 0.1", SuggestedClass: "stripes_" + long}
	for range 60 {
		r.Flags = append(r.Flags, suspect)
	}
	rows := r.rows()
	require.Len(t, rows, len(r.Groups)+len(r.LookAlikes)+len(r.Flags), "every group and flag has a row")
	require.True(t, strings.HasPrefix(rows[0].caption[0], "group 1: "), rows[0].caption[0])
	last := rows[len(rows)-1]
	require.Equal(t, "looks like", last.notes[0][0])
	require.Equal(t, "stripes_"+long, strings.Join(last.notes[0][1:], ""), "the suggested class is under the thumbnail, whole")
	require.Equal(t, "train/"+long+filepath.Base(p.LeakSource), strings.Join(last.labels[0], ""), "the class name is wrapped, not cut")
	for _, l := range append(last.labels[0], last.notes[0]...) {
		require.LessOrEqual(t, len(l), thumbChars)
	}
	for _, l := range last.caption {
		require.LessOrEqual(t, len(l), sheetMaxText)
	}
	require.Contains(t, strings.Join(last.caption, " "), "(looks like stripes_"+long+")")

	out := filepath.Join(t.TempDir(), "contact_sheet.png")
	pages := r.ContactSheetPages(out)
	require.Greater(t, len(pages), 1)
	require.Equal(t, filepath.Join(filepath.Dir(out), "contact_sheet_2.png"), pages[1])
	require.NoError(t, r.WriteContactSheet(out))
	total := 0
	for _, page := range pages {
		f, err := os.Open(page)
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err)
		require.LessOrEqual(t, img.Bounds().Dy(), sheetMaxPageH+200)
		total += img.Bounds().Dy()
	}
	sum := 0
	for _, row := range rows {
		sum += row.height()
	}
	require.Greater(t, total, sum, "the pages hold every row")
}

func TestWrapKeepsEveryCharacter(t *testing.T) {
	for _, s := range []string{"", "short", "two words here and more words to wrap around", "averyveryveryverylongwordwithoutspaces and more"} {
		lines := wrap(s, 10)
		require.NotEmpty(t, lines)
		for _, l := range lines {
			require.LessOrEqual(t, len(l), 10)
		}
		require.Equal(t, strings.ReplaceAll(s, " ", ""), strings.ReplaceAll(strings.Join(lines, ""), " ", ""))
	}
}
