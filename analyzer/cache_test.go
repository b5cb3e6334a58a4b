package analyzer_test

import (
	"os"
	"testing"
)

// TestMain gives the tests their own profile cache: a profile left in the
// user's cache by an older build must not decide what they see.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vmcore-test-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("VMCORE_CACHE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
