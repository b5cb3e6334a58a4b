module github.com/vmcore/vmcore

go 1.26.8

require (
	github.com/anchore/go-lzo v0.1.1 // indirect
	github.com/cilium/ebpf v0.22.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
