package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// streams are a command's output streams; tests pass buffers.
type streams struct {
	Out, Err io.Writer
	// Progress reports whether progress bars should be drawn on Err.
	Progress bool
}

func stdStreams() streams {
	return streams{Out: os.Stdout, Err: os.Stderr, Progress: term.IsTerminal(int(os.Stderr.Fd()))}
}

// globalOptions are flags every command sees.
type globalOptions struct {
	CacheDir string
	Mirror   string
}

func newRootCmd(ios streams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "lessdata",
		Short: "Image classification when data is scarce",
		Long: `lessdata trains image classifiers on folders of tens to a few hundred images per class.

It trains a small CNN from scratch with heavy augmentation, fits a small head on the
features of a frozen pretrained backbone, compares the two honestly, and predicts with the
model you choose. All numeric work runs in TensorFlow through its C API.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	root.PersistentFlags().StringVar(&g.CacheDir, "cache-dir", "", "folder for downloaded and converted backbones (default $LESSDATA_CACHE or the user cache folder)")
	root.PersistentFlags().StringVar(&g.Mirror, "mirror", "", "folder or URL holding backbone files as <mirror>/<dir>/<file>, used instead of the public sources (default $LESSDATA_MIRROR)")
	root.AddCommand(newBackbonesCmd(ios, g), newTrainCmd(ios, g), newAugmentCmd(ios), newCompareCmd(ios, g), newPredictCmd(ios, g), newEvalCmd(ios, g), newCurveCmd(ios, g), newAuditCmd(ios, g))
	return root
}
