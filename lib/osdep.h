/*
 * What differs between FreeBSD and Linux, one file per system
 * (osdep-bsd.c, osdep-linux.c), chosen by the Makefile.
 */
#ifndef SMTLSD_OSDEP_H
#define SMTLSD_OSDEP_H

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
 * The name of process pid as the kernel reports it (Linux
 * /proc/pid/comm, FreeBSD kern.proc.pid) into buf, and whether it is a
 * zombie.  Returns 0, or -1 with errno set (ESRCH: no such process).
 */
int	osdep_proc_name(int, char *, unsigned long, int *);

#endif
