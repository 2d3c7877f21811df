/*
 * FreeBSD parts: fsync(2) per file, sysctl(3) for process names.
 */

#include <sys/param.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <errno.h>
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

int
osdep_proc_name(int pid, char *buf, unsigned long len, int *zombie)
{
	struct kinfo_proc	kp;
	size_t			size = sizeof(kp);
	int			mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID, 0 };

	mib[3] = pid;
	if (sysctl(mib, 4, &kp, &size, NULL, 0) == -1)
		return (-1);
	if (size == 0) {
		errno = ESRCH;
		return (-1);
	}
	*zombie = kp.ki_stat == SZOMB;
	strlcpy(buf, kp.ki_comm, len);
	return (0);
}
