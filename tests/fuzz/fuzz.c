/*
 * Helpers of the libFuzzer targets (fuzz.h).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"

FILE		*fuzz_diag;
static char	 scratch[PATH_MAX];

/* fuzz_diag, a copy of stderr that -close_fd_mask=2 leaves open. */
void
fuzz_init(void)
{
	if ((fuzz_diag = fdopen(dup(STDERR_FILENO), "w")) == NULL)
		fuzz_diag = stderr;
	setvbuf(fuzz_diag, NULL, _IONBF, 0);
	log_init(1, 0);
}

/* Removes the scratch directory and the files in it. */
static void
fuzz_cleanup(void)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(scratch)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(scratch);
}

/*
 * Makes the scratch directory smtlsd-fuzz-NAME.XXXXXX in $SMTLSD_FUZZ_TMP
 * (run.sh names one it removes, after a crash too), else in /dev/shm (a
 * file system is much slower), $TMPDIR or /tmp; its path goes in dir.
 * One a process; it holds files only.
 */
void
fuzz_dir(char *dir, size_t len, const char *name)
{
	const char	*base;

	if ((base = getenv("SMTLSD_FUZZ_TMP")) == NULL)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/smtlsd-fuzz-%s.XXXXXX", base,
	    name);
	if (mkdtemp(scratch) == NULL)
		err(1, "mkdtemp %s", scratch);
	if (strlcpy(dir, scratch, len) >= len)
		errx(1, "%s: path too long", scratch);
	atexit(fuzz_cleanup);
}

/*
 * Writes size bytes of data to path, a new file (new inode and times;
 * ext4 also flushes a truncated file on close, which is slow).
 */
void
fuzz_put(const char *path, const void *data, size_t size, mode_t mode)
{
	int	fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) == -1)
		err(1, "%s", path);
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		err(1, "%s", path);
	close(fd);
}
