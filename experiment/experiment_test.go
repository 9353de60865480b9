package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone"
	"github.com/lessdata/lessdata/backbone/backbonetest"
	"github.com/lessdata/lessdata/bundle"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/dataset/tfdecode"
	"github.com/lessdata/lessdata/finetune"
	"github.com/lessdata/lessdata/head"
	"github.com/lessdata/lessdata/predict"
)

// tinySpec is a fast spec on a generated dataset and the tiny generated backbone.
func tinySpec(t *testing.T, methods ...Method) (Spec, Env) {
	t.Helper()
	data := t.TempDir()
	require.NoError(t, backbonetest.WriteDataset(data, backbonetest.DatasetOptions{Classes: []string{"a", "b"}, Train: 6, Validation: 4, Seed: 1}))
	s := DefaultSpec(methods...)
	s.Data.Dir, s.Data.NoAudit = data, true
	s.Fit.Epochs, s.Fit.Batch = 3, 4
	s.Scratch.Size = 16
	s.Transfer.Backbone, s.Transfer.Views = backbonetest.MustWrite(t, backbonetest.Options{}), 2
	return s, Env{Fetch: backbone.FetchOptions{CacheDir: t.TempDir()}}
}

func TestParseMethods(t *testing.T) {
	m, err := ParseMethods(" transfer,scratch,transfer")
	require.NoError(t, err)
	require.Equal(t, []Method{Scratch, Transfer}, m)
	_, err = ParseMethods("scratch,")
	require.ErrorContains(t, err, `"" is not a method`)
}

func TestValidateNamesTheFlag(t *testing.T) {
	base := DefaultSpec(Scratch, Transfer)
	base.Data.Dir = "d"
	require.NoError(t, base.Validate())
	for _, c := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Data.Dir = "" }, "--data is required"},
		{func(s *Spec) { s.Data.ValSplit = 1 }, "--val-split 1"},
		{func(s *Spec) { s.Fit.Epochs = 0 }, "--epochs 0"},
		{func(s *Spec) { s.Fit.Batch = -1 }, "--batch -1"},
		{func(s *Spec) { s.Fit.Patience = -2 }, "--patience -2"},
		{func(s *Spec) { s.Scratch.Size = 2048 }, "--size 2048"},
		{func(s *Spec) { s.Transfer.Views = 0 }, "--views 0"},
		{func(s *Spec) { s.Transfer.MLP.Dropout = 1 }, "--dropout 1"},
		{func(s *Spec) { s.Transfer.MLP.LearningRate = 1e10 }, "--lr 1e+10"},
		{func(s *Spec) { s.Transfer.MLP.L2 = -1 }, "--l2 -1"},
		{func(s *Spec) { s.Transfer.Backbone = "" }, "--backbone is empty"},
		{func(s *Spec) { s.Transfer.Head = "svm" }, `--head "svm"`},
		{func(s *Spec) { s.Transfer.Augment = "heavy" }, `--augment "heavy"`},
		{func(s *Spec) { s.Transfer.Threshold = 1 }, "--threshold 1"},
		{func(s *Spec) { s.Transfer.TargetSensitivity = 1.5 }, "--target-sensitivity 1.5"},
		{func(s *Spec) { s.Transfer.Head, s.Transfer.TargetSensitivity = HeadMLP, 0.9 }, "needs the linear head"},
		{func(s *Spec) { s.Transfer.TTA = 9 }, "--tta 9"},
		{func(s *Spec) { s.Methods, s.Finetune.Unfreeze = []Method{Finetune}, -1 }, "--unfreeze -1"},
		{func(s *Spec) { s.Methods, s.Finetune.LR = []Method{Finetune}, 0.5 }, "--finetune-lr 0.5"},
		{func(s *Spec) { s.Methods, s.Finetune.LR = []Method{Finetune}, -1e-5 }, "--finetune-lr -1e-05"},
		{func(s *Spec) { s.Methods, s.Finetune.Epochs = []Method{Finetune}, 0 }, "--finetune-epochs 0"},
	} {
		s := base
		c.edit(&s)
		require.ErrorContains(t, s.Validate(), c.want)
	}
	// An option of a method not run is not checked.
	s := base
	s.Methods, s.Transfer.Views = []Method{Scratch}, 0
	require.NoError(t, s.Validate())
}

