// Command lessdata trains and compares image classifiers for datasets of tens to a few hundred
// images per class: a small CNN from scratch, and a frozen pretrained backbone with a small head.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd(stdStreams())
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lessdata:", err)
		stop()
		os.Exit(1)
	}
}
