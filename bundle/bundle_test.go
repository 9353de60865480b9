package bundle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func manifest() *Manifest {
	return &Manifest{Kind: KindTransfer, Classes: []string{"ants", "bees"}, Input: Size{224, 224},
		Backbone: &Backbone{Name: "mobilenet_v2", SHA256: "abc", Features: 1280}}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ModelDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ModelDir, "saved_model.pb"), []byte("x"), 0o644))
	require.NoError(t, Write(dir, manifest()))
	m, err := Read(dir)
	require.NoError(t, err)
	require.Equal(t, FormatVersion, m.FormatVersion)
	require.Equal(t, "mobilenet_v2", m.Backbone.Name)

	require.NoError(t, os.Remove(filepath.Join(dir, ModelDir, "saved_model.pb")))
	_, err = Read(dir)
	require.ErrorContains(t, err, "its model is missing")
	_, err = Read(t.TempDir())
	require.ErrorContains(t, err, "not a lessdata model")
}

func TestValidate(t *testing.T) {
	for name, edit := range map[string]func(*Manifest){
		"newer":       func(m *Manifest) { m.FormatVersion = FormatVersion + 1 },
		"kind":        func(m *Manifest) { m.Kind = "magic" },
		"one class":   func(m *Manifest) { m.Classes = m.Classes[:1] },
		"input size":  func(m *Manifest) { m.Input.Width = 0 },
		"no backbone": func(m *Manifest) { m.Backbone = nil },
		"positive":    func(m *Manifest) { m.Positive = "wasps" },
	} {
		m := manifest()
		m.FormatVersion = FormatVersion
		edit(m)
		require.Error(t, m.Validate(), name)
	}
}

func TestRunDir(t *testing.T) {
	final := filepath.Join(t.TempDir(), "run")
	r, err := Begin(final, false)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(r.Path("a.txt"), []byte("1"), 0o644))
	require.NoDirExists(t, final, "nothing appears before Commit")
	require.NoError(t, r.Commit())
	r.Abandon() // a no-op after Commit
	require.FileExists(t, filepath.Join(final, "a.txt"))

	_, err = Begin(final, false)
	require.ErrorContains(t, err, "--force")
	r, err = Begin(final, true)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(r.Path("b.txt"), []byte("2"), 0o644))
	require.FileExists(t, filepath.Join(final, "a.txt"), "the old run stays until the new one is whole")
	require.NoError(t, r.Commit())
	require.NoFileExists(t, filepath.Join(final, "a.txt"))
	require.FileExists(t, filepath.Join(final, "b.txt"))

	r, err = Begin(filepath.Join(t.TempDir(), "other"), false)
	require.NoError(t, err)
	r.Abandon()
	require.NoDirExists(t, r.Work)
}
