// Package experiment is lessdata's one experiment layer: every command that trains, compares or
// studies models goes through it, so a recipe is assembled in exactly one place.
//
// A Spec says what to run: the data (DataSpec), the training loop (FitSpec), each method's own
// options (ScratchSpec, TransferSpec, FinetuneSpec) and the scoring (the positive class). Spec.Validate checks
// every option before any work starts. LoadData scans, filters and audits the data; NewPool
// decodes it once for every method asked for and opens the backbone only when a method needs
// one; Pool.Run trains one method on any split of the pool (the given split, a subset, a fold)
// with the same options everywhere, scores it on the validation part, and returns an Outcome
// that Save writes as a model bundle. Train, Compare, CrossValidate, Curve, RankBackbones and
// Evaluate are the commands' jobs built on these; each writes its run folder whole
// (bundle.RunDir) or, for the resumable grids, cell by cell (study.Runner). The validation
// images are only ever scored: whatever is chosen (augmentation, C, threshold, test-time
// augmentation, backbone, epochs) is chosen on the training images, and the run records it.
//
// Long work takes a context: cancelling it stops after the current batch, keeps what was done,
// and the job returns an error that wraps ErrInterrupted. Progress reaches people through UI,
// which the caller implements (progress bars, log lines); a zero UI is silent.
package experiment
