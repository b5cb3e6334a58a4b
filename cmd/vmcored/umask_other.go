//go:build !unix

package main

// privateFiles does nothing here: the files are created with private
// modes by the code that makes them.
func privateFiles() {}
