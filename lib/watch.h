/*
 * Watching files and directories for changes: one small interface, one
 * file per method (watch-inotify.c on Linux, watch-kqueue.c on the
 * BSDs, watch-poll.c everywhere for file systems without events),
 * driven by libevent.
 *
 * The caller declares the whole set of paths after every pass
 * (watch_begin, watch_add..., watch_commit); each path is watched
 * together with its parent directory, so that a file replaced by
 * rename, deleted and re-created, reached through a swapped symbolic
 * link, or not there yet, is noticed.  The callback only says "something
 * changed"; the caller decides what.  Where the method tells when a
 * writer closes a file (inotify; kqueue with NOTE_CLOSE_WRITE),
 * watch_writing names a file added with WATCH_WRITER that is still open
 * for writing after it changed, so that a file rewritten in place is not
 * read half done.  (Not for every file: sendmail, for one, keeps its
 * pidfile open.)
 *
 * When the kernel has no room for more (inotify watches, open files),
 * the targets the method could not take are polled instead, every
 * poll_interval, with one warning; once a re-arm takes them all again,
 * polling stops.
 */
#ifndef SMTLSD_WATCH_H
#define SMTLSD_WATCH_H

#include <stddef.h>

#include "conf.h"

struct event_base;

#define WATCH_NOPARENT	0x01	/* only the object itself, not its name */
#define WATCH_WRITER	0x02	/* read whole: a writer's close counts */

typedef void	(*watch_cb)(void *);

/* One concrete thing to watch: a path, and in a directory maybe a name. */
struct watch_target {
	char	*path;
	char	*name;		/* NULL: any change; else only this entry */
	int	 writer;	/* WATCH_WRITER: tell when written, unclosed */
	int	 unwatched;	/* set by arm: no room left to watch it */
};

struct watch_ops {
	const char	*name;
	const char	*limit;		/* what to raise when arm runs out */
	void		*(*init)(struct event_base *, long, watch_cb, void *);
	int		 (*arm)(void *, struct watch_target *, size_t);
	void		 (*free)(void *);
	/* A watched file written and not closed since, or NULL. */
	const char	*(*writing)(void *);
};

extern const struct watch_ops	watch_poll_ops;
extern const struct watch_ops	watch_native_ops;

struct watch;

int		 watch_available(enum conf_watch);
struct watch	*watch_new(struct event_base *, enum conf_watch, long,
		    watch_cb, void *);
const char	*watch_method(const struct watch *);
void		 watch_begin(struct watch *);
int		 watch_add(struct watch *, const char *, int);
int		 watch_commit(struct watch *);
const char	*watch_writing(const struct watch *);
void		 watch_free(struct watch *);

#endif
