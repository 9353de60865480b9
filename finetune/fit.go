package finetune

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lessdata/lessdata/nn"
)

// TrainSet gives training examples on demand, so each step can see a fresh augmentation.
type TrainSet interface {
	// Len returns the number of examples.
	Len() int
	// Label returns example i's class.
	Label(i int) int
	// Size returns the number of values of one example.
	Size() int
	// Fill writes example i into dst as drawn for the draw-th time in the fit (each draw number
	// is used once, so an augmenting set gives a fresh, reproducible variant). It may be called
	// from several goroutines at once.
	Fill(dst []float32, i int, draw uint64) error
}

// Examples is a fixed set of examples, such as the validation set.
type Examples struct {
	X      []float32 // Count examples of Size values each, one after another
	Labels []int
}

// Count returns the number of examples.
func (e *Examples) Count() int { return len(e.Labels) }

// EarlyStopping stops a fit when the validation loss has not improved by more than MinDelta for
// Patience epochs (Keras' EarlyStopping on val_loss).
type EarlyStopping struct {
	Patience int
	MinDelta float64
}

// Progress describes where a fit is, for progress displays.
type Progress struct {
	Epoch, Epochs int
	Step, Steps   int
	Loss          float64 // running mean over the epoch so far
}

// FitOptions configures Fit.
type FitOptions struct {
	Epochs    int
	BatchSize int
	// StepsPerEpoch is the number of batches an epoch trains on (Keras' steps_per_epoch); 0 means
	// one pass over the training set. Batches are drawn from a reshuffled pass after another.
	StepsPerEpoch int
	Seed          uint64
	EarlyStopping *EarlyStopping
	// KeepBest restores, at the end, the weights of the epoch with the lowest validation loss.
	// An interrupted fit restores them whatever KeepBest says.
	KeepBest bool
	// OnEpoch runs after every epoch (to save the history so far); an error stops the fit.
	OnEpoch func(h *History) error
	// OnStep runs after every batch.
	OnStep func(Progress)
	// Workers fill batches in parallel; runtime.GOMAXPROCS(0) when 0.
	Workers int
}

// Net is a model Fit can train: nn.Net (the scratch CNN, the MLP head) and tune.Model (a
// backbone being fine-tuned with its head).
type Net interface {
	// TrainBatch takes one optimiser step and returns the batch's mean loss and probabilities.
	TrainBatch(nn.Batch) (float64, [][]float32, error)
	// Evaluate returns a batch's mean loss and probabilities without training.
	Evaluate(nn.Batch) (float64, [][]float32, error)
	// Weights and SetWeights save and restore the trainable weights (keep-best).
	Weights() (map[string][]float32, error)
	SetWeights(map[string][]float32) error
}

