/*
 * When to make sendmail reload, for the daemon and for -1.
 */
#ifndef SMTLSD_RELOADER_H
#define SMTLSD_RELOADER_H

#include <sys/types.h>

#include <stddef.h>

#include "conf.h"

struct event_base;
struct reloader;

typedef void	(*reloader_cb)(void *);

struct reloader	*reloader_new(struct event_base *, const struct conf *,
		    reloader_cb, void *);
void		 reloader_setconf(struct reloader *, const struct conf *);
void		 reloader_free(struct reloader *);
int		 reloader_reload(struct reloader *, const char *);
void		 reloader_check(struct reloader *);
int		 reloader_reap(struct reloader *, pid_t, int);
int		 reloader_watching(const struct reloader *);
int		 reloader_busy(const struct reloader *);
const char	*reloader_owed(const struct reloader *);
int		 reloader_owed_due(struct reloader *);
int		 reloader_once(const struct conf *, const char *, char *,
		    size_t);

#endif
