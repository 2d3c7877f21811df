/*
 * What the libFuzzer targets share: a stream for their own complaints
 * (run.sh closes stderr, -close_fd_mask=2, to mute smtlsd's logs) and a
 * scratch directory, memory-backed when possible, removed at exit.
 */
#ifndef SMTLSD_FUZZ_H
#define SMTLSD_FUZZ_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>

extern FILE	*fuzz_diag;

void	fuzz_init(void);
void	fuzz_dir(char *, size_t, const char *);
void	fuzz_put(const char *, const void *, size_t, mode_t);

#endif
