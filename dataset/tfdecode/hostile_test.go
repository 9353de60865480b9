package tfdecode

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lessdata/lessdata/dataset"
)

// stderrOf runs fn with file descriptor 2 sent to a file and returns what was written there.
func stderrOf(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	saved, err := unix.Dup(2)
	require.NoError(t, err)
	require.NoError(t, unix.Dup2(int(f.Fd()), 2))
	func() {
		defer func() {
			unix.Dup2(saved, 2)
			unix.Close(saved)
		}()
		fn()
	}()
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	return string(b)
}

// Issue 10, item 13: a truncated JPEG gives one line naming the file, and nothing of libjpeg's
// ("Improper call to JPEG library in state 203") reaches stderr.
func TestTruncatedJPEGIsOneQuietLine(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for i := range src.Pix {
		src.Pix[i] = uint8(i*7 + i*i/13)
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}))
	whole := buf.Bytes()
	dir := t.TempDir()
	_, err := Decode(whole) // build the session first: its one-time logging is not under test
	require.NoError(t, err)

	var errs []error
	printed := stderrOf(t, func() {
		for n := 200; n < len(whole)-1; n += 97 {
			p := filepath.Join(dir, "cut.jpg")
			require.NoError(t, os.WriteFile(p, whole[:n], 0o644))
			_, err := dataset.LoadImage(p, 16, 16, 0, Decode)
			errs = append(errs, err)
		}
	})
	require.Empty(t, printed)
	require.NotEmpty(t, errs)
	for _, err := range errs {
		require.Error(t, err)
		require.Contains(t, err.Error(), "cut.jpg")
		require.NotContains(t, err.Error(), "\n")
	}

	// What TensorFlow itself says about a broken file also fits on one line.
	_, err = Decode(append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0x42}, 100)...))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "\n")
	require.NotContains(t, err.Error(), "{{node")
}
