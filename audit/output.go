package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/lessdata/lessdata/internal/files"
)

// WriteJSON writes the report to path as indented JSON (atomically).
func (r *Report) WriteJSON(path string) error {
	if err := files.WriteJSON(path, r); err != nil {
		return fmt.Errorf("audit report: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteJSON. Its contact sheet decodes the images again
// from the data folder.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit report: %w", err)
	}
	r := &Report{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("read audit report %s: %w", path, err)
	}
	return r, nil
}

// Counts returns the number of groups and flags of each kind, with "leak" and
// "label-conflict" counting the groups so marked, "look-alike" the look-alike pairs found and
// "unreadable" the skipped files.
func (r *Report) Counts() map[string]int {
	c := map[string]int{}
	for _, g := range r.Groups {
		c[g.Kind]++
		if g.Leak {
			c["leak"]++
		}
		if g.LabelConflict {
			c["label-conflict"]++
		}
	}
	for _, f := range r.Flags {
		c[f.Kind]++
	}
	if n := max(r.LookAlikesFound, len(r.LookAlikes)); n > 0 {
		c[KindLookAlike] = n
	}
	if len(r.Skipped) > 0 {
		c["unreadable"] = len(r.Skipped)
	}
	return c
}

// countOrder is the order kinds are listed in.
var countOrder = []string{"leak", "label-conflict", KindExact, KindNear, KindLookAlike, KindPlaceholder, KindUniform, KindTiny,
	KindTransparent, KindNonPhoto, KindLabelSuspect, KindOutlier, "unreadable"}

// Summary writes a compact terminal table: the balance, the counts per kind, then one line per
// group member (groups numbered as on the contact sheet), per look-alike and per flag.
func (r *Report) Summary(w io.Writer) {
	checks := "duplicates, junk, balance"
	if r.Backbone != "" {
		checks += ", feature duplicates, label suspects and outliers (" + r.Backbone + ")"
	}
	fmt.Fprintf(w, "audit of %s: %d images, %d classes, checks: %s (%.1fs)\n", r.Data, r.Images, len(r.Classes), checks, r.Seconds)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tTRAIN\tVALIDATION\tVAL SHARE")
	for _, c := range r.Balance.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f%%\n", c.Class, c.Train, c.Validation, 100*c.ValShare)
	}
	tw.Flush()
	for _, n := range r.Balance.Notes {
		fmt.Fprintf(w, "balance: %s\n", n)
	}
	counts := r.Counts()
	var parts []string
	for _, k := range countOrder {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		fmt.Fprintln(w, "found: nothing to report")
		return
	}
	fmt.Fprintf(w, "found: %s\n", strings.Join(parts, ", "))
	if r.CVAccuracy > 0 {
		fmt.Fprintf(w, "label check: cross-validated accuracy %.3f, %d label suspects, the %d least probable listed\n",
			r.CVAccuracy, r.SuspectsFound, counts[KindLabelSuspect])
	}
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, g := range append(append([]Group(nil), r.Groups...), r.LookAlikes...) {
		fmt.Fprintf(tw, "%s\t%s\n", g.Title(), g.describe())
		for _, it := range g.Items {
			fmt.Fprintf(tw, "\t  %s\t%s/%s\n", it.Path, it.Split, it.Class)
		}
	}
	if r.LookAlikesFound > len(r.LookAlikes) {
		fmt.Fprintf(tw, "look-alikes\tthe %d most alike of %d listed\n", len(r.LookAlikes), r.LookAlikesFound)
	}
	for _, f := range r.Flags {
		extra := ""
		if f.SuggestedClass != "" {
			extra = " (looks like " + f.SuggestedClass + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\n", f.Kind, f.Path, f.Reason, extra)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(tw, "unreadable\t%s\t%s\n", s.Path, s.Reason)
	}
	tw.Flush()
}

// Warnings returns short lines (at most max when max > 0) on the problems found (leaks and
// label conflicts first; look-alikes, which are not problems, in one line), ending with a line
// on how many more there are, for the training commands to print before they start.
func (r *Report) Warnings(max int) []string {
	var lines []string
	for _, g := range r.Groups {
		var paths []string
		for _, it := range g.Items {
			paths = append(paths, it.Path)
		}
		lines = append(lines, fmt.Sprintf("%s: %s", g.describe(), strings.Join(paths, ", ")))
	}
	if n := r.Counts()[KindLookAlike]; n > 0 {
		lines = append(lines, fmt.Sprintf("%d look-alike pairs (close perceptual hashes, different pixels): not copies, kept", n))
	}
	for _, f := range r.Flags {
		lines = append(lines, fmt.Sprintf("%s %s: %s", f.Kind, f.Path, f.Reason))
	}
	for _, n := range r.Balance.Notes {
		lines = append(lines, "balance: "+n)
	}
	if max > 0 && len(lines) > max {
		more := len(lines) - (max - 1)
		lines = append(lines[:max-1], fmt.Sprintf("... and %d more (see lessdata audit)", more))
	}
	return lines
}