// Ctrl-C during transfer's feature extraction, after scratch finished, keeps scratch, marks the
// comparison incomplete, and the same call resumes it without training scratch again.
func TestCompareKeepsFinishedMethodsAndResumes(t *testing.T) {
	spec, env := tinySpec(t, Scratch, Transfer)
	out := Output{Dir: filepath.Join(t.TempDir(), "cmp"), Version: "test"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.UI.Bar = func(total int, desc string) Bar {
		if strings.HasPrefix(desc, "features") {
			cancel()
		}
		return silentBar{}
	}
	cmp, err := Compare(ctx, spec, env, out)
	require.ErrorIs(t, err, ErrInterrupted)
	require.NotNil(t, cmp)
	require.False(t, cmp.Complete)
	require.Len(t, cmp.Methods, 1)
	require.Equal(t, Scratch, cmp.Methods[0].Method)
	require.FileExists(t, filepath.Join(out.Dir, "scratch", "bundle.json"))
	require.NoDirExists(t, filepath.Join(out.Dir, "transfer"))
	md, err := os.ReadFile(filepath.Join(out.Dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "interrupted: transfer did not finish")

	var mu sync.Mutex
	var epochs, logs []string
	env.UI = UI{Epoch: func(label string, e finetune.Epoch, _ int) {
		mu.Lock()
		epochs = append(epochs, label)
		mu.Unlock()
	}, Log: func(line string) { logs = append(logs, line) }}
	cmp, err = Compare(context.Background(), spec, env, out)
	require.NoError(t, err)
	require.True(t, cmp.Complete)
	require.Len(t, cmp.Methods, 2)
	require.NotContains(t, epochs, "scratch", "scratch is kept, not trained again")
	require.Contains(t, logs, "scratch: kept from the interrupted run")
	require.Equal(t, StopSolved, cmp.Result(Transfer).Stopped)
	b, err := os.ReadFile(filepath.Join(out.Dir, CompareFile))
	require.NoError(t, err)
	var disk Comparison
	require.NoError(t, json.Unmarshal(b, &disk))
	require.True(t, disk.Complete)

	// A finished comparison is not resumed: it needs --force.
	_, err = Compare(context.Background(), spec, env, out)
	require.ErrorContains(t, err, "already exists")
}

// Early stopping acts in grid cells as in single runs.
func TestGridCellsUseTheSameRecipe(t *testing.T) {
	spec, env := tinySpec(t, Transfer)
	spec.Fit.Epochs, spec.Fit.Patience, spec.Fit.KeepBest = 30, 1, true
	spec.Transfer.Head, spec.Transfer.MLP.LearningRate = HeadMLP, 0.5 // a jumpy validation loss: early stopping will act
	o, err := Train(context.Background(), spec, Transfer, env, Output{Dir: filepath.Join(t.TempDir(), "one")})
	require.NoError(t, err)
	defer o.Close()
	require.Less(t, len(o.Trained.History.Epochs), 30)
	res, err := CrossValidate(context.Background(), spec, env, 0, 1, GridOutput{Output: Output{Dir: filepath.Join(t.TempDir(), "grid")}, Jobs: 1})
	require.NoError(t, err)
	require.Len(t, res.Cells, 1)
	require.Less(t, res.Cells[0].Epochs, 30, "the cell stopped early too")
}

// A run whose data or backbone is bad leaves no grid folder behind, so the corrected rerun is
// not refused.
func TestGridFolderOnlyAfterChecks(t *testing.T) {
	spec, env := tinySpec(t, Scratch, Transfer)
	spec.Transfer.Backbone = filepath.Join(t.TempDir(), "missing")
	out := GridOutput{Output: Output{Dir: filepath.Join(t.TempDir(), "grid")}, Jobs: 1}
	_, err := Curve(context.Background(), spec, env, []int{2, 0}, 1, out)
	require.ErrorContains(t, err, "--backbone")
	require.NoDirExists(t, out.Dir)
}

func TestMemoryEstimateRefusesHugeScratch(t *testing.T) {
	spec, _ := tinySpec(t, Scratch)
	spec.Scratch.Size, spec.Fit.Batch = 1024, 32
	p := &Pool{spec: spec}
	need, _ := estimateBytes(spec, 24, p)
	require.Greater(t, need, 15e9, "the measured run reached 19.8 GB")
	if mem := float64(totalMemory()); mem > 0 && need > memoryShare*mem {
		err := checkMemory(spec, 24, p)
		require.ErrorContains(t, err, "lower --size")
	}
	spec.Scratch.Size = 64
	need, _ = estimateBytes(spec, 24, p)
	require.Less(t, need, 1e9)
}

func TestInterruptedWraps(t *testing.T) {
	err := interrupted(context.Canceled)
	require.ErrorIs(t, err, ErrInterrupted)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, errors.Is(interrupted(err), ErrInterrupted))
}

// The fine-tuned model is one SavedModel that predict reloads without the backbone, and it gives
// the probabilities the run scored.
func TestFinetuneBundlePredictsWhatWasScored(t *testing.T) {
	spec, env := tinySpec(t, Finetune)
	spec.Finetune.Epochs, spec.Finetune.Unfreeze = 2, 1
	out := filepath.Join(t.TempDir(), "ft")
	o, err := Train(context.Background(), spec, Finetune, env, Output{Dir: out})
	require.NoError(t, err)
	defer o.Close()
	require.NotNil(t, o.Tuned)
	require.Greater(t, o.Tuned.Model.TrainableParams(), 0)
	require.NotEmpty(t, o.History().Epochs)
	require.FileExists(t, filepath.Join(out, "history.json"))

	m, err := predict.Open(context.Background(), out, predict.Options{})
	require.NoError(t, err, "no backbone is needed")
	defer m.Close()
	require.Equal(t, bundle.KindFinetune, m.Manifest.Kind)
	results, err := m.Files(context.Background(), o.Paths, nil)
	require.NoError(t, err)
	for i, r := range results {
		require.NoError(t, r.Err)
		for k := range r.Probs {
			require.InDelta(t, o.Probs[i][k], r.Probs[k], 1e-5, "image %d", i)
		}
	}
}

// Grad-CAM overlays come out of transfer and fine-tuned bundles alike.
func TestExplainWritesOverlays(t *testing.T) {
	for _, m := range []Method{Transfer, Finetune} {
		spec, env := tinySpec(t, m)
		spec.Finetune.Epochs = 1
		out := filepath.Join(t.TempDir(), string(m))
		o, err := Train(context.Background(), spec, m, env, Output{Dir: out})
		require.NoError(t, err)
		o.Close()
		pm, err := predict.Open(context.Background(), out, predict.Options{Backbone: spec.Transfer.Backbone})
		require.NoError(t, err)
		results, err := pm.Files(context.Background(), o.Paths[:3], nil)
		require.NoError(t, err)
		dir := filepath.Join(t.TempDir(), "cam")
		files, err := pm.Explain(context.Background(), results, dir)
		pm.Close()
		require.NoError(t, err, m)
		require.Len(t, files, 3)
		for _, f := range files {
			require.FileExists(t, f)
		}
	}
}

// Test-time augmentation: the run records it in the bundle, and predict averages the same views,
// giving the probabilities the run scored.
func TestTTAPredictsWhatWasScored(t *testing.T) {
	spec, env := tinySpec(t, Transfer)
	spec.Transfer.Augment, spec.Transfer.TTA = "light", 2
	out := filepath.Join(t.TempDir(), "tta")
	o, err := Train(context.Background(), spec, Transfer, env, Output{Dir: out})
	require.NoError(t, err)
	defer o.Close()
	require.Equal(t, 2, o.Linear.TTA)
	m, err := predict.Open(context.Background(), out, predict.Options{Backbone: spec.Transfer.Backbone})
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, &bundle.TTA{Augment: "light", Views: 2, Seed: spec.Data.Seed}, m.Manifest.TTA)
	results, err := m.Files(context.Background(), o.Paths, nil)
	require.NoError(t, err)
	differs := false
	for i, r := range results {
		require.NoError(t, r.Err)
		for k := range r.Probs {
			require.InDelta(t, o.Probs[i][k], r.Probs[k], 1e-5, "image %d", i)
		}
		one, err := m.Probabilities(context.Background(), []*dataset.Image{mustLoad(t, r.Path, m)})
		require.NoError(t, err)
		differs = differs || math.Abs(float64(one[0][0]-r.Probs[0])) > 1e-6
	}
	require.True(t, differs, "the views change the probabilities")

	// Auto decides from the out-of-fold evidence and records it.
	spec.Transfer.TTA = finetune.TTAAuto
	o2, err := Train(context.Background(), spec, Transfer, env, Output{Dir: filepath.Join(t.TempDir(), "auto")})
	require.NoError(t, err)
	defer o2.Close()
	require.NotNil(t, o2.Linear.TTAEvidence)
	require.Equal(t, o2.Linear.TTAEvidence.Averaged < o2.Linear.TTAEvidence.Plain-head.TieTolerance, o2.Linear.TTA > 0)
}

