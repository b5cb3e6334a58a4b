//go:build !linux

package startup
