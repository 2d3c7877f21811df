/*
 * Linux parts: syncfs(2) for batches, a timerfd for far timers, /proc
 * for processes, pidfds for signals.
 */

#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "osdep.h"

int
osdep_file_written(int fd)
{
	(void)fd;
	return (0);
}

int
osdep_dir_flush(int dirfd)
{
	return (syncfs(dirfd));
}

int
osdep_alarm_fd(time_t when)
{
	struct itimerspec	its;
	int			fd;

	if ((fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1)
		return (-1);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = when > 0 ? when : 1;
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

int
osdep_proc_open(int pid, struct osdep_proc *p)
{
	p->pid = pid;
	if ((p->fd = pidfd_open(pid, 0)) == -1)
		return (-1);
	fcntl(p->fd, F_SETFD, FD_CLOEXEC);
	return (0);
}

/* The effective uid on the "Uid:" line of /proc/pid/status, or -1. */
static int
proc_euid(int pid, uid_t *uid)
{
	char		 path[64], line[256];
	FILE		*fp;
	unsigned long	 r, e;
	int		 rv = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((fp = fopen(path, "re")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
			*uid = (uid_t)e;
			rv = 0;
			break;
		}
	fclose(fp);
	return (rv);
}

int
osdep_proc_info(const struct osdep_proc *p, struct osdep_procinfo *pi)
{
	struct stat	 st;
	char		 path[64], buf[512], *s;
	ssize_t		 n;
	int		 fd;

	memset(pi, 0, sizeof(*pi));
	snprintf(path, sizeof(path), "/proc/%d/stat", p->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			errno = ESRCH;
		return (-1);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = ESRCH;
		return (-1);
	}
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold ')' itself, take the last. */
	if ((s = strrchr(buf, ')')) == NULL || s[1] != ' ' ||
	    strchr(buf, '(') == NULL) {
		errno = EINVAL;
		return (-1);
	}
	pi->zombie = s[2] == 'Z' || s[2] == 'X';
	*s = '\0';
	strlcpy(pi->name, strchr(buf, '(') + 1, sizeof(pi->name));
	if (proc_euid(p->pid, &pi->uid) == -1) {
		errno = ESRCH;
		return (-1);
	}
	/* The link resolves to the file run, even when it was replaced. */
	snprintf(path, sizeof(path), "/proc/%d/exe", p->pid);
	pi->exe_safe = stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
	return (0);
}

int
osdep_proc_kill(const struct osdep_proc *p, int sig)
{
	return (pidfd_send_signal(p->fd, sig, NULL, 0));
}

void
osdep_proc_close(struct osdep_proc *p)
{
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
}
