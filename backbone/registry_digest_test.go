package backbone

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lessdata/lessdata/backbone/backbonetest"
)

// TestOpenChecksDigest runs without ../shared: a same-size change or a truncation of
// saved_model.pb is refused with one actionable line before TensorFlow reads the file.
func TestOpenChecksDigest(t *testing.T) {
	for name, edit := range map[string]func([]byte) []byte{
		"same size": func(b []byte) []byte { b[len(b)/2] ^= 0x55; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-10] },
	} {
		t.Run(name, func(t *testing.T) {
			dir := backbonetest.MustWrite(t, backbonetest.Options{})
			pb := filepath.Join(dir, "saved_model.pb")
			data, err := os.ReadFile(pb)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(pb, edit(data), 0o644))
			_, err = Open(dir, Options{})
			require.ErrorContains(t, err, dir+" is damaged: its saved_model.pb or variables do not match the digest in lessdata_backbone.json")
			require.ErrorContains(t, err, "convert or export it again", "not a zoo entry: no fetch hint")
			require.NotContains(t, err.Error(), "\n")
			require.NotContains(t, err.Error(), "tensorflow")
		})
	}
}
