package tfdecode

import (
	"fmt"
	"image"
	"strings"
	"sync"

	"github.com/lessdata/lessdata/tf"
)

var (
	once  sync.Once
	sess  *tf.Session
	input tf.Output
	pix   tf.Output
	err0  error
)

func build() error {
	g, err := tf.NewGraph()
	if err != nil {
		return err
	}
	s := tf.NewScope(g)
	input = s.Placeholder("contents", tf.String, tf.Shape{})
	pix = s.Out("DecodeImage", map[string]any{"channels": int64(3), "dtype": tf.Uint8, "expand_animations": false}, input)
	if err := s.Err(); err != nil {
		return err
	}
	sess, err = tf.NewSession(g, tf.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1})
	return err
}

// Decode decodes a JPEG, PNG, GIF or BMP file's bytes into an RGB image. It is safe for
// concurrent use.
func Decode(data []byte) (image.Image, error) {
	once.Do(func() { err0 = build() })
	if err0 != nil {
		return nil, fmt.Errorf("tensorflow image decoder: %w", err0)
	}
	t, err := tf.NewStringTensor([]int64{}, []string{string(data)})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	out, err := sess.Run(map[tf.Output]*tf.Tensor{input: t}, []tf.Output{pix}, nil)
	if err != nil {
		return nil, fmt.Errorf("tensorflow image decoder: %s", firstLine(err))
	}
	defer out[0].Close()
	shape := out[0].Shape()
	if len(shape) != 3 || shape[2] != 3 {
		return nil, fmt.Errorf("tensorflow image decoder: got shape %v", shape)
	}
	rgb, err := tf.Values[uint8](out[0])
	if err != nil {
		return nil, err
	}
	h, w := int(shape[0]), int(shape[1])
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		copy(img.Pix[4*i:4*i+3], rgb[3*i:3*i+3])
		img.Pix[4*i+3] = 0xFF
	}
	return img, nil
}

// firstLine returns the first line of err's message: TensorFlow appends the failing node on
// further lines ("\n\t [[{{node DecodeImage}}]]"), which mean nothing to a user.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(msg)
}
