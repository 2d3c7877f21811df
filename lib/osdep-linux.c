/*
 * Linux parts: syncfs(2) for batches, /proc for process names.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
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
osdep_proc_name(int pid, char *buf, unsigned long len, int *zombie)
{
	char	 path[64], stat[512], *p;
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY)) == -1) {
		if (errno == ENOENT)
			errno = ESRCH;
		return (-1);
	}
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0) {
		errno = ESRCH;
		return (-1);
	}
	stat[n] = '\0';
	/* "pid (comm) S ...": comm may hold ')' itself, take the last. */
	if ((p = strrchr(stat, ')')) == NULL || p[1] != ' ' ||
	    strchr(stat, '(') == NULL) {
		errno = EINVAL;
		return (-1);
	}
	*zombie = p[2] == 'Z' || p[2] == 'X';
	*p = '\0';
	strlcpy(buf, strchr(stat, '(') + 1, len);
	return (0);
}
