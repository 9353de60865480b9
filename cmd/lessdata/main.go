// Command lessdata trains and compares image classifiers for datasets of tens to a few hundred
// images per class: a small CNN from scratch, and a frozen pretrained backbone with a small head.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/tf"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitInterrupted is the exit status of every command stopped by Ctrl-C or SIGTERM (128 +
// SIGINT, as shells report it); the work done so far is kept, as the message says.
const exitInterrupted = 130

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd(stdStreams())
	// Before a command runs, and so before any goroutine of ours starts (fd 2 is redirected for a
	// moment); --help and --version skip it and start without loading TensorFlow.
	cmd.PersistentPreRun = func(*cobra.Command, []string) { tf.QuietNativeLogs() }
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lessdata:", err)
		stop()
		if errors.Is(err, experiment.ErrInterrupted) || errors.Is(err, context.Canceled) {
			os.Exit(exitInterrupted)
		}
		os.Exit(1)
	}
}
