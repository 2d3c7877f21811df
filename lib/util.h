/*
 * Small helpers shared by the library: atomic file writes and reads.
 */
#ifndef SMTLSD_UTIL_H
#define SMTLSD_UTIL_H

#include <sys/types.h>

#include <stddef.h>

/* The name of every temporary file smtlsd makes starts with this. */
#define UTIL_TMPPFX	".smtlsd.tmp."

int	util_write_atomic(const char *, const void *, size_t, mode_t);
int	util_read_file(const char *, int, size_t, char **, size_t *);
void	util_sweep_tmp(const char *);

#endif
