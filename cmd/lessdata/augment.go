package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/internal/files"
)

func newAugmentCmd(f *factory, runF func(context.Context, *previewOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "augment",
		Short: "See what the augmentation does to your images",
	}
	cmd.AddCommand(newPreviewCmd(f, runF))
	return cmd
}

// previewOptions are augment preview's options.
type previewOptions struct {
	Path           string
	Out            string
	Force          bool
	Rows, Variants int
	Size           int
	Seed           uint64
	FillMode       string
	Augment        string
}

func newPreviewCmd(f *factory, runF func(context.Context, *previewOptions) error) *cobra.Command {
	o := &previewOptions{}
	cmd := &cobra.Command{
		Use:   "preview DIR|IMAGE --out grid.png",
		Short: "Write a grid of augmented samples: each row an image, then random variants of it",
		Long: `Write a PNG grid that shows an augmentation on your images: the article's (rotation 15,
shifts 0.2, shear 0.2, zoom 0.2, flips, brightness 0.5-1.5, reflect fill) or the light one
transfer may choose (horizontal flips, small shifts and zoom, mild brightness). Each row starts
with the resized original, followed by random variants. DIR may be a dataset folder (rows are
taken from its training images, class by class in turn) or a single image.`,
		Example: `  lessdata augment preview ../shared/datasets/car_vs_bus --out grid.png`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Path = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runPreview(c.Context(), f.IO, o)
		},
	}
	cmd.Flags().StringVar(&o.Out, "out", "", "PNG file to write (.png)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing --out file")
	cmd.Flags().IntVar(&o.Rows, "rows", 4, "number of source images")
	cmd.Flags().IntVar(&o.Variants, "variants", 7, "random variants per image")
	cmd.Flags().IntVar(&o.Size, "size", 128, "images are resized to size x size")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&o.FillMode, "fill-mode", "reflect", "how uncovered pixels are filled: reflect, nearest, constant or wrap")
	cmd.Flags().StringVar(&o.Augment, "augment", "article", "augmentation to show: article or light")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runPreview(ctx context.Context, ios streams, o *previewOptions) error {
	switch {
	case o.Rows < 1 || o.Variants < 1 || o.Size < 8:
		return fmt.Errorf("--rows and --variants must be at least 1 and --size at least 8")
	case !strings.EqualFold(filepath.Ext(o.Out), ".png"):
		return fmt.Errorf("--out %s: the grid is a PNG image; name the file .png", o.Out)
	}
	if st, err := os.Lstat(o.Out); err == nil && (!o.Force || !st.Mode().IsRegular()) {
		return fmt.Errorf("--out %s already exists: choose another file or pass --force to replace it", o.Out)
	}
	p := map[string]augment.Params{"article": augment.Article(), "light": augment.Light()}[o.Augment]
	if p == (augment.Params{}) {
		return fmt.Errorf("--augment %q: use article or light", o.Augment)
	}
	fill, err := augment.ParseFillMode(o.FillMode)
	if err != nil {
		return err
	}
	p.FillMode = fill
	paths, err := previewPaths(ctx, o.Path, o.Rows)
	if err != nil {
		return err
	}
	var imgs []*dataset.Image
	for _, path := range paths {
		img, err := dataset.LoadImage(path, o.Size, o.Size, 0, tfdecode.Decode)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	grid, err := augment.Preview(ctx, imgs, p, o.Variants, o.Seed)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, grid); err != nil {
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	if err := files.WriteAtomic(o.Out, buf.Bytes()); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(ios.Out, "%s: %d images x %d variants\n", o.Out, len(paths), o.Variants)
	return nil
}

// previewPaths picks up to rows images: the file itself, or a dataset's training images, one
// class after another so that every class shows.
func previewPaths(ctx context.Context, path string, rows int) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ds, err := dataset.LoadContext(ctx, path, dataset.Options{ValSplit: 0.3})
	if err != nil {
		return nil, err
	}
	byClass := make([][]string, len(ds.Classes))
	for _, it := range ds.Train {
		byClass[it.Class] = append(byClass[it.Class], it.Path)
	}
	var paths []string
	for i := 0; len(paths) < rows; i++ {
		added := false
		for _, c := range byClass {
			if i < len(c) && len(paths) < rows {
				paths, added = append(paths, c[i]), true
			}
		}
		if !added {
			break
		}
	}
	return paths, nil
}
