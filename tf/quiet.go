package tf

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

var firstRun, firstLoad sync.Once

// quietOnce runs fn, the first call of its kind (a session run, a SavedModel load) in the
// process, with file descriptor 2 sent to
// /dev/null when TF_CPP_MIN_LOG_LEVEL asks for quiet (Load sets it to 2 unless the user chose).
// TensorFlow's graph optimiser logs an informational line through its own copy of abseil there,
// which TF_CPP_MIN_LOG_LEVEL does not reach. Errors still come back as statuses.
func quietOnce(once *sync.Once, fn func()) {
	ran := false
	once.Do(func() {
		if os.Getenv("TF_CPP_MIN_LOG_LEVEL") < "1" {
			return
		}
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer null.Close()
		saved, err := unix.Dup(2)
		if err != nil {
			return
		}
		defer unix.Close(saved)
		if unix.Dup2(int(null.Fd()), 2) != nil {
			return
		}
		defer unix.Dup2(saved, 2)
		ran = true
		fn()
	})
	if !ran {
		fn()
	}
}
