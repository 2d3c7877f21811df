/*
 * Files: atomic writes, bounded reads, temporary names, file identity.
 */
#ifndef SMTLSD_FILE_H
#define SMTLSD_FILE_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stddef.h>
#include <time.h>

/* The name of every temporary file smtlsd makes starts with this. */
#define FILE_TMPPFX	".smtlsd.tmp."

int	file_tmp_open(int, char *, size_t, mode_t);
int	file_write_all(int, const void *, size_t);
int	file_write_atomic(const char *, const void *, size_t, mode_t);
int	file_read_fd(int, size_t, char **, size_t *);
int	file_read_file(const char *, int, size_t, char **, size_t *);
int	file_dir_safe(const char *, char *, size_t);
int	file_own_file(const char *, char *, size_t);
struct pidfh	*file_pidfile_open(const char *, pid_t *);
char	*file_vis(char *, size_t, const char *);
void	file_sweep_tmp(const char *);

/*
 * What tells a file read before from the same file changed since: its
 * inode, size, mtime and ctime (which no one can set back).
 */
struct filestamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
	mode_t		 mode;		/* not compared: ctime covers it */
};

void	filestamp_set(struct filestamp *, const struct stat *);
int	filestamp_same(const struct filestamp *, const struct stat *);

#endif
