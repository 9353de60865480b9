package dataset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/lessdata/lessdata/internal/files"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultMaxPixels is the pixel limit used when a MaxPixels option or argument is 0.
const DefaultMaxPixels int64 = 100_000_000

// Item is one labelled image file.
type Item struct {
	Path  string // file path as found under the dataset folder
	Class int    // index into the dataset's Classes
}

// Split is the labelled content of one folder of class subfolders.
type Split struct {
	Classes  []string // class folder names, sorted by name
	Items    []Item   // readable images, sorted by class then path
	Warnings []string // one-line notes: run folders ignored, classes of an odd image kind
}

// Dataset is a scanned dataset with its train and validation items.
type Dataset struct {
	Classes []string // class names sorted by name; Item.Class indexes this
	Train   []Item   // training items, sorted by class then path
	Val     []Item   // validation items, sorted by class then path
	Skipped []Skip   // files that were refused, with reasons
	// Warnings are one-line notes for the user about what was ignored or looks wrong.
	Warnings []string
}

// Drop moves the items whose paths are in failed (files that could not be decoded) from Train
// and Val to Skipped, so that Counts and len(Skipped) describe what is really used. It returns
// how many items it removed.
func (ds *Dataset) Drop(failed ...Skip) int {
	reason := make(map[string]string, len(failed))
	for _, f := range failed {
		reason[f.Path] = f.Reason
	}
	n := 0
	keep := func(items []Item) []Item {
		out := items[:0]
		for _, it := range items {
			if r, bad := reason[it.Path]; bad {
				ds.Skipped = append(ds.Skipped, Skip{it.Path, r})
				n++
				continue
			}
			out = append(out, it)
		}
		return out
	}
	ds.Train, ds.Val = keep(ds.Train), keep(ds.Val)
	return n
}

// Counts returns the number of training and validation items of each class.
func (ds *Dataset) Counts() (train, val []int) {
	return classCounts(ds.Train, len(ds.Classes)), classCounts(ds.Val, len(ds.Classes))
}

func classCounts(items []Item, k int) []int {
	c := make([]int, k)
	for _, it := range items {
		c[it.Class]++
	}
	return c
}

// DecodedBytes is the memory n decoded w x h images take (float32 RGB, as Image holds them), for
// estimating a run's memory before decoding.
func DecodedBytes(n, w, h int) int64 { return int64(n) * int64(w) * int64(h) * 3 * 4 }

// Skip records a file that was refused while scanning, and why.
type Skip struct {
	Path   string
	Reason string
}

// Options controls Load.
type Options struct {
	// ValSplit is the fraction of each class moved to validation; it is used
	// only when DIR has no train/validation subfolders, and must then lie
	// strictly between 0 and 1 (e.g. 0.3).
	ValSplit float64
	// Seed makes the stratified split reproducible.
	Seed int64
	// MaxPixels refuses images whose header claims more pixels
	// (DefaultMaxPixels when 0).
	MaxPixels int64
}

// Load scans dir, which holds either dir/train/<class>/* and
// dir/validation/<class>/* (the validation folder may also be named "val"),
// or dir/<class>/*. In the second layout (and when dir has train/ but no
// validation folder, in which case dir/train is split) each class is split
// deterministically: its paths are sorted, shuffled with a PCG generator
// seeded by (Seed, hash of the class name), and round(n*ValSplit) of them go
// to validation, with at least one on each side when the class has two or
// more images.
//
// Only file headers are read. Hidden files and folders (names starting with
// "."), __MACOSX folders, Thumbs.db and desktop.ini are ignored; so are
// folders inside class folders, and lessdata run folders (see
// RunFolderSign), which are noted in Dataset.Warnings. Files that are not
// readable images or claim more than MaxPixels pixels are listed in
// Dataset.Skipped. A split that would give no validation image is an error,
// found here, before any decoding.
func Load(dir string, opt Options) (*Dataset, error) {
	return LoadContext(context.Background(), dir, opt)
}

