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

// factory is what every command gets: its streams and the global options.
type factory struct {
	IO     streams
	Global *globalOptions
}

func newRootCmd(ios streams) *cobra.Command {
	f := &factory{IO: ios, Global: &globalOptions{}}
	root := &cobra.Command{
		Use:   "lessdata",
		Short: "Image classification when data is scarce",
		Long: `lessdata trains image classifiers on folders of tens to a few hundred images per class.

It trains a small CNN from scratch with heavy augmentation, fits a linear head on the features
of a frozen pretrained backbone (chosen on your training images if you like), fine-tunes the
backbone's top blocks, compares them honestly, audits the data for leaks, and predicts,
explains (Grad-CAM), exports and serves the model you choose. All numeric work runs in
TensorFlow through its C API.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	root.PersistentFlags().StringVar(&f.Global.CacheDir, "cache-dir", "", "folder for downloaded and converted backbones and cached features (default $LESSDATA_CACHE or the user cache folder)")
	root.PersistentFlags().StringVar(&f.Global.Mirror, "mirror", "", "folder or URL holding backbone files as <mirror>/<dir>/<file>, used instead of the public sources (default $LESSDATA_MIRROR)")
	root.AddCommand(newBackbonesCmd(f), newTrainCmd(f, nil), newAugmentCmd(f, nil), newCompareCmd(f, nil), newPredictCmd(f, nil),
		newEvalCmd(f, nil), newCurveCmd(f, nil), newAuditCmd(f, nil), newExportCmd(f, nil), newServeCmd(f, nil))
	return root
}
