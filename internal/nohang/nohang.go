// Package nohang lets a test fail, instead of hanging, when what it tests blocks.
package nohang

import (
	"testing"
	"time"
)

// Within fails the test when fn, run on its own goroutine, does not return within d: what it
// tests must not block.
func Within(t testing.TB, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("blocked")
	}
}
