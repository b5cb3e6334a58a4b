// SPDX-License-Identifier: MIT
/*
 * crashmod: a tiny out-of-tree module that crashes the kernel on request.
 * Used only by testdata/corpus/make.sh to produce real kdump vmcores.
 *
 * Usage (debugfs):  echo ACTION > /sys/kernel/debug/crashmod/trigger
 *   or at load time: insmod crashmod.ko action=ACTION
 *
 * ACTION is one of:
 *   null-deref  write through a NULL pointer in this module's own code (Oops)
 *   bug         BUG()
 *   panic       panic()
 *   warn        WARN() (panics only with panic_on_warn=1)
 *   hung        block forever in TASK_UNINTERRUPTIBLE on a mutex this
 *               module already holds (hung task detector)
 *   softlockup  spin with preemption disabled (soft lockup detector)
 *   abba        start two kernel threads that take crashmod_lock_a and
 *               crashmod_lock_b in opposite order: an ABBA deadlock, both
 *               threads in TASK_UNINTERRUPTIBLE (hung task detector)
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

MODULE_LICENSE("Dual MIT/GPL");
MODULE_AUTHOR("vmcore corpus generator");
MODULE_DESCRIPTION("Deliberately crash the kernel for crash-dump test fixtures");

static char *action = "";
module_param(action, charp, 0444);
MODULE_PARM_DESC(action, "crash action to run at load time (empty: none)");

struct crashmod_victim {
	unsigned long magic;
	unsigned long counter;
};

/* Kept in a global so the compiler cannot prove it is NULL. */
static struct crashmod_victim *crashmod_victim_ptr;
static DEFINE_MUTEX(crashmod_lock);
static DEFINE_MUTEX(crashmod_lock_a);
static DEFINE_MUTEX(crashmod_lock_b);
static struct dentry *crashmod_dir;

static noinline void crashmod_null_deref(void)
{
	struct crashmod_victim *v = READ_ONCE(crashmod_victim_ptr);

	pr_emerg("crashmod: writing through NULL pointer %px\n", v);
	v->counter = 0x4352415348ul; /* "CRASH" */
}

static noinline void crashmod_bug(void)
{
	pr_emerg("crashmod: calling BUG()\n");
	BUG();
}

static noinline void crashmod_panic(void)
{
	panic("crashmod: deliberate panic from module");
}

static noinline void crashmod_warn(void)
{
	WARN(1, "crashmod: deliberate WARN from module\n");
}

static noinline void crashmod_hung(void)
{
	pr_emerg("crashmod: taking crashmod_lock twice, task %s/%d will hang in D state\n",
		 current->comm, task_pid_nr(current));
	mutex_lock(&crashmod_lock);
	mutex_lock(&crashmod_lock); /* never returns */
	mutex_unlock(&crashmod_lock);
}

static noinline void crashmod_softlockup(void)
{
	pr_emerg("crashmod: spinning with preemption disabled on CPU %d\n",
		 raw_smp_processor_id());
	preempt_disable();
	for (;;)
		cpu_relax();
}

/* One side of the ABBA deadlock: take first, wait for the other thread to
 * take its first lock, then take second. */
struct crashmod_abba {
	struct mutex *first, *second;
	const char *first_name, *second_name;
};

static struct crashmod_abba crashmod_ab = {
	&crashmod_lock_a, &crashmod_lock_b, "crashmod_lock_a", "crashmod_lock_b"
};
static struct crashmod_abba crashmod_ba = {
	&crashmod_lock_b, &crashmod_lock_a, "crashmod_lock_b", "crashmod_lock_a"
};

static noinline int crashmod_abba_thread(void *arg)
{
	struct crashmod_abba *o = arg;

	mutex_lock(o->first);
	pr_emerg("crashmod: %s/%d holds %s, takes %s\n", current->comm,
		 task_pid_nr(current), o->first_name, o->second_name);
	msleep(500);
	mutex_lock(o->second); /* never returns: the other thread holds it */
	mutex_unlock(o->second);
	mutex_unlock(o->first);
	return 0;
}

static noinline int crashmod_abba(void)
{
	struct task_struct *t;

	t = kthread_run(crashmod_abba_thread, &crashmod_ab, "crashmod_ab");
	if (IS_ERR(t))
		return PTR_ERR(t);
	t = kthread_run(crashmod_abba_thread, &crashmod_ba, "crashmod_ba");
	return PTR_ERR_OR_ZERO(t);
}

static int crashmod_run(const char *what)
{
	if (!strcmp(what, "null-deref"))
		crashmod_null_deref();
	else if (!strcmp(what, "bug"))
		crashmod_bug();
	else if (!strcmp(what, "panic"))
		crashmod_panic();
	else if (!strcmp(what, "warn"))
		crashmod_warn();
	else if (!strcmp(what, "hung"))
		crashmod_hung();
	else if (!strcmp(what, "softlockup"))
		crashmod_softlockup();
	else if (!strcmp(what, "abba"))
		return crashmod_abba();
	else
		return -EINVAL;
	return 0;
}

static ssize_t crashmod_trigger_write(struct file *file, const char __user *ubuf,
				      size_t count, loff_t *ppos)
{
	char buf[32];
	size_t n = min(count, sizeof(buf) - 1);
	int ret;

	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = '\0';
	strim(buf);
	ret = crashmod_run(buf);
	return ret ? ret : count;
}

static const struct file_operations crashmod_trigger_fops = {
	.owner = THIS_MODULE,
	.write = crashmod_trigger_write,
	.llseek = noop_llseek,
};

static int __init crashmod_init(void)
{
	crashmod_dir = debugfs_create_dir("crashmod", NULL);
	debugfs_create_file("trigger", 0200, crashmod_dir, NULL, &crashmod_trigger_fops);
	pr_info("crashmod: loaded; echo ACTION > /sys/kernel/debug/crashmod/trigger\n");
	if (action && *action)
		return crashmod_run(action);
	return 0;
}

static void __exit crashmod_exit(void)
{
	debugfs_remove_recursive(crashmod_dir);
}

module_init(crashmod_init);
module_exit(crashmod_exit);
