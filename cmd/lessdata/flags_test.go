package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/experiment"
)

// parse runs the command built by newCmd on args with a runF that only captures the options:
// flag parsing, tested without running anything.
func parse[O any](t *testing.T, newCmd func(*factory, func(context.Context, *O) error) *cobra.Command, args ...string) (*O, error) {
	t.Helper()
	var got *O
	var out bytes.Buffer
	cmd := newCmd(&factory{IO: streams{Out: &out, Err: &out}, Global: &globalOptions{}}, func(_ context.Context, o *O) error {
		got = o
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	return got, cmd.Execute()
}

func TestCompareFlagsBecomeASpec(t *testing.T) {
	o, err := parse(t, newCompareCmd, "--data", "D", "--out", "O", "--head", "mlp", "--lr", "0.01", "--transfer-views", "3", "--scratch-size", "32",
		"--patience", "2", "--keep-best", "--methods", "transfer, scratch", "--folds", "4", "--jobs", "1", "--positive", "car", "--backbone", "B")
	require.NoError(t, err)
	s := o.Spec
	require.Equal(t, []experiment.Method{experiment.Scratch, experiment.Transfer}, s.Methods, "in report order")
	require.Equal(t, "D", s.Data.Dir)
	require.Equal(t, float32(0.01), s.Transfer.MLP.LearningRate)
	require.Equal(t, experiment.HeadMLP, s.Transfer.Head)
	require.Equal(t, 3, s.Transfer.Views)
	require.Equal(t, "B", s.Transfer.Backbone)
	require.Equal(t, 32, s.Scratch.Size)
	require.Equal(t, experiment.FitSpec{Epochs: 50, Batch: 32, Patience: 2, KeepBest: true}, s.Fit)
	require.Equal(t, "car", s.Positive)
	require.Equal(t, 4, o.Folds)
	require.Equal(t, 1, o.Out.Jobs)
	require.Equal(t, "O", o.Out.Dir)

	// Errors name the flag as the command spells it.
	s.Transfer.Views = 0
	require.ErrorContains(t, s.Validate(), "--transfer-views 0")
	s.Transfer.Views, s.Scratch.Size = 3, 8
	require.ErrorContains(t, s.Validate(), "--scratch-size 8")

	_, err = parse(t, newCompareCmd, "--data", "D", "--out", "O", "--methods", "scratch,magic")
	require.ErrorContains(t, err, `--methods: "magic" is not a method`)
}

func TestTrainFlagsBecomeASpec(t *testing.T) {
	o, err := parse(t, newTrainCmd, "scratch", "--data", "D", "--out", "O", "--size", "48", "--no-augment", "--epochs", "7", "--samples-per-epoch", "128")
	require.NoError(t, err)
	require.Equal(t, experiment.Scratch, o.Method)
	require.Equal(t, experiment.ScratchSpec{Size: 48, NoAugment: true}, o.Spec.Scratch)
	require.Equal(t, 7, o.Spec.Fit.Epochs)
	require.Equal(t, 128, o.Spec.Fit.SamplesPerEpoch)
	require.NoError(t, o.Spec.Validate())

	o, err = parse(t, newTrainCmd, "transfer", "--data", "D", "--out", "O", "--views", "2", "--head", "mlp", "--dropout", "1")
	require.NoError(t, err)
	require.Equal(t, experiment.Transfer, o.Method)
	require.ErrorContains(t, o.Spec.Validate(), "--dropout 1 must be at least 0 and below 1")

	// The linear head is the default; its choices are flags too, and the mlp head's are refused.
	o, err = parse(t, newTrainCmd, "transfer", "--data", "D", "--out", "O", "--augment", "light", "--target-sensitivity", "0.9")
	require.NoError(t, err)
	require.Equal(t, experiment.HeadLinear, o.Spec.Transfer.Head)
	require.Equal(t, "light", o.Spec.Transfer.Augment)
	require.Equal(t, 0.9, o.Spec.Transfer.TargetSensitivity)
	require.NoError(t, o.Spec.Validate())
	_, err = parse(t, newTrainCmd, "transfer", "--data", "D", "--out", "O", "--lr", "0.01")
	require.ErrorContains(t, err, "--lr applies to the mlp head")
}

func TestCurveFlags(t *testing.T) {
	o, err := parse(t, newCurveCmd, "--data", "D", "--out", "O", "--sizes", "5,10,all", "--methods", "transfer", "--repeats", "2")
	require.NoError(t, err)
	require.Equal(t, "5,10,all", o.Sizes)
	require.Equal(t, []experiment.Method{experiment.Transfer}, o.Spec.Methods)
	require.Equal(t, 2, o.Repeats)
	_, err = parse(t, newCurveCmd, "--data", "D", "--out", "O", "--sizes", "10,5")
	require.ErrorContains(t, err, "--sizes must ascend")
}

func TestPredictAndAuditFlags(t *testing.T) {
	p, err := parse(t, newPredictCmd, "--model", "M", "a.jpg", "dir", "--format", "csv")
	require.NoError(t, err)
	require.Equal(t, []string{"a.jpg", "dir"}, p.Paths)
	_, err = parse(t, newPredictCmd, "--model", "M", "a.jpg", "--format", "xml")
	require.ErrorContains(t, err, "--format")
	_, err = parse(t, newAuditCmd, "--data", "D", "--fix")
	require.ErrorContains(t, err, "give --out")
}
