package finetune

import (
	"context"
	"fmt"

	"github.com/lessdata/lessdata/augment"
	"github.com/lessdata/lessdata/dataset"
	"github.com/lessdata/lessdata/nn"
	"github.com/lessdata/lessdata/tf"
)

// ArticleCNN is the article's network body: conv 32 3x3 relu, max-pool 2, conv 32 3x3 relu,
// max-pool 2, flatten, dense 128 relu. The output layer (one sigmoid unit for two classes, a
// softmax for more) is added by nn.
func ArticleCNN(b *nn.Builder, x tf.Output) tf.Output {
	x = b.MaxPool(b.Conv2D(x, 32, 3, "relu"), 2)
	x = b.MaxPool(b.Conv2D(x, 32, 3, "relu"), 2)
	return b.Dense(b.Flatten(x), 128, "relu", 0)
}

// Labelled is a set of decoded images of one size with their classes.
type Labelled struct {
	Images []*dataset.Image
	Labels []int
}

// ScratchOptions configures the scratch recipe.
type ScratchOptions struct {
	// Augment is applied to training images, fresh at every step; its Rescale and featurewise
	// normalisation also apply to validation and prediction. augment.Article() is the article's.
	Augment augment.Params
	// NoAugment turns the random transforms off (rescale and normalisation stay).
	NoAugment bool
	Fit       FitOptions
	Session   tf.SessionOptions
}

// Trained is a fitted model with what prediction needs to feed it.
type Trained struct {
	Net     *nn.Net
	History *History
	// Stats are the featurewise statistics fitted on the training images (zero when unused).
	Stats augment.Stats
	// Standardizer turns a decoded image into the network's input, as in validation (scratch
	// only).
	Standardizer *augment.Augmenter
	// Val is the validation set as the network saw it, for scoring the final model.
	Val *Examples
}

// Scratch trains the article's CNN from scratch on train, validating on val. All images must
// have the same size. The returned model holds the weights the fit ended with (the best ones
// under KeepBest or after an interrupt).
func Scratch(ctx context.Context, classes []string, train, val Labelled, opt ScratchOptions) (*Trained, error) {
	if len(train.Images) == 0 || len(val.Images) == 0 {
		return nil, fmt.Errorf("scratch: need training and validation images (got %d and %d)", len(train.Images), len(val.Images))
	}
	w, h := train.Images[0].W, train.Images[0].H
	for _, set := range [][]*dataset.Image{train.Images, val.Images} {
		for _, im := range set {
			if im.W != w || im.H != h {
				return nil, fmt.Errorf("scratch: images must all be %dx%d, one is %dx%d", w, h, im.W, im.H)
			}
		}
	}
	p := opt.Augment
	var stats augment.Stats
	if p.FeaturewiseCenter || p.FeaturewiseStdNormalization {
		stats = augment.Fit(p, train.Images)
	}
	standard := p
	standard.RotationRange, standard.WidthShiftRange, standard.HeightShiftRange, standard.ShearRange = 0, 0, 0, 0
	standard.ZoomRange, standard.BrightnessRange = [2]float64{}, [2]float64{}
	standard.HorizontalFlip, standard.VerticalFlip = false, false
	if opt.NoAugment {
		p = standard
	}
	aug, err := augment.New(p, &stats, opt.Fit.Seed)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	std, err := augment.New(standard, &stats, opt.Fit.Seed)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	net, err := nn.New([]int64{int64(h), int64(w), 3}, ArticleCNN, nn.Config{Classes: len(classes), Session: opt.Session}, opt.Fit.Seed)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	valEx := StandardizeAll(std, val)
	set := &imageSet{images: train.Images, labels: train.Labels, aug: aug}
	hist, err := Fit(ctx, net, set, valEx, opt.Fit)
	if err != nil {
		net.Close()
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return &Trained{Net: net, History: hist, Stats: stats, Standardizer: std, Val: valEx}, nil
}

// StandardizeAll applies rescale and featurewise normalisation (no random transform) to a set.
func StandardizeAll(std *augment.Augmenter, set Labelled) *Examples {
	if len(set.Images) == 0 {
		return &Examples{}
	}
	size := len(set.Images[0].Pix)
	ex := &Examples{X: make([]float32, 0, size*len(set.Images)), Labels: set.Labels}
	for _, im := range set.Images {
		dst := &dataset.Image{}
		std.Standardize(dst, im)
		ex.X = append(ex.X, dst.Pix...)
	}
	return ex
}

// imageSet serves training images with a fresh random augmentation per draw.
type imageSet struct {
	images []*dataset.Image
	labels []int
	aug    *augment.Augmenter
}

func (s *imageSet) Len() int        { return len(s.images) }
func (s *imageSet) Label(i int) int { return s.labels[i] }
func (s *imageSet) Size() int       { return len(s.images[0].Pix) }

func (s *imageSet) Fill(dst []float32, i int, draw uint64) error {
	src := s.images[i]
	out := &dataset.Image{W: src.W, H: src.H, Pix: dst}
	s.aug.Fork(int(draw)).Random(out, src)
	if &out.Pix[0] != &dst[0] {
		return fmt.Errorf("augment wrote outside the batch buffer")
	}
	return nil
}
