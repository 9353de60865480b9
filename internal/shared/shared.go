// Package shared finds the read-only ../shared folder (real backbones, check images and
// datasets) for tests and benchmarks, which skip with a clear message when it is absent.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// DisableEnv names the environment variable that, set to "none", hides the shared folder, so that
// the hermetic tests can be run as in a fresh clone: LESSDATA_SHARED=none go test ./...
const DisableEnv = "LESSDATA_SHARED"

// Dir returns the shared folder beside the repository root, or "" when there is none (or
// DisableEnv says none). It walks up from the working directory to the folder holding go.mod
// and looks beside it.
func Dir() string {
	if os.Getenv(DisableEnv) == "none" {
		return ""
	}
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if st, err := os.Stat(filepath.Join(s, "README.md")); err == nil && !st.IsDir() {
				return s
			}
			return ""
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// Need returns the path of rel inside the shared folder, skipping the test when the folder or the
// path is absent.
func Need(t testing.TB, rel string) string {
	t.Helper()
	d := Dir()
	if d == "" {
		t.Skip("../shared not found beside the repository: real-data test skipped (CI provides it)")
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("../shared has no %s: real-data test skipped", rel)
	}
	return p
}

// RunWithTempDir runs a package's tests with *dir set to a fresh temporary folder (such as a
// backbone cache the tests share), removes it, and exits with the tests' code. Call it from
// TestMain.
func RunWithTempDir(m *testing.M, prefix string, dir *string) {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		println("cannot make a temporary folder:", err.Error())
		os.Exit(1)
	}
	*dir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
