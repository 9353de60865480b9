package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/lessdata/lessdata/tf"
)

// ContentDigest returns the sha256 over a SavedModel folder's model files: saved_model.pb and
// every file under variables/, each as its slash-separated relative path, a zero byte, its size
// and its bytes, in path order. The spec records it (Spec.Digest) so that a damaged folder is
// noticed before TensorFlow reads it.
func ContentDigest(dir string) (string, error) {
	paths := []string{"saved_model.pb"}
	err := filepath.WalkDir(filepath.Join(dir, "variables"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == filepath.Join(dir, "variables") {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", dir, err)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, rel := range paths {
		if err := hashFile(h, dir, rel); err != nil {
			return "", fmt.Errorf("digest of %s: %w", dir, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, dir, rel string) error {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s\x00%d\x00", rel, st.Size())
	_, err = io.Copy(h, f)
	return err
}

// ErrDamaged is wrapped by VerifyDigest's error when a folder's model files are missing or do
// not match the digest its spec records.
var ErrDamaged = errors.New("damaged")

// VerifyDigest checks dir's model files against the digest its spec records; a spec without a
// digest (a folder written by an older lessdata or by hand) passes.
func VerifyDigest(dir string, s *Spec) error {
	if s.Digest == "" {
		return nil
	}
	got, err := ContentDigest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is %w: %w", dir, ErrDamaged, err)
	}
	if err != nil {
		return err
	}
	if got != s.Digest {
		return fmt.Errorf("%s is %w: its saved_model.pb or variables do not match the digest in %s", dir, ErrDamaged, SpecFile)
	}
	return nil
}

// writeBackbone writes g with its one signature to dir as a SavedModel, then the spec with the
// digest of what was written.
func writeBackbone(dir string, g *tf.Graph, sig tf.Signature, spec *Spec) error {
	if err := tf.WriteSavedModel(dir, g, nil, []tf.Signature{sig}); err != nil {
		return err
	}
	digest, err := ContentDigest(dir)
	if err != nil {
		return err
	}
	spec.Digest = digest
	return WriteSpec(dir, spec)
}
