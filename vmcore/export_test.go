package vmcore

// WalkPageTables translates va by walking the kernel page tables, never
// through a fixed mapping (x86_64's kernel image, arm64's linear map), so
// tests can hold the two against each other.
func WalkPageTables(d *Dump, va uint64) (uint64, error) {
	if d.xlat == nil {
		return 0, d.xlatErr
	}
	return d.xlat.(interface{ walk(uint64) (uint64, error) }).walk(va)
}
