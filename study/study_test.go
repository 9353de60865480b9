package study

import (
	"context"
	"encoding/json"
	"math"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func labelsOf(counts ...int) []int {
	var l []int
	for c, n := range counts {
		for i := 0; i < n; i++ {
			l = append(l, c)
		}
	}
	// Interleave so that class order is not index order.
	out := make([]int, 0, len(l))
	for i := 0; i < len(l); i += 2 {
		out = append(out, l[i])
	}
	for i := 1; i < len(l); i += 2 {
		out = append(out, l[i])
	}
	return out
}

func TestNestedSubsets(t *testing.T) {
	labels := labelsOf(30, 12, 20)
	sizes := []int{2, 5, 10, 0}
	a, err := NestedSubsets(labels, 3, sizes, 7)
	require.NoError(t, err)
	for s, sub := range a {
		perClass := map[int]int{}
		for _, i := range sub {
			perClass[labels[i]]++
		}
		for c, total := range []int{30, 12, 20} {
			want := total
			if sizes[s] > 0 {
				want = min(sizes[s], total)
			}
			require.Equal(t, want, perClass[c], "size %d class %d", sizes[s], c)
		}
		if s > 0 {
			require.Subset(t, sub, a[s-1], "size %d contains size %d", sizes[s], sizes[s-1])
		}
	}
	b, err := NestedSubsets(labels, 3, sizes, 7)
	require.NoError(t, err)
	require.Equal(t, a, b, "deterministic for a seed")
	c, err := NestedSubsets(labels, 3, sizes, 8)
	require.NoError(t, err)
	require.NotEqual(t, a[0], c[0], "another seed, another subset")

	_, err = NestedSubsets([]int{0, 0, 1}, 3, sizes, 1)
	require.ErrorContains(t, err, "class 2 has no examples")
	_, err = NestedSubsets([]int{0, 5}, 2, sizes, 1)
	require.ErrorContains(t, err, "label 5")
}

func TestStratifiedFolds(t *testing.T) {
	labels := labelsOf(23, 17)
	folds, err := StratifiedFolds(labels, 2, 5, 3)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, f := range folds {
		require.InDelta(t, 8, len(f), 1, "fold sizes are balanced")
		perClass := map[int]int{}
		for _, i := range f {
			require.False(t, seen[i], "example %d in two folds", i)
			seen[i] = true
			perClass[labels[i]]++
		}
		require.InDelta(t, 23.0/5, perClass[0], 1)
		require.InDelta(t, 17.0/5, perClass[1], 1)
		// The training part of a fold never holds a validation example.
		train := Complement(len(labels), f)
		require.Len(t, train, len(labels)-len(f))
		for _, i := range train {
			require.NotContains(t, f, i)
		}
	}
	require.Len(t, seen, len(labels))
	again, _ := StratifiedFolds(labels, 2, 5, 3)
	require.Equal(t, folds, again)
	_, err = StratifiedFolds(labels, 2, 1, 3)
	require.Error(t, err)
	_, err = StratifiedFolds(labelsOf(3, 10), 2, 5, 3)
	require.ErrorContains(t, err, "fewer than the 5 folds")
}

func TestTInterval(t *testing.T) {
	iv := TInterval([]float64{1, 2, 3, 4, 5}, 0.95)
	// mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776445
	half := 2.776445 * math.Sqrt(2.5) / math.Sqrt(5)
	require.InDelta(t, 3, iv.Mean, 1e-12)
	require.InDelta(t, 3-half, iv.Low, 1e-5)
	require.InDelta(t, 3+half, iv.High, 1e-5)
	require.Equal(t, 5, iv.N)
	// t(0.975, 1) = 12.7062: two values 0.8 and 0.9.
	iv = TInterval([]float64{0.8, 0.9}, 0.95)
	require.InDelta(t, 0.85-12.7062*0.0707107/math.Sqrt(2), iv.Low, 1e-4)
	// One value has no interval: n/a, never [x, x].
	one := TInterval([]float64{0.7, math.NaN()}, 0.95)
	require.Equal(t, 0.7, one.Mean)
	require.Equal(t, 1, one.N)
	require.True(t, math.IsNaN(one.Low) && math.IsNaN(one.High))
	require.Equal(t, "0.700 (n/a, 1 value)", one.Format(false))
	require.True(t, math.IsNaN(TInterval(nil, 0.95).Mean))
	require.Equal(t, "n/a", TInterval(nil, 0.95).Format(false))
	require.Equal(t, "+0.850 [+0.215, +1.485]", TInterval([]float64{0.8, 0.9}, 0.95).Format(true))

	// NaN survives JSON as null.
	b, err := json.Marshal(one)
	require.NoError(t, err)
	require.JSONEq(t, `{"mean":0.7,"low":null,"high":null,"sd":null,"n":1}`, string(b))
	var back Interval
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, math.IsNaN(back.Low))

	d := PairedDifference([]float64{0.7, 0.8, 0.75}, []float64{0.9, 0.95, 0.9}, 0.95)
	require.InDelta(t, (0.2+0.15+0.15)/3, d.Mean, 1e-12)
	require.Greater(t, d.Low, 0.0, "a consistent gain has an interval above zero")
}

