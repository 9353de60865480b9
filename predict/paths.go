package predict

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/internal/files"
)

// imageExts are the file name endings that make a file under a folder argument an image to
// label even when its header is broken (so that it is reported, not silently left out).
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true,
	".webp": true, ".tif": true, ".tiff": true}

// ExpandPaths turns predict's arguments into the files to label, in argument order. A file stands
// for itself; a folder for the image files under it, found by name (.jpg, .png...) or by header,
// leaving out hidden names, Thumbs.db and desktop.ini, and not following links to folders. Only
// regular files are returned: an argument that does not exist or is neither a regular file nor a
// folder, and anything under a folder that cannot be read or is a FIFO, device or socket with an
// image's name, becomes a problem: a Result holding only Path and Err, to report with the others.
func ExpandPaths(args []string) (paths []string, problems []Result) {
	for _, a := range args {
		info, err := os.Stat(a)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, Result{Path: a, Err: fmt.Errorf("%s does not exist; check the path", a)})
		case err != nil:
			problems = append(problems, Result{Path: a, Err: fmt.Errorf("%s: %w", a, err)})
		case info.IsDir():
			p, q := expandDir(a)
			paths, problems = append(paths, p...), append(problems, q...)
		default:
			if err := files.CheckRegular(a); err != nil {
				problems = append(problems, Result{Path: a, Err: err})
			} else {
				paths = append(paths, a)
			}
		}
	}
	return paths, problems
}

// expandDir lists the image files under dir, in lexical order.
func expandDir(dir string) (paths []string, problems []Result) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, Result{Path: p, Err: fmt.Errorf("cannot read %s: %w", p, err)})
			return nil // WalkDir skips the folder it could not read
		}
		if p == dir {
			return nil
		}
		if dataset.Ignored(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		byName := imageExts[strings.ToLower(filepath.Ext(p))]
		info, err := os.Stat(p) // follows a link to a file
		switch {
		case err != nil:
			if byName {
				problems = append(problems, Result{Path: p, Err: fmt.Errorf("cannot read %s (broken link?): %w", p, err)})
			}
		case info.IsDir():
			// a link to a folder: not followed, so that a loop cannot trap the walk
		case !info.Mode().IsRegular():
			if err := files.CheckRegular(p); err != nil && byName {
				problems = append(problems, Result{Path: p, Err: err})
			}
		case byName:
			paths = append(paths, p)
		default:
			if _, err := dataset.Probe(p, 0); err == nil {
				paths = append(paths, p)
			}
		}
		return nil
	})
	return paths, problems
}
