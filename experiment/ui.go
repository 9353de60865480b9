package experiment

import (
	"fmt"

	"github.com/lessdata/lessdata/finetune"
)

// Bar is a progress bar.
type Bar interface {
	Set(done int)
	Finish()
}

// UI is how a job reports progress to people. Every field may be nil.
type UI struct {
	// Bar starts a progress bar of total steps.
	Bar func(total int, desc string) Bar
	// Log prints one line: what the data holds, skipped files, warnings, epoch summaries.
	Log func(line string)
	// Step reports a training step of the method labelled label.
	Step func(label string, p finetune.Progress)
	// Epoch reports a finished epoch of the method labelled label.
	Epoch func(label string, e finetune.Epoch, epochs int)
}

type silentBar struct{}

func (silentBar) Set(int) {}
func (silentBar) Finish() {}

func (u UI) bar(total int, desc string) Bar {
	if u.Bar == nil {
		return silentBar{}
	}
	return u.Bar(total, desc)
}

func (u UI) logf(format string, args ...any) {
	if u.Log != nil {
		u.Log(fmt.Sprintf(format, args...))
	}
}

func (u UI) warnf(format string, args ...any) { u.logf("warning: "+format, args...) }
