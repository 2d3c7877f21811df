/*
 * FreeBSD parts: fsync(2) per file, sysctl(3) for processes.
 */

#include <sys/param.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "osdep.h"

int
osdep_file_written(int fd)
{
	return (fsync(fd));
}

int
osdep_dir_flush(int dirfd)
{
	(void)dirfd;
	return (0);
}

/*
 * FreeBSD's PID_MAX (sys/proc.h, kernel only).  Above it a number may
 * be a thread's, and kern.proc.pid would answer for the process that
 * owns that thread.
 */
#define FREEBSD_PID_MAX	99999

int
osdep_alarm_fd(time_t when)
{
	(void)when;
	errno = EOPNOTSUPP;
	return (-1);
}

int
osdep_proc_open(int pid, struct osdep_proc *p)
{
	p->pid = pid;
	p->fd = -1;
	if (pid <= 0 || pid > FREEBSD_PID_MAX) {
		errno = ESRCH;
		return (-1);
	}
	return (0);
}

int
osdep_proc_info(const struct osdep_proc *p, struct osdep_procinfo *pi)
{
	struct kinfo_proc	kp;
	struct stat		st;
	char			exe[PATH_MAX];
	size_t			size = sizeof(kp);
	int			mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID, 0 };

	memset(pi, 0, sizeof(*pi));
	mib[3] = p->pid;
	if (sysctl(mib, 4, &kp, &size, NULL, 0) == -1)
		return (-1);
	if (size == 0 || kp.ki_pid != p->pid) {
		errno = ESRCH;
		return (-1);
	}
	pi->zombie = kp.ki_stat == SZOMB;
	pi->uid = kp.ki_uid;
	strlcpy(pi->name, kp.ki_comm, sizeof(pi->name));
	mib[2] = KERN_PROC_PATHNAME;
	size = sizeof(exe);
	pi->exe_safe = sysctl(mib, 4, exe, &size, NULL, 0) == 0 &&
	    stat(exe, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
	return (0);
}

int
osdep_proc_kill(const struct osdep_proc *p, int sig)
{
	return (kill(p->pid, sig));
}

void
osdep_proc_close(struct osdep_proc *p)
{
	p->fd = -1;
}