// Fit trains net on train, validating on val after every epoch. When ctx is cancelled it stops
// after the current batch and returns the history so far with Stopped set to StopInterrupted
// (and the best weights restored under KeepBest): what was done is kept.
func Fit(ctx context.Context, net Net, train TrainSet, val *Examples, opt FitOptions) (*History, error) {
	if train.Len() == 0 {
		return nil, fmt.Errorf("fit: the training set is empty")
	}
	if val == nil || val.Count() == 0 {
		return nil, fmt.Errorf("fit: the validation set is empty")
	}
	if opt.Epochs < 1 || opt.BatchSize < 1 {
		return nil, fmt.Errorf("fit: epochs (%d) and batch size (%d) must be at least 1", opt.Epochs, opt.BatchSize)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	steps := opt.StepsPerEpoch
	if steps <= 0 {
		steps = (train.Len() + opt.BatchSize - 1) / opt.BatchSize
	}
	h := &History{Stopped: StopCompleted}
	order := newStream(train.Len(), opt.BatchSize, opt.Seed)
	var draws uint64
	var best map[string][]float32
	bestLoss, sinceBest := math.Inf(1), 0
	x := make([]float32, opt.BatchSize*train.Size())
	labels := make([]int, opt.BatchSize)

	for epoch := 1; epoch <= opt.Epochs; epoch++ {
		start := time.Now()
		var lossSum float64
		var correct, seen int
		for step := 1; step <= steps; step++ {
			if ctx.Err() != nil {
				h.Stopped = StopInterrupted
				break
			}
			idx := order.next()
			n := len(idx)
			if err := fill(train, x[:n*train.Size()], idx, draws, opt.Workers); err != nil {
				return h, err
			}
			draws += uint64(n)
			for j, i := range idx {
				labels[j] = train.Label(i)
			}
			loss, probs, err := net.TrainBatch(nn.Batch{X: x[:n*train.Size()], Count: n, Labels: labels[:n]})
			if err != nil {
				return h, fmt.Errorf("epoch %d: %w", epoch, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > divergedLoss {
				return h, &DivergedError{Epoch: epoch, Step: step, Loss: loss}
			}
			lossSum += loss * float64(n)
			seen += n
			correct += Correct(probs, labels[:n])
			if opt.OnStep != nil {
				opt.OnStep(Progress{Epoch: epoch, Epochs: opt.Epochs, Step: step, Steps: steps, Loss: lossSum / float64(seen)})
			}
		}
		if h.Stopped == StopInterrupted {
			break // a partial epoch is not recorded: its numbers would not be comparable
		}
		valLoss, valProbs, err := Probabilities(net, val, opt.BatchSize)
		if err != nil {
			return h, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		e := Epoch{Epoch: epoch, Loss: lossSum / float64(seen), Accuracy: float64(correct) / float64(seen),
			ValLoss: valLoss, ValAccuracy: float64(Correct(valProbs, val.Labels)) / float64(val.Count()),
			Seconds: time.Since(start).Seconds()}
		h.Epochs = append(h.Epochs, e)
		if e.ValLoss < bestLoss-minDelta(opt) {
			bestLoss, sinceBest, h.BestEpoch = e.ValLoss, 0, epoch
			if best, err = net.Weights(); err != nil {
				return h, err
			}
		} else {
			sinceBest++
		}
		if opt.OnEpoch != nil {
			if err := opt.OnEpoch(h); err != nil {
				return h, err
			}
		}
		if opt.EarlyStopping != nil && sinceBest >= opt.EarlyStopping.Patience {
			h.Stopped = StopEarly
			break
		}
	}
	if best != nil && (h.Stopped == StopInterrupted || opt.KeepBest && h.BestEpoch != len(h.Epochs)) {
		if err := net.SetWeights(best); err != nil {
			return h, err
		}
		h.Restored = true
	}
	return h, nil
}

// divergedLoss is a training loss no sensible fit reaches: a cross-entropy this large means the
// weights have run away (a learning rate far too high), and going on would only save nonsense.
const divergedLoss = 1e4

// DivergedError reports a fit stopped because its training loss ran away.
type DivergedError struct {
	Epoch, Step int
	Loss        float64
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("training diverged at epoch %d, step %d (loss %.3g): the learning rate is too high for these data", e.Epoch, e.Step, e.Loss)
}

func minDelta(opt FitOptions) float64 {
	if opt.EarlyStopping == nil {
		return 0
	}
	return opt.EarlyStopping.MinDelta
}

// fill writes the examples idx into x with up to workers goroutines.
func fill(train TrainSet, x []float32, idx []int, draws uint64, workers int) error {
	size := train.Size()
	var g errgroup.Group
	g.SetLimit(workers)
	for j, i := range idx {
		g.Go(func() error { return train.Fill(x[j*size:(j+1)*size], i, draws+uint64(j)) })
	}
	return g.Wait()
}

// Probabilities returns the mean loss and the class probabilities of a fixed set, in batches.
func Probabilities(net Net, ex *Examples, batch int) (float64, [][]float32, error) {
	size := len(ex.X) / max(ex.Count(), 1)
	var lossSum float64
	probs := make([][]float32, 0, ex.Count())
	for s := 0; s < ex.Count(); s += batch {
		e := min(s+batch, ex.Count())
		loss, p, err := net.Evaluate(nn.Batch{X: ex.X[s*size : e*size], Count: e - s, Labels: ex.Labels[s:e]})
		if err != nil {
			return 0, nil, err
		}
		lossSum += loss * float64(e-s)
		probs = append(probs, p...)
	}
	return lossSum / float64(ex.Count()), probs, nil
}

// Predicted returns the most probable class of a probability row.
func Predicted(p []float32) int {
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}

// Correct counts the rows whose most probable class is the label (for two classes: p > 0.5).
func Correct(probs [][]float32, labels []int) int {
	c := 0
	for i, p := range probs {
		if Predicted(p) == labels[i] {
			c++
		}
	}
	return c
}

// stream yields batches of example indices from reshuffled passes over the set; a pass's last
// batch may be short, as Keras' directory iterator yields it.
type stream struct {
	n, batch int
	rng      *rand.Rand
	perm     []int
	pos      int
}

func newStream(n, batch int, seed uint64) *stream {
	return &stream{n: n, batch: batch, rng: rand.New(rand.NewPCG(seed, 0x73747265616d)), pos: n}
}

func (s *stream) next() []int {
	if s.pos >= s.n {
		s.perm = s.rng.Perm(s.n)
		s.pos = 0
	}
	e := min(s.pos+s.batch, s.n)
	b := s.perm[s.pos:e]
	s.pos = e
	return b
}