// LoadContext is Load that stops scanning with ctx's error when ctx is
// cancelled.
func LoadContext(ctx context.Context, dir string, opt Options) (*Dataset, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	subs, err := subdirs(dir)
	if err != nil {
		return nil, err
	}
	if err := checkSplitNames(dir, subs); err != nil {
		return nil, err
	}
	var train, val string
	for _, name := range subs {
		switch name {
		case "train":
			train = filepath.Join(dir, name)
		case "validation", "val":
			if val != "" {
				return nil, fmt.Errorf("dataset folder %s has both validation/ and val/; keep only one of them", dir)
			}
			val = filepath.Join(dir, name)
		}
	}
	switch {
	case train != "" && val != "":
		return loadSplitFolders(ctx, train, val, opt)
	case train != "":
		return loadAndSplit(ctx, train, opt)
	case val != "":
		return nil, fmt.Errorf("dataset folder %s has %s/ but no train/ folder; add %s with one subfolder per class",
			dir, filepath.Base(val), filepath.Join(dir, "train"))
	default:
		return loadAndSplit(ctx, dir, opt)
	}
}

func loadSplitFolders(ctx context.Context, trainDir, valDir string, opt Options) (*Dataset, error) {
	tr, trSkips, err := ScanSplitContext(ctx, trainDir, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	va, vaSkips, err := ScanSplitContext(ctx, valDir, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	if missVal, missTrain := diff(tr.Classes, va.Classes), diff(va.Classes, tr.Classes); len(missVal)+len(missTrain) > 0 {
		var parts []string
		if len(missVal) > 0 {
			parts = append(parts, fmt.Sprintf("missing from %s: %s", valDir, strings.Join(missVal, ", ")))
		}
		if len(missTrain) > 0 {
			parts = append(parts, fmt.Sprintf("missing from %s: %s", trainDir, strings.Join(missTrain, ", ")))
		}
		return nil, fmt.Errorf("train and validation class folders differ (%s); give both the same class subfolders",
			strings.Join(parts, "; "))
	}
	if err := needTwo(tr.Classes, trainDir); err != nil {
		return nil, err
	}
	return &Dataset{Classes: tr.Classes, Train: tr.Items, Val: va.Items, Skipped: append(trSkips, vaSkips...),
		Warnings: append(tr.Warnings, va.Warnings...)}, nil
}

// checkSplitNames refuses split folders whose names differ from train/, validation/ and val/
// only in case (Train/, Validation/...) when they hold class folders rather than images: they
// would be taken for classes.
func checkSplitNames(dir string, subs []string) error {
	for _, name := range subs {
		lower := strings.ToLower(name)
		if lower == name || (lower != "train" && lower != "validation" && lower != "val") {
			continue
		}
		inner, err := subdirs(filepath.Join(dir, name))
		if err != nil || len(inner) == 0 {
			continue // it holds images: a class that happens to be called so
		}
		return fmt.Errorf("dataset folder %s has %s/ holding folders (%s): lessdata expects lowercase train/ and "+
			"validation/ (or val/), each with one subfolder per class; rename %s/ to %s/",
			dir, name, listNames(inner), name, lower)
	}
	return nil
}

// listNames joins up to four names, with the count of the rest.
func listNames(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}

func loadAndSplit(ctx context.Context, dir string, opt Options) (*Dataset, error) {
	if !(opt.ValSplit > 0 && opt.ValSplit < 1) {
		return nil, fmt.Errorf("dataset folder %s has no train/ and validation/ subfolders, so it is split by ValSplit, "+
			"which is %v; set it between 0 and 1 (e.g. 0.3)", dir, opt.ValSplit)
	}
	sp, skips, err := ScanSplitContext(ctx, dir, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	if err := needTwo(sp.Classes, dir); err != nil {
		return nil, err
	}
	ds := &Dataset{Classes: sp.Classes, Skipped: skips, Warnings: sp.Warnings}
	var single []string // classes of one image: nothing of theirs goes to validation
	for ci, name := range sp.Classes {
		var items []Item
		for _, it := range sp.Items {
			if it.Class == ci {
				items = append(items, it)
			}
		}
		n := len(items)
		nVal := int(math.Round(float64(n) * opt.ValSplit))
		if n >= 2 {
			nVal = min(max(nVal, 1), n-1)
		} else {
			nVal = 0
			single = append(single, name)
		}
		h := fnv.New64a()
		h.Write([]byte(name))
		r := rand.New(rand.NewPCG(uint64(opt.Seed), h.Sum64()))
		r.Shuffle(n, func(i, j int) { items[i], items[j] = items[j], items[i] })
		val, train := items[:nVal], items[nVal:]
		sortItems(val)
		sortItems(train)
		ds.Val = append(ds.Val, val...)
		ds.Train = append(ds.Train, train...)
	}
	if len(ds.Val) == 0 {
		return nil, fmt.Errorf("dataset folder %s gives no validation image: each class has a single image (%s), and a "+
			"class needs 2 to give one to validation; add images, or lay out %s and %s with images in both",
			dir, listNames(single), filepath.Join(dir, "train", "<class>"), filepath.Join(dir, "validation", "<class>"))
	}
	if len(single) > 0 {
		ds.Warnings = append(ds.Warnings, fmt.Sprintf("%d classes have a single image (%s): it is used for training, "+
			"so validation does not test them; add images to them", len(single), listNames(single)))
	}
	return ds, nil
}

// ScanSplitContext scans one folder of class subfolders (dir/<class>/*)
// without decoding pixels. It returns the readable images and the refused
// files. It fails if dir has no class folders or a class folder has no
// readable image, and stops with ctx's error when ctx is cancelled.
// maxPixels is DefaultMaxPixels when 0.
func ScanSplitContext(ctx context.Context, dir string, maxPixels int64) (*Split, []Skip, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if err := checkDir(dir); err != nil {
		return nil, nil, err
	}
	folders, err := subdirs(dir)
	if err != nil {
		return nil, nil, err
	}
	sp := &Split{}
	var classes []string
	for _, name := range folders {
		if sign := RunFolderSign(filepath.Join(dir, name)); sign != "" {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("ignored %s: it is a lessdata run or audit folder (it holds %s), not a class",
				filepath.Join(dir, name), sign))
			continue
		}
		classes = append(classes, name)
	}
	if len(classes) == 0 {
		hint := ""
		if n := countFiles(dir); n > 0 {
			hint = fmt.Sprintf(" (it holds %d loose files)", n)
		}
		return nil, nil, fmt.Errorf("no class folders in %s%s; put the images of each class in their own subfolder "+
			"(%s/<class>/*), or use train/<class>/ and validation/<class>/", dir, hint, dir)
	}
	sp.Classes = classes
	var skips []Skip
	kinds := make([]map[string]int, len(classes)) // per class: image format -> count
	for ci, name := range classes {
		cdir := filepath.Join(dir, name)
		paths, formats, sk, err := scanClass(ctx, cdir, maxPixels)
		if err != nil {
			return nil, nil, err
		}
		skips = append(skips, sk...)
		if len(paths) == 0 {
			if inner, _ := subdirs(cdir); len(inner) > 0 {
				return nil, nil, fmt.Errorf("class folder %s holds folders (%s) but no images: lessdata expects %s "+
					"(or train/<class>/ and validation/<class>/ in it); if those folders are the classes, pass %s",
					cdir, listNames(inner), filepath.Join(dir, "<class>", "<image>"), cdir)
			}
			return nil, nil, fmt.Errorf("class folder %s has no readable images (%s); add images or remove the folder",
				cdir, describeSkips(sk))
		}
		kinds[ci] = map[string]int{}
		for i, p := range paths {
			sp.Items = append(sp.Items, Item{Path: p, Class: ci})
			kinds[ci][formats[i]]++
		}
	}
	sp.Warnings = append(sp.Warnings, oddKinds(dir, classes, kinds)...)
	return sp, skips, nil
}

// oddKinds warns about each class whose images are all of formats that no other class uses
// (PNG plots among JPEG photos): it is likely not a class at all.
func oddKinds(dir string, classes []string, kinds []map[string]int) []string {
	var out []string
	for ci, mine := range kinds {
		others := map[string]bool{}
		for cj, theirs := range kinds {
			for f := range theirs {
				if cj != ci {
					others[f] = true
				}
			}
		}
		shared := false
		for f := range mine {
			shared = shared || others[f]
		}
		if shared || len(others) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("class folder %s holds only %s images, which no other class has (%s): "+
			"check that it is a class and not, say, plots or screenshots",
			filepath.Join(dir, classes[ci]), formatList(mine), formatList(others)))
	}
	return out
}

// formatList names the image formats that are keys of m, sorted, upper case.
func formatList[V any](m map[string]V) string {
	var fs []string
	for f := range m {
		fs = append(fs, strings.ToUpper(f))
	}
	sort.Strings(fs)
	return strings.Join(fs, ", ")
}

// runFiles are the files by which a folder is recognised as a lessdata run or audit: the run
// marker (bundle.MarkerFile) and the files runs wrote before it existed. The names are repeated
// here because package bundle sits above dataset.
var runFiles = []string{".lessdata-run.json", "bundle.json", "history.json", "compare.json", "cv.json", "curve.json", "audit.json"}

// RunFolderSign returns the name of the file that shows dir to be a lessdata run or audit folder
// ("config.json and cells/" for a grid), or "" when it is not one. Such folders are never classes.
func RunFolderSign(dir string) string {
	isFile := func(name string) bool {
		st, err := os.Lstat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	for _, name := range runFiles {
		if isFile(name) {
			return name
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "cells")); err == nil && st.IsDir() && isFile("config.json") {
		return "config.json and cells/"
	}
	return ""
}

// scanClass lists the image files directly inside dir (following symlinks),
// checking each header; formats[i] is paths[i]'s image format.
func scanClass(ctx context.Context, dir string, maxPixels int64) (paths, formats []string, skips []Skip, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read class folder %s: %w; check its permissions", dir, err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		if Ignored(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(p) // follows symlinks; a symlink loop fails here instead of hanging
		switch {
		case err != nil:
			skips = append(skips, Skip{p, fmt.Sprintf("cannot read (broken symlink?): %v", err)})
		case info.IsDir():
			// sub-subfolders are not part of the layout
		case !info.Mode().IsRegular():
			skips = append(skips, Skip{p, "not a regular file"})
		case info.Size() == 0:
			skips = append(skips, Skip{p, "empty file (0 bytes)"})
		default:
			if format, err := Probe(p, maxPixels); err != nil {
				skips = append(skips, Skip{p, err.Error()})
			} else {
				paths, formats = append(paths, p), append(formats, format)
			}
		}
	}
	return paths, formats, skips, nil
}

// Probe checks the header of one file without decoding pixels: it must be a regular file holding
// a supported image within the pixel limit (DefaultMaxPixels when maxPixels is 0). It returns the
// image's format ("jpeg", "png", ...).
func Probe(path string, maxPixels int64) (format string, err error) {
	f, err := files.OpenRegular(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w, h, format, err := imageHeader(f)
	if err != nil {
		return "", err
	}
	return format, checkPixels(w, h, maxPixels)
}

func checkDir(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dataset folder %s does not exist; check the path: %w", dir, err)
	}
	if err != nil {
		return fmt.Errorf("dataset folder %s: %w; check the path and its permissions", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is a file, not a folder; pass the folder that holds the class subfolders", dir)
	}
	return nil
}

// subdirs returns the sorted names of the non-hidden folders (or symlinks to
// folders) inside dir.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read dataset folder %s: %w; check its permissions", dir, err)
	}
	var names []string
	for _, e := range ents {
		if Ignored(e.Name()) {
			continue
		}
		if info, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && info.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func countFiles(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if !Ignored(e.Name()) && !e.IsDir() {
			n++
		}
	}
	return n
}

// Ignored reports whether a file or folder name is left out of every listing: hidden names
// (starting with "."), __MACOSX, and the files Windows leaves in image folders (Thumbs.db,
// desktop.ini).
func Ignored(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__MACOSX" ||
		strings.EqualFold(name, "Thumbs.db") || strings.EqualFold(name, "desktop.ini")
}

func needTwo(classes []string, dir string) error {
	if len(classes) < 2 {
		return fmt.Errorf("need at least 2 classes, found %d (%s) in %s; add a subfolder of images for each other class",
			len(classes), strings.Join(classes, ", "), dir)
	}
	return nil
}

// diff returns the names in a that are not in b.
func diff(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func describeSkips(sk []Skip) string {
	if len(sk) == 0 {
		return "it holds no image files"
	}
	var parts []string
	for i, s := range sk {
		if i == 3 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %s", filepath.Base(s.Path), s.Reason))
	}
	return fmt.Sprintf("%d files skipped: %s", len(sk), strings.Join(parts, "; "))
}

func sortItems(items []Item) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Class != items[j].Class {
			return items[i].Class < items[j].Class
		}
		return items[i].Path < items[j].Path
	})
}

// bufReader wraps r for the header readers, which need Peek/ReadByte.
func bufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 4096) }
