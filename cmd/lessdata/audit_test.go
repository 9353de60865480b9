package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/audit"
	"github.com/lessdata/lessdata/audit/audittest"
	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/internal/shared"
)

// runAuditCmd runs `lessdata audit args...`.
func runAuditCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return run(t, append([]string{"audit"}, args...)...)
}

func TestAuditWritesReportSheetAndExclusions(t *testing.T) {
	data := t.TempDir()
	p, err := audittest.Plant(data, 8)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, err := runAuditCmd(t, "--data", data, "--out", out, "--fix")
	require.NoError(t, err, stderr)
	require.Contains(t, stderr, "classes [blobs stripes]")
	for _, want := range []string{"LEAK train/validation", "LABEL CONFLICT", "uniform", "tiny", "transparent",
		"exclusions: " + filepath.Join(out, "exclude.json") + " (6 images", "lessdata compare --data " + data + " --exclude"} {
		require.Contains(t, stdout, want)
	}

	r, err := audit.ReadReport(filepath.Join(out, "audit.json"))
	require.NoError(t, err)
	require.Len(t, r.Groups, 2)
	require.Equal(t, data, r.Data)

	f, err := os.Open(filepath.Join(out, "contact_sheet.png"))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	colours := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	require.Greater(t, len(colours), 500, "the sheet shows thumbnails, not a blank page")

	raw, err := os.ReadFile(filepath.Join(out, "exclude.json"))
	require.NoError(t, err)
	var ex []audit.Exclusion
	require.NoError(t, json.Unmarshal(raw, &ex))
	var paths []string
	for _, e := range ex {
		paths = append(paths, e.Path)
		require.NotEmpty(t, e.Reason)
	}
	require.ElementsMatch(t, []string{p.Leak, p.Conflict, p.ConflictSource, p.Grey, p.Tiny, p.Transparent}, paths)

	// The exclusion list filters the dataset the training commands scan.
	ds, err := dataset.Load(data, dataset.Options{})
	require.NoError(t, err)
	var errb bytes.Buffer
	spec := experiment.DefaultSpec().Data
	spec.Dir, spec.Exclude = data, filepath.Join(out, "exclude.json")
	kept, err := experiment.LoadData(context.Background(), spec, false, ui(streams{Out: &errb, Err: &errb}))
	require.NoError(t, err)
	require.Len(t, kept.Excluded, 6)
	require.Len(t, kept.Train, len(ds.Train)-5)
	require.Len(t, kept.Val, len(ds.Val)-1)
	require.Contains(t, errb.String(), "excluded 6 images")

	// The quick audit prints short warnings.
	errb.Reset()
	spec.Exclude = ""
	_, err = experiment.LoadData(context.Background(), spec, true, ui(streams{Out: &errb, Err: &errb}))
	require.NoError(t, err)
	require.Contains(t, errb.String(), "warning: LABEL CONFLICT")
	require.Contains(t, errb.String(), "lessdata audit --data "+data)
}

func TestAuditRefusals(t *testing.T) {
	data := t.TempDir()
	require.NoError(t, audittest.Clean(data, 4, 1))
	_, _, err := runAuditCmd(t, "--data", data, "--fix")
	require.ErrorContains(t, err, "give --out")
	_, _, err = runAuditCmd(t, "--data", filepath.Join(data, "missing"))
	require.ErrorContains(t, err, "does not exist")
	_, _, err = runAuditCmd(t, "--data", data, "--backbone", filepath.Join(data, "no", "backbone"))
	require.ErrorContains(t, err, "does not exist")
	bad := filepath.Join(t.TempDir(), "exclude.json")
	require.NoError(t, os.WriteFile(bad, []byte("[{}]"), 0o644))
	spec := experiment.DefaultSpec().Data
	spec.Dir, spec.Exclude = data, bad
	_, err = experiment.LoadData(context.Background(), spec, false, experiment.UI{})
	require.ErrorContains(t, err, "no path")

	stdout, _, err := runAuditCmd(t, "--data", data)
	require.NoError(t, err)
	require.Contains(t, stdout, "found: nothing to report")
}

func TestAuditWithBackbone(t *testing.T) {
	dir, err := backbone.Fetch(context.Background(), "mobilenet_v1_025", backbone.FetchOptions{CacheDir: testCache, Mirror: shared.Need(t, "backbones")})
	require.NoError(t, err)
	data := t.TempDir()
	_, err = audittest.Plant(data, 8)
	require.NoError(t, err)
	stdout, stderr, err := runAuditCmd(t, "--data", data, "--backbone", dir, "--cache-dir", testCache)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "label suspects and outliers (mobilenet_v1_025)")
	require.Contains(t, stdout, "label check: cross-validated accuracy")
}

// compare --exclude takes the audit's list, and its report says how many images were left out
// and why.
func TestCompareWithAuditExclusions(t *testing.T) {
	data := t.TempDir()
	_, err := audittest.Plant(data, 8)
	require.NoError(t, err)
	auditDir := filepath.Join(t.TempDir(), "audit")
	_, _, err = runAuditCmd(t, "--data", data, "--out", auditDir, "--fix")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "cmp")
	_, stderr, err := run(t, withTiny(t, "compare", "--data", data, "--out", out, "--epochs", "1", "--batch", "8",
		"--scratch-size", "24", "--transfer-views", "1", "--exclude", filepath.Join(auditDir, "exclude.json"))...)
	require.NoError(t, err, stderr)
	require.Contains(t, stderr, "excluded 6 images")
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Excluded images")
	require.Contains(t, string(md), "6 images were left out")
	var cmp experiment.Comparison
	b, err := os.ReadFile(filepath.Join(out, "compare.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cmp))
	require.Len(t, cmp.Excluded, 6)
	for _, e := range cmp.Excluded {
		require.NotEmpty(t, e.Reason)
	}
}

// Training warns about a planted leak before it starts, unless told not to.
func TestTrainWarnsFromQuickAudit(t *testing.T) {
	data := t.TempDir()
	_, err := audittest.Plant(data, 8)
	require.NoError(t, err)
	_, stderr, err := run(t, "train", "scratch", "--data", data, "--out", filepath.Join(t.TempDir(), "r"), "--epochs", "1", "--size", "24")
	require.NoError(t, err)
	require.Contains(t, stderr, "warning: LEAK")
	_, stderr, err = run(t, "train", "scratch", "--data", data, "--out", filepath.Join(t.TempDir(), "r"), "--epochs", "1", "--size", "24", "--no-audit")
	require.NoError(t, err)
	require.NotContains(t, stderr, "warning:")
}
