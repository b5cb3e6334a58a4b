package cli

import (
	"os"
	"testing"
)

// TestDevNullIsNotATerminal: /dev/null is a character device, as a
// terminal is, but `vmcorectl log > /dev/null` is no place for colour.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("isTerminal(%s) = true", os.DevNull)
	}
	if on, err := useColor("auto", f); err != nil || on {
		t.Errorf("useColor(auto, %s) = %v, %v; want false", os.DevNull, on, err)
	}
	if isTerminal(nil) {
		t.Error("isTerminal(nil) = true")
	}
}
