//go:build !unix

package diskspace

// Free returns ErrUnknown: this platform's free space is not read.
func Free(path string) (int64, error) { return 0, ErrUnknown }
