package experiment

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/lessdata/lessdata/dataset"
)

// memoryShare is the part of the machine's memory a job may plan to use.
const memoryShare = 0.75

// totalMemory returns the machine's memory in bytes (0 when unknown).
func totalMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// estimateBytes is a rough upper bound of a job's peak memory: every image decoded at each
// method's size, and for scratch the activations and gradients of a training batch and the
// weights of the dense layer with Adam's slots (which grow with the square of --size).
func estimateBytes(spec Spec, images int, p *Pool) (total float64, scratchStep float64) {
	for _, m := range spec.Methods {
		w, h := p.inputSize(m)
		total += float64(dataset.DecodedBytes(images, w, h))
	}
	for _, m := range spec.Methods {
		if m != Scratch {
			continue
		}
		s := float64(spec.Scratch.Size)
		perExample := 4 * (s*s*3*2 + s*s*32*4 + s*s/4*32*4 + s*s/16*32*2)
		dense := 4 * s * s / 16 * 32 * 128 * 4
		scratchStep = float64(min(spec.Fit.Batch, images))*perExample + dense
		total += float64(dataset.DecodedBytes(images, spec.Scratch.Size, spec.Scratch.Size)) + scratchStep
	}
	return total, scratchStep
}

// checkMemory refuses, before allocating, a job that would not fit in memory, and says what to
// lower.
func checkMemory(spec Spec, images int, p *Pool) error {
	mem := float64(totalMemory())
	if mem == 0 {
		return nil
	}
	need, step := estimateBytes(spec, images, p)
	if need <= memoryShare*mem {
		return nil
	}
	gb := func(b float64) string { return fmt.Sprintf("%.1f GB", b/(1<<30)) }
	if step > need/2 {
		return fmt.Errorf("scratch at --size %d with --batch %d would need about %s of memory, and this machine has %s: lower --size (the article uses 64) or --batch",
			spec.Scratch.Size, spec.Fit.Batch, gb(need), gb(mem))
	}
	return fmt.Errorf("decoding %d images would need about %s of memory, and this machine has %s: use fewer images (an --exclude list, or a subset of the folder)",
		images, gb(need), gb(mem))
}
