package analyzer

import (
	"fmt"
	"strings"

	"github.com/vmcore/vmcore/analysis"
)

// maxPathDepth bounds a walk up the dentry and mount trees.
const maxPathDepth = 256

// sbFlags are the superblock flags (SB_* in include/linux/fs.h, the
// MS_* values of mount(2)), by bit.
var sbFlags = []struct {
	bit  uint64
	name string
}{
	{1 << 0, "SB_RDONLY"}, {1 << 1, "SB_NOSUID"}, {1 << 2, "SB_NODEV"}, {1 << 3, "SB_NOEXEC"},
	{1 << 4, "SB_SYNCHRONOUS"}, {1 << 6, "SB_MANDLOCK"}, {1 << 7, "SB_DIRSYNC"}, {1 << 10, "SB_NOATIME"},
	{1 << 11, "SB_NODIRATIME"}, {1 << 15, "SB_SILENT"}, {1 << 16, "SB_POSIXACL"}, {1 << 17, "SB_INLINECRYPT"},
	{1 << 22, "SB_KERNMOUNT"}, {1 << 23, "SB_I_VERSION"}, {1 << 25, "SB_LAZYTIME"}, {1 << 26, "SB_SUBMOUNT"},
	{1 << 27, "SB_FORCE"}, {1 << 28, "SB_NOSEC"}, {1 << 29, "SB_BORN"}, {1 << 30, "SB_ACTIVE"}, {1 << 31, "SB_NOUSER"},
}

// sbFreezeLevels names sb_writers.frozen (SB_UNFROZEN … SB_FREEZE_COMPLETE).
var sbFreezeLevels = []string{"", "write", "pagefault", "fs", "complete"}

// mntReadOnly is MNT_READONLY in vfsmount.mnt_flags.
const mntReadOnly = 0x40

// errnoNames names the errors a superblock's writeback error may hold.
var errnoNames = map[uint32]string{1: "EPERM", 5: "EIO", 6: "ENXIO", 12: "ENOMEM", 19: "ENODEV", 22: "EINVAL",
	28: "ENOSPC", 30: "EROFS", 74: "EBADMSG", 110: "ETIMEDOUT", 117: "EUCLEAN", 122: "EDQUOT"}

// errseqErrnoMask is the errno part of an errseq_t (MAX_ERRNO).
const errseqErrnoMask = 0xfff

// mountLayout is what the mount walk reads, by name.
type mountLayout struct {
	nsproxy, mntNS, nsList, nsMounts           uint64
	viaTree                                    bool // 6.8+: mnt_namespace.mounts is an rb tree of mount.mnt_node
	mntList, mntNode, mnt, mntParent, mntMP    uint64
	mntDevname, vfsRoot, vfsSB, vfsFlags       uint64
	sbType, sbFlags, sbFrozen, sbWBErr, fsName uint64
	hasFrozen, hasWBErr                        bool
	dName, dParent                             uint64
	rbLeft, rbRight                            uint64
}

func (k *Kernel) mountLayout(n *layoutNeeds) (*mountLayout, bool) {
	l := &mountLayout{}
	var ok [16]bool
	l.nsproxy, ok[0] = n.off("task_struct", "nsproxy")
	l.mntNS, ok[1] = n.off("nsproxy", "mnt_ns")
	if o, found := n.tryOffOK("mnt_namespace", "list"); found {
		l.nsList, ok[2] = o, true
		l.mntList, ok[3] = n.off("mount", "mnt_list")
	} else {
		l.viaTree = true
		l.nsMounts, ok[2] = n.off("mnt_namespace", "mounts")
		l.mntNode, ok[3] = n.off("mount", "mnt_node")
		l.rbLeft, _ = n.off("rb_node", "rb_left")
		l.rbRight, _ = n.off("rb_node", "rb_right")
	}
	l.mnt, ok[4] = n.off("mount", "mnt")
	l.mntParent, ok[5] = n.off("mount", "mnt_parent")
	l.mntMP, ok[6] = n.off("mount", "mnt_mountpoint")
	l.mntDevname, ok[7] = n.off("mount", "mnt_devname")
	l.vfsRoot, ok[8] = n.off("vfsmount", "mnt_root")
	l.vfsSB, ok[9] = n.off("vfsmount", "mnt_sb")
	l.vfsFlags, ok[10] = n.off("vfsmount", "mnt_flags")
	l.sbType, ok[11] = n.off("super_block", "s_type")
	l.sbFlags, ok[12] = n.off("super_block", "s_flags")
	l.fsName, ok[13] = n.off("file_system_type", "name")
	l.dName, ok[14] = n.off("dentry", "d_name.name")
	l.dParent, ok[15] = n.off("dentry", "d_parent")
	l.sbFrozen, l.hasFrozen = n.off("super_block", "s_writers.frozen")
	l.sbWBErr, l.hasWBErr = n.off("super_block", "s_wb_err")
	for _, b := range ok {
		if !b {
			return l, false
		}
	}
	return l, true
}

