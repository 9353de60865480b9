package finetune

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// viewSeed turns an image's hash and a view number into an augmentation stream index, so a
// view's random transform depends on the image's content, not on its place in a list.
func viewSeed(imageHash string, view int) int {
	b, err := hex.DecodeString(imageHash[:16])
	if err != nil || len(b) < 8 {
		b = []byte(imageHash + "00000000")[:8]
	}
	return int((binary.LittleEndian.Uint64(b) + uint64(view)*0x9e3779b97f4a7c15) >> 1)
}

var errNoHash = errors.New("image has no content hash")
