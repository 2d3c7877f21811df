/*
 * Files: atomic replacement, bounded reads, temporary names at a
 * directory, the sweep of what a crash left, and what identifies a file.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vis.h>

#include "log.h"
#include "file.h"

/*
 * Creates a new temporary file in the directory dirfd, named FILE_TMPPFX
 * and 16 random hex digits, into name (of namelen bytes): O_EXCL and
 * O_NOFOLLOW, so that nothing already there, a link least of all, is
 * ever opened.  Returns the descriptor (close-on-exec), or -1 with errno
 * set.
 */
int
file_tmp_open(int dirfd, char *name, size_t namelen, mode_t mode)
{
	int	fd = -1, tries;

	for (tries = 0; tries < 16; tries++) {
		snprintf(name, namelen, "%s%08x%08x", FILE_TMPPFX,
		    arc4random(), arc4random());
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	return (fd);
}

/*
 * Writes all len bytes of buf to fd, through short writes and EINTR.
 * Returns 0, or -1 with errno set.
 */
int
file_write_all(int fd, const void *buf, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		if ((n = write(fd, (const char *)buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		off += (size_t)n;
	}
	return (0);
}

/* The last component of path. */
static const char *
base_of(const char *path)
{
	const char	*p;

	return ((p = strrchr(path, '/')) != NULL && p[1] != '\0' ? p + 1 :
	    path);
}

/*
 * Replaces path with len bytes of buf, mode mode: a temporary file in
 * the same directory (O_EXCL|O_NOFOLLOW), fsync, rename, fsync of the
 * directory.  A symbolic link at path is refused, not followed.  Returns
 * 0, or -1 with the reason logged and the old file left in place.
 */
int
file_write_atomic(const char *path, const void *buf, size_t len,
    mode_t mode)
{
	struct stat	 st;
	char		 dir[PATH_MAX], tmp[64], *base;
	int		 fd = -1, dfd = -1, saved;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		log_warnx("%s: is a symbolic link; not replacing it", path);
		return (-1);
	}
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		log_warnx("%s: path too long", path);
		return (-1);
	}
	base = dirname(dir);
	if (base != dir)
		strlcpy(dir, base, sizeof(dir));
	tmp[0] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (fd = file_tmp_open(dfd, tmp, sizeof(tmp), mode)) == -1) {
		log_warn("%s: cannot create a temporary file in %s", path,
		    dir);
		if (dfd != -1)
			close(dfd);
		return (-1);
	}
	if (fchmod(fd, mode) == -1 || file_write_all(fd, buf, len) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base_of(path)) == -1)
		goto fail;
	fsync(dfd);
	close(dfd);
	return (0);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(dfd, tmp, 0);
	close(dfd);
	errno = saved;
	log_warn("%s: writing failed, the old file is kept", path);
	return (-1);
}

/*
 * Removes the temporary files file_write_atomic left in dir when the
 * process writing them was killed: the names that start with
 * FILE_TMPPFX, and nothing else.  unlink(2) never follows a symbolic
 * link.  Only for a directory no other smtlsd is writing into: the daemon
 * calls it at start, holding its pidfile.
 */
void
file_sweep_tmp(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, FILE_TMPPFX,
		    sizeof(FILE_TMPPFX) - 1) != 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			log_info("%s/%s: removed a temporary file left by an "
			    "interrupted write", dir, de->d_name);
		else if (errno != ENOENT)
			log_warn("%s/%s: cannot remove a temporary file",
			    dir, de->d_name);
	}
	closedir(d);
}

/*
 * Reads at most max bytes of the regular file open on fd into a new
 * NUL-terminated buffer; fd stays open.  Returns 0, or -1 with errno set
 * (EFBIG when larger than max, EINVAL when not a regular file); nothing
 * is logged.
 */
int
file_read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 saved;

	if (fstat(fd, &st) == -1)
		return (-1);
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return (-1);
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		return (-1);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return (-1);
	while (len < (size_t)st.st_size) {
		if ((n = read(fd, buf + len, (size_t)st.st_size - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			free(buf);
			errno = saved;
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return (0);
}

/*
 * file_read_fd of path, opened with flags added (O_NOFOLLOW, say), and
 * never as a controlling terminal nor blocking on a FIFO.
 */
int
file_read_file(const char *path, int flags, size_t max, char **out,
    size_t *outlen)
{
	int	fd, rv, saved;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	    flags)) == -1)
		return (-1);
	rv = file_read_fd(fd, max, out, outlen);
	saved = errno;
	close(fd);
	errno = saved;
	return (rv);
}

/*
 * Whether files may be created safely in the directory of path: it is
 * owned by root and neither group nor others can write it, so nobody
 * else can put a link where root will write.  Returns 0, or -1 with why
 * filled in.
 */
int
file_dir_safe(const char *path, char *why, size_t whylen)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *d;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		snprintf(why, whylen, "%s: path too long", path);
		return (-1);
	}
	d = dirname(dir);
	if (stat(d, &st) == -1) {
		snprintf(why, whylen, "%s: %s", d, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen, "directory %s is not root's alone "
		    "(owned by another user, or group or others can write "
		    "it); use a directory only root can write", d);
		return (-1);
	}
	return (0);
}

/*
 * Whether root may write path, a file of smtlsd's own (its pidfile, its
 * status file): in a directory only root can write (file_dir_safe), and
 * not a link or anything but a regular file already.  Returns 0, or -1
 * with why filled in ("path: reason").
 */
int
file_own_file(const char *path, char *why, size_t whylen)
{
	struct stat	 st;
	char		 dwhy[PATH_MAX + 128];

	if (file_dir_safe(path, dwhy, sizeof(dwhy)) == -1) {
		snprintf(why, whylen, "%s: %s", path, dwhy);
		return (-1);
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file (a link?); "
		    "remove it", path);
		return (-1);
	}
	return (0);
}

/*
 * pidfile_open(3) of smtlsd's own pidfile, refused (NULL, errno EPERM,
 * the reason logged) in a directory others could put a link in, or when
 * path is a link: root writes that file.
 */
struct pidfh *
file_pidfile_open(const char *path, pid_t *other)
{
	char	why[PATH_MAX + 128];

	if (file_own_file(path, why, sizeof(why)) == -1) {
		log_warnx("pidfile %s", why);
		errno = EPERM;
		return (NULL);
	}
	return (pidfile_open(path, 0644, other));
}

/*
 * Writes s into dst (of dstlen bytes, at least 1) with every character
 * that is not printable ASCII made visible by strvis(3), C style:
 * a name from outside can neither start a log line of its own nor send
 * a terminal escape.  Output that would not fit is cut.
 */
char *
file_vis(char *dst, size_t dstlen, const char *s)
{
	char	in[512], out[4 * sizeof(in) + 1];

	strlcpy(in, s, sizeof(in));
	strvis(out, in, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
	strlcpy(dst, out, dstlen);
	return (dst);
}

void
filestamp_set(struct filestamp *f, const struct stat *st)
{
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtim = st->st_mtim;
	f->ctim = st->st_ctim;
	f->mode = st->st_mode;
}

int
filestamp_same(const struct filestamp *f, const struct stat *st)
{
	return (f->dev == st->st_dev && f->ino == st->st_ino &&
	    f->size == st->st_size &&
	    f->mtim.tv_sec == st->st_mtim.tv_sec &&
	    f->mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    f->ctim.tv_sec == st->st_ctim.tv_sec &&
	    f->ctim.tv_nsec == st->st_ctim.tv_nsec);
}
