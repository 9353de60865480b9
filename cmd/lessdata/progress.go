package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/lessdata/lessdata/experiment"
	"github.com/lessdata/lessdata/finetune"
)

// newBar returns a progress bar on the error stream, or a silent one when it is not a terminal.
func newBar(ios streams, n int, desc string) *progressbar.ProgressBar {
	if !ios.Progress {
		return progressbar.DefaultSilent(int64(n), desc)
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(ios.Err), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
}

// bar adapts a progress bar to experiment.Bar.
type bar struct{ *progressbar.ProgressBar }

func (b bar) Set(n int) { b.ProgressBar.Set(n) }
func (b bar) Finish()   { b.ProgressBar.Finish() }

// ui shows a job's progress: bars on a terminal, lines for everything worth keeping, a
// Keras-like line per epoch.
func ui(ios streams) experiment.UI {
	u := experiment.UI{
		Log: func(line string) { fmt.Fprintln(ios.Err, line) },
		Epoch: func(label string, e finetune.Epoch, epochs int) {
			fmt.Fprintf(ios.Err, "%s epoch %d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  %.1fs\n",
				label, e.Epoch, epochs, e.Loss, e.Accuracy, e.ValLoss, e.ValAccuracy, e.Seconds)
		},
	}
	if !ios.Progress {
		return u
	}
	u.Bar = func(total int, desc string) experiment.Bar { return bar{newBar(ios, total, desc)} }
	var step *progressbar.ProgressBar
	u.Step = func(label string, p finetune.Progress) {
		if p.Step == 1 {
			step = newBar(ios, p.Steps, "")
		}
		step.Describe(fmt.Sprintf("%s epoch %d/%d loss %.4f", label, p.Epoch, p.Epochs, p.Loss))
		step.Set(p.Step)
		if p.Step == p.Steps {
			step.Finish()
		}
	}
	return u
}

// env is the experiment environment of a command.
func (f *factory) env() experiment.Env {
	return experiment.Env{Fetch: f.fetchOptions(false), UI: ui(f.IO)}
}
