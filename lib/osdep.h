/*
 * What differs between FreeBSD and Linux, one file per system
 * (osdep-bsd.c, osdep-linux.c), chosen by the Makefile.
 */
#ifndef SMTLSD_OSDEP_H
#define SMTLSD_OSDEP_H

#include <sys/types.h>

#include <time.h>

/*
 * Durability of a batch of new files in one directory: each file calls
 * osdep_file_written(fd) before close, and the batch calls
 * osdep_dir_flush(dirfd) once before anything is renamed into place.
 * Linux flushes the whole file system once (syncfs); the BSDs fsync each
 * file.  Both return 0, or -1 with errno set.
 */
int	osdep_file_written(int);
int	osdep_dir_flush(int);

/*
 * A descriptor that becomes readable at the wall-clock time when, for a
 * timer weeks away that must not wake the daemon before: Linux's epoll
 * waits at most 35 minutes for a libevent timeout, so a timerfd
 * (CLOCK_REALTIME, absolute) is waited on instead.  -1 with errno set
 * where there is none, or no need: the BSDs' kevent waits any timeout
 * without waking, so a libevent timer does.
 */
int	osdep_alarm_fd(time_t);

/*
 * A process to check and signal: on Linux held by a pidfd, so that a
 * pid reused between the check and the signal is never hit (the signal
 * fails with ESRCH instead); on FreeBSD by its number, which must be at
 * most PID_MAX.
 */
struct osdep_proc {
	int	pid;
	int	fd;		/* pidfd, or -1 */
};

struct osdep_procinfo {
	char	name[64];	/* Linux /proc/pid/stat, FreeBSD ki_comm */
	int	zombie;
	uid_t	uid;		/* effective */
	int	exe_safe;	/* its executable is root's alone */
};

/*
 * osdep_proc_open and osdep_proc_info return 0, or -1 with errno set
 * (ESRCH: no such process); osdep_proc_kill as kill(2).
 */
int	osdep_proc_open(int, struct osdep_proc *);
int	osdep_proc_info(const struct osdep_proc *, struct osdep_procinfo *);
int	osdep_proc_kill(const struct osdep_proc *, int);
void	osdep_proc_close(struct osdep_proc *);

#endif
