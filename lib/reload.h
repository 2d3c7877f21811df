/*
 * The only place that signals another process or runs a reload
 * command.
 */
#ifndef SMTLSD_RELOAD_H
#define SMTLSD_RELOAD_H

#include <sys/types.h>

#include <stddef.h>

#include "conf.h"

int	reload_read_pid(const char *, pid_t *, char *, size_t);
int	reload_check_pid(pid_t, const char *, char *, size_t);
/* What finding (and signalling) the process of reload_pidfile gave. */
enum reload_result {
	RELOAD_OK,		/* found (signalled) */
	RELOAD_NONE,		/* no pidfile: not running */
	RELOAD_REFUSED		/* not the process to signal, or failed */
};

enum reload_result	reload_find(const struct conf *, pid_t *, char *,
			    size_t);
enum reload_result	reload_signal(const struct conf *, pid_t *, char *,
			    size_t);
pid_t	reload_spawn(const struct conf *, const char *);
int	reload_run_wait(const struct conf *, const char *, char *, size_t);

#endif
