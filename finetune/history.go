package finetune

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lessdata/lessdata/internal/files"
)

// Epoch is what one epoch measured, in Keras' names.
type Epoch struct {
	Epoch       int     `json:"epoch"` // from 1
	Loss        float64 `json:"loss"`
	Accuracy    float64 `json:"accuracy"`
	ValLoss     float64 `json:"val_loss"`
	ValAccuracy float64 `json:"val_accuracy"`
	Seconds     float64 `json:"seconds"`
}

// Stop reasons.
const (
	StopCompleted   = "completed"
	StopEarly       = "early stopping"
	StopInterrupted = "interrupted"
)

// History is the record of a fit.
type History struct {
	Epochs []Epoch `json:"epochs"`
	// BestEpoch is the epoch with the lowest validation loss (from 1; 0 before any epoch).
	BestEpoch int `json:"best_epoch"`
	// Restored reports whether the final weights are those of BestEpoch (keep-best).
	Restored bool   `json:"restored_best"`
	Stopped  string `json:"stopped"`
}

// Best returns the epoch with the lowest validation loss.
func (h *History) Best() (Epoch, bool) {
	if h.BestEpoch < 1 || h.BestEpoch > len(h.Epochs) {
		return Epoch{}, false
	}
	return h.Epochs[h.BestEpoch-1], true
}

// Last returns the last epoch.
func (h *History) Last() (Epoch, bool) {
	if len(h.Epochs) == 0 {
		return Epoch{}, false
	}
	return h.Epochs[len(h.Epochs)-1], true
}

// Save writes history.json and history.csv into dir, each atomically.
func (h *History) Save(dir string) error {
	if err := files.WriteJSON(filepath.Join(dir, "history.json"), h); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	rows := [][]string{{"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, e := range h.Epochs {
		rows = append(rows, []string{strconv.Itoa(e.Epoch), f(e.Loss), f(e.Accuracy), f(e.ValLoss), f(e.ValAccuracy), f(e.Seconds)})
	}
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(rows); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	if err := files.WriteAtomic(filepath.Join(dir, "history.csv"), buf.Bytes()); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	return nil
}

// LoadHistory reads history.json from dir.
func LoadHistory(dir string) (*History, error) {
	b, err := os.ReadFile(filepath.Join(dir, "history.json"))
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("load history %s: %w", dir, err)
	}
	return &h, nil
}