func mustLoad(t *testing.T, path string, m *predict.Model) *dataset.Image {
	w, h := m.Size()
	img, err := dataset.LoadImage(path, w, h, 0, tfdecode.Decode)
	require.NoError(t, err)
	return img
}

// Grids run the fine-tune method too (its pool shares the transfer images' decoding).
func TestCurveRunsFinetune(t *testing.T) {
	spec, env := tinySpec(t, Transfer, Finetune)
	spec.Finetune.Epochs = 1
	res, err := Curve(context.Background(), spec, env, []int{2, 0}, 1, GridOutput{Output: Output{Dir: filepath.Join(t.TempDir(), "c")}, Jobs: 1})
	require.NoError(t, err)
	require.Len(t, res.Cells, 4)
	require.Len(t, res.Points, 4)
}

// Fine-tuning keeps a phase-2 trial only when its inner loss is the lowest and beats phase 1's;
// otherwise the model is the transfer method's linear head on all the training images, and
// scores exactly what the transfer method scores.
func TestFinetuneKeepsPhase2OnlyWhenItHelps(t *testing.T) {
	for _, c := range []struct {
		lr       float32
		unfreeze int
		kept     bool
	}{{0, 1, true}, {0.01, 2, false}} {
		spec, env := tinySpec(t, Finetune)
		spec.Finetune.Epochs, spec.Finetune.Unfreeze, spec.Finetune.LR = 2, c.unfreeze, c.lr
		if !c.kept {
			// Half of each class's training images swapped: nothing to learn, and a large
			// learning rate only overfits.
			for i := range 3 {
				a, b := fmt.Sprintf("a_%03d.png", i), fmt.Sprintf("b_%03d.png", i)
				train := filepath.Join(spec.Data.Dir, "train")
				require.NoError(t, os.Rename(filepath.Join(train, "a", a), filepath.Join(train, "b", a)))
				require.NoError(t, os.Rename(filepath.Join(train, "b", b), filepath.Join(train, "a", b)))
			}
		}
		spec.Transfer.TTA = 0
		o, err := Train(context.Background(), spec, Finetune, env, Output{Dir: filepath.Join(t.TempDir(), "ft")})
		require.NoError(t, err)
		ch := o.Tuned.Choice
		t.Logf("lr %g: phase 1 inner loss %.4f, trials %+v, kept %g", c.lr, ch.Phase1Loss, ch.Trials, ch.LearningRate)
		if c.lr == 0 {
			require.Len(t, ch.Trials, len(finetune.LearningRates))
			for i, tr := range ch.Trials {
				require.Equal(t, finetune.LearningRates[i], tr.LearningRate)
			}
		} else {
			require.Len(t, ch.Trials, 1)
		}
		best := ch.Phase1Loss
		for _, tr := range ch.Trials {
			best = min(best, tr.BestLoss)
		}
		require.Equal(t, c.kept, ch.LearningRate > 0, "this case's outcome")
		if ch.LearningRate > 0 {
			i := slices.IndexFunc(ch.Trials, func(tr finetune.Trial) bool { return tr.LearningRate == ch.LearningRate })
			require.Equal(t, best, ch.Trials[i].BestLoss, "the kept trial has the lowest inner loss")
			require.Less(t, best, ch.Phase1Loss)
			o.Close()
			continue
		}
		for _, tr := range ch.Trials {
			require.GreaterOrEqual(t, tr.BestLoss, ch.Phase1Loss)
		}
		tr, err := Train(context.Background(), spec, Transfer, env, Output{Dir: filepath.Join(t.TempDir(), "tr")})
		require.NoError(t, err)
		for i := range o.Probs {
			require.InDeltaSlice(t, tr.Probs[i], o.Probs[i], 1e-5, "image %d", i)
		}
		tr.Close()
		o.Close()
	}
}
