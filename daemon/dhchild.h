/*
 * Generating DH parameters in a child the event loop reads.
 */
#ifndef SMTLSD_DHCHILD_H
#define SMTLSD_DHCHILD_H

#include <sys/types.h>

#include <stddef.h>

#include "conf.h"

struct event_base;
struct dhchild;

/* The checked PEM, or NULL when generation failed. */
typedef void	(*dhchild_cb)(void *, const char *, size_t);

struct dhchild	*dhchild_new(struct event_base *, dhchild_cb, void *);
int		 dhchild_running(const struct dhchild *);
void		 dhchild_start(struct dhchild *, const struct conf *, int);
int		 dhchild_reap(struct dhchild *, pid_t, int);
void		 dhchild_free(struct dhchild *);

#endif
