package head

import (
	"fmt"

	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// Options shape a head.
type Options struct {
	// Hidden is the width of an optional ReLU hidden layer (0: none, a linear classifier).
	Hidden int `json:"hidden"`
	// Dropout is applied to the features (and to the hidden layer) while training.
	Dropout float32 `json:"dropout"`
	// L2 penalises the kernels: L2*sum(w^2) is added to the loss for each.
	L2 float32 `json:"l2"`
	// LearningRate is Adam's (0.001 when 0).
	LearningRate float32 `json:"learning_rate"`
}

// Default returns the head lessdata uses unless told otherwise: a linear classifier with
// dropout 0.2 on the features and a light L2 penalty.
func Default() Options { return Options{Dropout: 0.2, L2: 1e-4} }

// Validate checks the options.
func (o Options) Validate() error {
	if o.Hidden < 0 || o.Dropout < 0 || o.Dropout >= 1 || o.L2 < 0 || o.LearningRate < 0 {
		return fmt.Errorf("head: hidden %d, dropout %v (0..1), l2 %v and learning rate %v must not be negative", o.Hidden, o.Dropout, o.L2, o.LearningRate)
	}
	return nil
}

// Arch returns the head's body for nn: dropout on the features, then the optional hidden layer.
func (o Options) Arch() nn.Arch {
	return func(b *nn.Builder, x tf.Output) tf.Output {
		x = b.Dropout(x, o.Dropout)
		if o.Hidden > 0 {
			x = b.Dropout(b.Dense(x, o.Hidden, "relu", o.L2), o.Dropout)
		}
		return x
	}
}

// New builds a head for feature vectors of the given length.
func New(features, classes int, o Options, seed uint64, session tf.SessionOptions) (*nn.Net, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if features < 1 {
		return nil, fmt.Errorf("head: feature length %d", features)
	}
	return nn.New([]int64{int64(features)}, o.Arch(), nn.Config{Classes: classes, L2: o.L2, LearningRate: o.LearningRate, Session: session}, seed)
}
