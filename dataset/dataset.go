// Package dataset finds the labelled images of a small image-classification
// dataset on disk and decodes them robustly into RGB float images.
//
// Two folder layouts are recognised by [Load]:
//
//	DIR/train/<class>/*  and  DIR/validation/<class>/*  (or DIR/val/<class>/*)
//	DIR/<class>/*        split per class into train and validation by Options.ValSplit
//
// Scanning reads only file headers, so it is fast and refuses non-images and
// oversized images before any pixels are decoded. Pixels are decoded later by
// [DecodeFile], [LoadImage] or a [Cache].
package dataset

import (
	"bufio"
	"errors"
	"fmt"
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
	Classes []string // class folder names, sorted by name
	Items   []Item   // readable images, sorted by class then path
}

// Dataset is a scanned dataset with its train and validation items.
type Dataset struct {
	Classes []string // class names sorted by name; Item.Class indexes this
	Train   []Item   // training items, sorted by class then path
	Val     []Item   // validation items, sorted by class then path
	Skipped []Skip   // files that were refused, with reasons
}

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
// ".") and __MACOSX folders are ignored; so are folders inside class folders.
// Files that are not readable images or claim more than MaxPixels pixels are
// listed in Dataset.Skipped.
func Load(dir string, opt Options) (*Dataset, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	subs, err := subdirs(dir)
	if err != nil {
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
		return loadSplitFolders(train, val, opt)
	case train != "":
		return loadAndSplit(train, opt)
	case val != "":
		return nil, fmt.Errorf("dataset folder %s has %s/ but no train/ folder; add %s with one subfolder per class",
			dir, filepath.Base(val), filepath.Join(dir, "train"))
	default:
		return loadAndSplit(dir, opt)
	}
}

func loadSplitFolders(trainDir, valDir string, opt Options) (*Dataset, error) {
	tr, trSkips, err := ScanSplit(trainDir, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	va, vaSkips, err := ScanSplit(valDir, opt.MaxPixels)
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
	return &Dataset{Classes: tr.Classes, Train: tr.Items, Val: va.Items, Skipped: append(trSkips, vaSkips...)}, nil
}

func loadAndSplit(dir string, opt Options) (*Dataset, error) {
	if !(opt.ValSplit > 0 && opt.ValSplit < 1) {
		return nil, fmt.Errorf("dataset folder %s has no train/ and validation/ subfolders, so it is split by ValSplit, "+
			"which is %v; set it between 0 and 1 (e.g. 0.3)", dir, opt.ValSplit)
	}
	sp, skips, err := ScanSplit(dir, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	if err := needTwo(sp.Classes, dir); err != nil {
		return nil, err
	}
	ds := &Dataset{Classes: sp.Classes, Skipped: skips}
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
	return ds, nil
}

// ScanSplit scans one folder of class subfolders (dir/<class>/*) without
// decoding pixels. It returns the readable images and the refused files. It
// fails if dir has no class folders or a class folder has no readable image.
// maxPixels is DefaultMaxPixels when 0.
func ScanSplit(dir string, maxPixels int64) (*Split, []Skip, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if err := checkDir(dir); err != nil {
		return nil, nil, err
	}
	classes, err := subdirs(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(classes) == 0 {
		hint := ""
		if n := countFiles(dir); n > 0 {
			hint = fmt.Sprintf(" (it holds %d loose files)", n)
		}
		return nil, nil, fmt.Errorf("no class folders in %s%s; put the images of each class in their own subfolder "+
			"(%s/<class>/*), or use train/<class>/ and validation/<class>/", dir, hint, dir)
	}
	sp := &Split{Classes: classes}
	var skips []Skip
	for ci, name := range classes {
		cdir := filepath.Join(dir, name)
		paths, sk, err := scanClass(cdir, maxPixels)
		if err != nil {
			return nil, nil, err
		}
		skips = append(skips, sk...)
		if len(paths) == 0 {
			return nil, nil, fmt.Errorf("class folder %s has no readable images (%s); add images or remove the folder",
				cdir, describeSkips(sk))
		}
		for _, p := range paths {
			sp.Items = append(sp.Items, Item{Path: p, Class: ci})
		}
	}
	return sp, skips, nil
}

// scanClass lists the image files directly inside dir (following symlinks),
// checking each header.
func scanClass(dir string, maxPixels int64) ([]string, []Skip, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read class folder %s: %w; check its permissions", dir, err)
	}
	var paths []string
	var skips []Skip
	for _, e := range ents {
		if ignored(e.Name()) {
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
			if err := probeFile(p, maxPixels); err != nil {
				skips = append(skips, Skip{p, err.Error()})
			} else {
				paths = append(paths, p)
			}
		}
	}
	return paths, skips, nil
}

// probeFile checks the header of one file: it must be a supported image
// within the pixel limit.
func probeFile(path string, maxPixels int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, h, _, err := imageHeader(f)
	if err != nil {
		return err
	}
	return checkPixels(w, h, maxPixels)
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
		if ignored(e.Name()) {
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
		if !ignored(e.Name()) && !e.IsDir() {
			n++
		}
	}
	return n
}

func ignored(name string) bool { return strings.HasPrefix(name, ".") || name == "__MACOSX" }

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