// Filesystems lists the mounts of the initial mount namespace
// (init_task's, as drgn's for_each_mount) in mount order, each with its
// superblock's type, flags, freeze level and last writeback error.
func (k *Kernel) Filesystems() (*analysis.Filesystems, []string, error) {
	n := k.needs()
	f := &analysis.Filesystems{Mounts: []analysis.Mount{}}
	l, ok := k.mountLayout(n)
	initTask, ok2 := n.sym("init_task")
	if !ok || !ok2 {
		f.Missing = n.Missing()
		return f, nil, errMissing
	}
	ns, err := k.ptr(initTask + l.nsproxy)
	if err == nil && ns != 0 {
		ns, err = k.ptr(ns + l.mntNS)
	}
	if err != nil || ns == 0 {
		return f, nil, fmt.Errorf("init_task's mount namespace: %v", err)
	}
	var warnings []string
	visit := func(mount uint64) error {
		if len(f.Mounts) >= maxListEntries {
			return fmt.Errorf("more than %d mounts", maxListEntries)
		}
		m, err := k.mount(l, mount)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("filesystems: mount at %#x: %v", mount, err))
		}
		f.Mounts = append(f.Mounts, m)
		return nil
	}
	if l.viaTree {
		err = k.rbWalk(ns+l.nsMounts, l.rbLeft, l.rbRight, func(node uint64) error { return visit(node - l.mntNode) })
	} else {
		err = k.listWalk(ns+l.nsList, func(node uint64) error { return visit(node - l.mntList) })
	}
	if err != nil {
		warnings = append(warnings, "filesystems: mount list: "+err.Error())
	}
	f.Missing = n.Missing()
	return f, warnings, nil
}

// mount reads one struct mount and its superblock.
func (k *Kernel) mount(l *mountLayout, mount uint64) (analysis.Mount, error) {
	m := analysis.Mount{Mount: analysis.Hex(mount), Flags: []string{}}
	sb, err := k.ptr(mount + l.mnt + l.vfsSB)
	if err != nil {
		return m, err
	}
	m.Superblock = analysis.Hex(sb)
	m.Device, _ = k.cstr(mount+l.mntDevname, 256)
	m.Dir, err = k.mountPath(l, mount)
	if err != nil {
		return m, err
	}
	mflags, _ := k.u32(mount + l.mnt + l.vfsFlags)
	if sb == 0 {
		return m, nil
	}
	if t, err := k.ptr(sb + l.sbType); err == nil && t != 0 {
		m.Type, _ = k.cstr(t+l.fsName, 64)
	}
	flags, _ := k.u64(sb + l.sbFlags)
	for _, f := range sbFlags {
		if flags&f.bit != 0 {
			m.Flags = append(m.Flags, f.name)
		}
	}
	m.ReadOnly = flags&1 != 0 || mflags&mntReadOnly != 0
	if l.hasFrozen {
		// int before 6.6, unsigned short since: the low half holds it.
		if v, err := k.u16(sb + l.sbFrozen); err == nil {
			if int(v) < len(sbFreezeLevels) {
				m.Frozen = sbFreezeLevels[v]
			} else {
				m.Frozen = fmt.Sprintf("level %d", v)
			}
		}
	}
	if l.hasWBErr {
		if v, err := k.u32(sb + l.sbWBErr); err == nil && v&errseqErrnoMask != 0 {
			e := v & errseqErrnoMask // errseq_set() keeps the positive errno
			if m.WritebackError = errnoNames[e]; m.WritebackError == "" {
				m.WritebackError = fmt.Sprintf("errno %d", e)
			}
		}
	}
	return m, nil
}

// mountPath is d_path() of a mount's root: dentry names up to the mount's
// root, then across to the parent mount at its mount point, up to the
// namespace's root mount.
func (k *Kernel) mountPath(l *mountLayout, mount uint64) (string, error) {
	dentry, err := k.ptr(mount + l.mnt + l.vfsRoot)
	if err != nil {
		return "", err
	}
	var parts []string
	for depth := 0; depth < maxPathDepth; depth++ {
		root, err := k.ptr(mount + l.mnt + l.vfsRoot)
		if err != nil {
			return "", err
		}
		for d := 0; dentry != root && d < maxPathDepth; d++ {
			parent, err := k.ptr(dentry + l.dParent)
			if err != nil {
				return "", err
			}
			if parent == dentry {
				break // a filesystem root not at the mount's root (a bind mount)
			}
			name, err := k.cstr(dentry+l.dName, 256)
			if err != nil {
				return "", err
			}
			parts = append(parts, name)
			dentry = parent
		}
		parent, err := k.ptr(mount + l.mntParent)
		if err != nil {
			return "", err
		}
		if parent == mount || parent == 0 {
			break
		}
		if dentry, err = k.ptr(mount + l.mntMP); err != nil {
			return "", err
		}
		mount = parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/"), nil
}
