package analyzer

import (
	"github.com/vmcore/vmcore/analysis"
)

// sectionsNeedingTasks are the sections after the backtraces that read the
// task list.
const sectionsNeedingTasks = SectionTaskMemory | SectionLocks

// sectionSteps runs the steps of the sections after the backtraces (each
// its own step, so one that fails leaves the others), then derives the
// findings the knowledge base reads from everything the document holds.
func (k *Kernel) sectionSteps(a *analysis.Document, sections Section, tasks []Task, step func(string, func() error)) {
	want := func(s Section) bool { return sections&s != 0 }
	if want(SectionMemory) {
		step("memory", func() error {
			m, w, err := k.Memory()
			a.Memory = m
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	if want(SectionSlab) {
		step("slab", func() error {
			s, w, err := k.Slab()
			a.Slab = s
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	if want(SectionTaskMemory) {
		step("task_memory", func() error {
			tm, w, err := k.TaskMemory(tasks)
			a.TaskMemory = tm
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	if want(SectionLocks) {
		step("locks", func() error {
			l, w, err := k.Locks(tasks, a.Blocked, a.Backtraces)
			a.Locks = l
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	if want(SectionRunQueues) {
		step("runqueues", func() error {
			r, w, err := k.RunQueues()
			a.RunQueues = r
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	if want(SectionIO) {
		step("block", func() error {
			b, w, err := k.Block()
			a.Block = b
			a.Warnings = append(a.Warnings, w...)
			return err
		})
		step("filesystems", func() error {
			f, w, err := k.Filesystems()
			a.Filesystems = f
			a.Warnings = append(a.Warnings, w...)
			return err
		})
	}
	a.Findings = Findings(a)
}

// CommandLine is the kernel's command line (saved_command_line), "" when
// it cannot be read.
func (k *Kernel) CommandLine() string {
	a, ok := k.Syms.Lookup("saved_command_line")
	if !ok {
		return ""
	}
	s, err := k.cstr(a, 4096)
	if err != nil {
		return ""
	}
	return s
}
