package analyzer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
	"github.com/vmcore/vmcore/vmcore"
)

// hidingTypes answers like the kernel's types but for the members,
// structs and enumerators it hides, as an older or differently configured
// kernel's types would.
type hidingTypes struct {
	Types
	hide map[string]bool // "struct.member", "struct", "enum:NAME"
}

func (h hidingTypes) Size(typ string) (uint64, error) {
	if h.hide[typ] {
		return 0, fmt.Errorf("%w: struct %s (hidden)", ErrNoType, typ)
	}
	return h.Types.Size(typ)
}

func (h hidingTypes) Offset(typ, path string) (uint64, error) {
	if h.hide[typ] || h.hide[typ+"."+path] {
		return 0, fmt.Errorf("%w: %s.%s (hidden)", ErrNoType, typ, path)
	}
	return h.Types.Offset(typ, path)
}

func (h hidingTypes) Enum(name string) (int64, error) {
	if h.hide["enum:"+name] {
		return 0, fmt.Errorf("%w: %s (hidden)", ErrNoType, name)
	}
	return h.Types.Enum(name)
}

func (h hidingTypes) ArrayLen(typ, path string) (uint64, error) {
	if h.hide[typ] || h.hide[typ+"."+path] {
		return 0, fmt.Errorf("%w: %s.%s (hidden)", ErrNoType, typ, path)
	}
	return h.Types.(layoutTypes).ArrayLen(typ, path)
}

func (h hidingTypes) EnumIn(typ, name string) (int64, error) {
	if h.hide["enum:"+name] {
		return 0, fmt.Errorf("%w: %s (hidden)", ErrNoType, name)
	}
	return h.Types.(layoutTypes).EnumIn(typ, name)
}

// TestSectionsSayWhatIsMissing hides from the fixture kernel's BTF what a
// section reads, one thing at a time, and checks that the section names
// it in its missing list, in kernel terms, and still returns what it
// could read.
func TestSectionsSayWhatIsMissing(t *testing.T) {
	dc := corpus.Fixture(t)
	d, err := vmcore.Open(dc.Files...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	k, err := OpenKernel(d, "")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _, err := k.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	real := k.Types
	for _, c := range []struct {
		hide    []string
		section func(k *Kernel) ([]string, error)
		want    string
	}{
		{[]string{"kmem_cache_node.total_objects"}, slabMissing, "struct kmem_cache_node has no member total_objects"},
		{[]string{"kmem_cache.cpu_slab"}, slabMissing, "struct kmem_cache has no member cpu_slab (SLUB)"},
		{[]string{"zone._watermark", "zone.watermark"}, memoryMissing, "struct zone has none of the members _watermark, watermark"},
		{[]string{"enum:NR_SHMEM"}, memoryMissing, "vmstat counter NR_SHMEM"},
		{[]string{"zone.free_area"}, memoryMissing, "struct zone has no member free_area"},
		{[]string{"mm_struct.rss_stat.count", "mm_struct.rss_stat"}, taskMemoryMissing(tasks), "struct mm_struct has no member rss_stat"},
		{[]string{"enum:memory_cgrp_id"}, taskMemoryMissing(tasks), "enum cgroup_subsys_id has no memory_cgrp_id"},
		{[]string{"mutex.owner"}, locksMissing(tasks), "struct mutex has no member owner"},
		{[]string{"mutex_waiter"}, locksMissing(tasks), "struct mutex_waiter has no member list"},
		{[]string{"rq.clock"}, runqMissing, "struct rq has no member clock"},
		{[]string{"sched_info.last_queued"}, runqMissing, "struct sched_info has no member last_queued"},
		{[]string{"request.state"}, blockMissing, "struct request has no member state"},
		{[]string{"gendisk.disk_name"}, blockMissing, "struct gendisk has no member disk_name"},
		{[]string{"super_block.s_writers.frozen"}, mountsMissing, "struct super_block has no member s_writers.frozen"},
		{[]string{"mount.mnt_list", "mnt_namespace.list"}, mountsMissing, "struct mount has no member mnt_node"}, // 6.8+ keeps mounts in a tree
	} {
		t.Run(strings.Join(c.hide, ","), func(t *testing.T) {
			hide := map[string]bool{}
			for _, h := range c.hide {
				hide[h] = true
			}
			k.Types = hidingTypes{Types: real, hide: hide}
			defer func() { k.Types = real }()
			missing, err := c.section(k)
			if !slices.Contains(missing, c.want) {
				t.Errorf("missing %q, want %q among them (err %v)", missing, c.want, err)
			}
		})
	}
	// With nothing hidden, nothing is missing.
	for name, f := range map[string]func(*Kernel) ([]string, error){"slab": slabMissing, "memory": memoryMissing,
		"task memory": taskMemoryMissing(tasks), "locks": locksMissing(tasks), "runq": runqMissing, "block": blockMissing,
		"mounts": mountsMissing} {
		if missing, err := f(k); len(missing) > 0 || err != nil {
			t.Errorf("%s: missing %q, err %v, from the complete types", name, missing, err)
		}
	}
}

func slabMissing(k *Kernel) ([]string, error) {
	s, _, err := k.Slab()
	return s.Missing, err
}

func memoryMissing(k *Kernel) ([]string, error) {
	m, _, err := k.Memory()
	return m.Missing, err
}

func taskMemoryMissing(tasks []Task) func(*Kernel) ([]string, error) {
	return func(k *Kernel) ([]string, error) {
		tm, _, err := k.TaskMemory(tasks)
		return tm.Missing, err
	}
}

func locksMissing(tasks []Task) func(*Kernel) ([]string, error) {
	return func(k *Kernel) ([]string, error) {
		l, _, err := k.Locks(tasks, nil, nil)
		return l.Missing, err
	}
}

func runqMissing(k *Kernel) ([]string, error) {
	r, _, err := k.RunQueues()
	return r.Missing, err
}

func blockMissing(k *Kernel) ([]string, error) {
	b, _, err := k.Block()
	return b.Missing, err
}

func mountsMissing(k *Kernel) ([]string, error) {
	f, _, err := k.Filesystems()
	return f.Missing, err
}
