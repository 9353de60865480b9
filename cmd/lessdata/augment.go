package main

import (
	"context"
	"fmt"
	"image/png"
	"os"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
)

func newAugmentCmd(f *factory, runF func(context.Context, *previewOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "augment",
		Short: "See what the augmentation does to your images",
	}
	cmd.AddCommand(newPreviewCmd(f, runF))
	return cmd
}

type previewOptions struct {
	Path           string
	Out            string
	Rows, Variants int
	Size           int
	Seed           uint64
	FillMode       string
}

func newPreviewCmd(f *factory, runF func(context.Context, *previewOptions) error) *cobra.Command {
	o := &previewOptions{}
	cmd := &cobra.Command{
		Use:   "preview DIR|IMAGE --out grid.png",
		Short: "Write a grid of augmented samples: each row an image, then random variants of it",
		Long: `Write a PNG grid that shows the article's augmentation (rotation 15, shifts 0.2, shear 0.2,
zoom 0.2, flips, brightness 0.5-1.5, reflect fill) on your images. Each row starts with the
resized original, followed by random variants. DIR may be a dataset folder (rows are taken from
its training images, class by class in turn) or a single image.`,
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
	cmd.Flags().StringVar(&o.Out, "out", "", "PNG file to write")
	cmd.Flags().IntVar(&o.Rows, "rows", 4, "number of source images")
	cmd.Flags().IntVar(&o.Variants, "variants", 7, "random variants per image")
	cmd.Flags().IntVar(&o.Size, "size", 128, "images are resized to size x size")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&o.FillMode, "fill-mode", "reflect", "how uncovered pixels are filled: reflect, nearest, constant or wrap")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runPreview(ctx context.Context, ios streams, o *previewOptions) error {
	if o.Rows < 1 || o.Variants < 1 || o.Size < 8 {
		return fmt.Errorf("--rows and --variants must be at least 1 and --size at least 8")
	}
	p := augment.Article()
	fill, err := augment.ParseFillMode(o.FillMode)
	if err != nil {
		return err
	}
	p.FillMode = fill
	// The preview shows the geometry and brightness; normalisation is not something to look at.
	p.FeaturewiseCenter, p.FeaturewiseStdNormalization = false, false
	st, err := os.Stat(o.Path)
	if err != nil {
		return err
	}
	var paths []string
	if st.IsDir() {
		ds, err := dataset.Load(o.Path, dataset.Options{ValSplit: 0.3})
		if err != nil {
			return err
		}
		// Round-robin over classes so every class shows.
		byClass := make([][]string, len(ds.Classes))
		for _, it := range ds.Train {
			byClass[it.Class] = append(byClass[it.Class], it.Path)
		}
		for i := 0; len(paths) < o.Rows; i++ {
			added := false
			for _, c := range byClass {
				if i < len(c) && len(paths) < o.Rows {
					paths, added = append(paths, c[i]), true
				}
			}
			if !added {
				break
			}
		}
	} else {
		paths = []string{o.Path}
	}
	aug, err := augment.New(p, nil, o.Seed)
	if err != nil {
		return err
	}
	var tiles []*dataset.Image
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := dataset.LoadImage(path, o.Size, o.Size, 0, tfdecode.Decode)
		if err != nil {
			return err
		}
		tiles = append(tiles, img)
		for v := 0; v < o.Variants; v++ {
			dst := &dataset.Image{}
			augment.Apply(dst, img, aug.Draw(img.W, img.H), p.FillMode, p.Cval)
			tiles = append(tiles, dst)
		}
	}
	f, err := os.Create(o.Out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, augment.Grid(tiles, o.Variants+1, 4)); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "%s: %d images x %d variants\n", o.Out, len(paths), o.Variants)
	return nil
}
