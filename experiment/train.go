package experiment

import (
	"context"
	"fmt"

	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/finetune"
)

// Train trains one method on the data's own split into a fresh run folder, which appears whole:
// the model bundle, its history, metrics and curves. When ctx is cancelled after at least one
// epoch, the model of the best epoch so far is saved all the same and the error wraps
// ErrInterrupted. The caller closes the outcome.
func Train(ctx context.Context, spec Spec, m Method, env Env, out Output) (*Outcome, error) {
	spec.Methods = []Method{m}
	data, pool, err := prepare(ctx, spec, env, out.Dir, 0, nil)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	rd, err := bundle.Begin(out.Dir, out.Force)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	defer rd.Abandon()
	o, err := pool.Run(ctx, m, pool.TrainIndex(), pool.ValIndex(), spec.Data.Seed,
		RunHooks{Label: string(m), OnEpoch: func(h *finetune.History) error { return h.Save(rd.Work) }})
	if err != nil && ctx.Err() != nil {
		err = interrupted(err)
	}
	if err != nil {
		return nil, err
	}
	if err := o.Save(rd.Work, commonInfo(spec, data), out.Version); err != nil {
		o.Close()
		return nil, err
	}
	if err := rd.Commit(); err != nil {
		o.Close()
		return nil, err
	}
	if h := o.History(); h != nil && h.Stopped == finetune.StopInterrupted {
		return o, interrupted(fmt.Errorf("stopped after %d epochs; the model of epoch %d is saved in %s", len(h.Epochs), h.BestEpoch, out.Dir))
	}
	return o, nil
}
