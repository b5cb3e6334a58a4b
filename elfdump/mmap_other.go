//go:build !unix

package elfdump

import "os"

// mmapReadOnly maps nothing here: NewDWARFUnits then reads sections
// through Section.Data.
func mmapReadOnly(*os.File, int) ([]byte, error) { return nil, nil }

func munmap([]byte) error { return nil }