func TestRunnerResumesAfterInterrupt(t *testing.T) {
	dir := t.TempDir()
	var cells []Cell
	for _, m := range []string{"scratch", "transfer"} {
		for size := 1; size <= 4; size++ {
			cells = append(cells, Cell{Method: m, Size: size, Repeat: 0})
		}
	}
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	fn := func(ctx context.Context, c Cell) (*Result, error) {
		if calls.Add(1) == 3 {
			cancel() // Ctrl-C while the third cell runs: it is not saved
		}
		return &Result{Accuracy: float64(c.Size) / 10, AUC: math.NaN(), NTrain: c.Size}, nil
	}
	r := &Runner{Dir: dir, Jobs: 1}
	res, err := r.Run(ctx, cells, fn)
	require.ErrorIs(t, err, ErrInterrupted)
	finished := 0
	for _, x := range res {
		if x != nil {
			finished++
		}
	}
	require.Equal(t, 2, finished)

	calls.Store(100) // no more cancelling
	var skipped int
	r.Progress = func(done, total int, res *Result, wasSkipped bool) {
		if wasSkipped {
			skipped++
		}
	}
	res, err = r.Run(context.Background(), cells, fn)
	require.NoError(t, err)
	require.Equal(t, 2, skipped, "finished cells are not run again")
	require.Equal(t, int32(100+len(cells)-2), calls.Load())
	for i, x := range res {
		require.Equal(t, cells[i], x.Cell)
		require.Equal(t, float64(cells[i].Size)/10, x.Accuracy)
		require.True(t, math.IsNaN(x.AUC), "NaN survives the JSON round trip")
	}
}

func TestRunnerStopsOnError(t *testing.T) {
	cells := []Cell{{Method: "a", Size: 1}, {Method: "a", Size: 2}, {Method: "a", Size: 3}}
	r := &Runner{Dir: t.TempDir(), Jobs: 2}
	_, err := r.Run(context.Background(), cells, func(ctx context.Context, c Cell) (*Result, error) {
		if c.Size == 2 {
			return nil, context.DeadlineExceeded
		}
		return &Result{}, nil
	})
	require.ErrorContains(t, err, "a-size2")
}

// A result's AUC survives JSON as null when undefined, and what its method chose as it was.
func TestResultJSON(t *testing.T) {
	r := Result{Cell: Cell{Method: "finetune", Fold: 2}, Accuracy: 0.9, AUC: math.NaN(), Chosen: json.RawMessage(`{"learning_rate":3e-05}`)}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"auc":null`)
	require.Contains(t, string(b), `"chosen":{"learning_rate":3e-05}`)
	var back Result
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, math.IsNaN(back.AUC))
	require.JSONEq(t, `{"learning_rate":3e-05}`, string(back.Chosen))
	b, err = json.Marshal(Result{AUC: 0.5})
	require.NoError(t, err)
	require.NotContains(t, string(b), "chosen")
}
