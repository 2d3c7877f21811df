/*
 * The method-independent part of watching: turning the caller's paths
 * into concrete targets (the object, and its name in the parent; for a
 * path that does not exist yet, the nearest existing ancestor and the
 * name that leads towards the path), then handing them to the method,
 * and those the method had no room for to polling.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "watch.h"

struct watch {
	const struct watch_ops	*ops;
	void			*impl;
	struct watch_target	*targets;
	size_t			 ntargets;
	size_t			 cap;
	/* Polling what the method had no room for: only then. */
	struct event_base	*base;
	long			 poll_ms;
	watch_cb		 cb;
	void			*arg;
	void			*poll;		/* watch_poll_ops, or NULL */
};

/*
 * Whether method can be used on this system: 0, or -1 with a message.
 */
int
watch_available(enum conf_watch method)
{
	if ((method == WATCH_KQUEUE || method == WATCH_INOTIFY) &&
	    strcmp(conf_watch_name(method), watch_native_ops.name) != 0) {
		log_warnx("watch %s is not available here; use %s or poll",
		    conf_watch_name(method), watch_native_ops.name);
		return (-1);
	}
	return (0);
}

struct watch *
watch_new(struct event_base *base, enum conf_watch method, long poll_ms,
    watch_cb cb, void *arg)
{
	struct watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	w->ops = method == WATCH_POLL ? &watch_poll_ops : &watch_native_ops;
	if (watch_available(method) == -1) {
		free(w);
		return (NULL);
	}
	if ((w->impl = w->ops->init(base, poll_ms, cb, arg)) == NULL) {
		free(w);
		return (NULL);
	}
	w->base = base;
	w->poll_ms = poll_ms;
	w->cb = cb;
	w->arg = arg;
	return (w);
}

const char *
watch_method(const struct watch *w)
{
	return (w->ops->name);
}

static void
targets_free(struct watch *w)
{
	size_t	i;

	for (i = 0; i < w->ntargets; i++) {
		free(w->targets[i].path);
		free(w->targets[i].name);
	}
	w->ntargets = 0;
}

void
watch_begin(struct watch *w)
{
	targets_free(w);
}

/*
 * Appends a target; duplicates are merged at commit (targets_sort), so
 * that declaring n paths costs O(n log n), not O(n^2).
 */
static int
target_add(struct watch *w, const char *path, const char *name, int writer)
{
	struct watch_target	*t;

	if (w->ntargets == w->cap) {
		t = reallocarray(w->targets, w->cap ? w->cap * 2 : 16,
		    sizeof(*t));
		if (t == NULL)
			return (-1);
		w->targets = t;
		w->cap = w->cap ? w->cap * 2 : 16;
	}
	t = &w->targets[w->ntargets];
	t->path = strdup(path);
	t->name = name ? strdup(name) : NULL;
	t->writer = writer;
	if (t->path == NULL || (name != NULL && t->name == NULL)) {
		free(t->path);
		free(t->name);
		return (-1);
	}
	w->ntargets++;
	return (0);
}

/* By path, then name: the object itself (no name) first. */
static int
target_cmp(const void *a, const void *b)
{
	const struct watch_target	*ta = a, *tb = b;
	int				 c;

	if ((c = strcmp(ta->path, tb->path)) != 0)
		return (c);
	if (ta->name == NULL || tb->name == NULL)
		return ((ta->name != NULL) - (tb->name != NULL));
	return (strcmp(ta->name, tb->name));
}

/* Sorts the targets and merges duplicates (their writer flags or-ed). */
static void
targets_sort(struct watch *w)
{
	struct watch_target	*t = w->targets;
	size_t			 i, j;

	if (w->ntargets == 0)
		return;
	qsort(t, w->ntargets, sizeof(*t), target_cmp);
	for (i = 1, j = 0; i < w->ntargets; i++) {
		if (target_cmp(&t[j], &t[i]) == 0) {
			t[j].writer |= t[i].writer;
			free(t[i].path);
			free(t[i].name);
		} else
			t[++j] = t[i];
	}
	w->ntargets = j + 1;
}

/*
 * Adds path to the set being declared.  Returns 0, or -1 when out of
 * memory (logged).
 */
int
watch_add(struct watch *w, const char *path, int flags)
{
	struct stat	 st;
	char		 cur[PATH_MAX], parent[PATH_MAX], name[NAME_MAX + 1];
	int		 exists, writer = flags & WATCH_WRITER;

	if (strlcpy(cur, path, sizeof(cur)) >= sizeof(cur))
		return (0);
	exists = stat(cur, &st) == 0;
	if (exists && target_add(w, cur, NULL, writer) == -1)
		goto fail;
	if (flags & WATCH_NOPARENT)
		return (0);
	for (;;) {
		strlcpy(parent, cur, sizeof(parent));
		strlcpy(name, basename(parent), sizeof(name));
		strlcpy(parent, cur, sizeof(parent));
		strlcpy(parent, dirname(parent), sizeof(parent));
		if (strcmp(parent, cur) == 0)
			return (0);	/* "/" itself */
		if (stat(parent, &st) == 0) {
			if (target_add(w, parent, name, writer) == -1)
				goto fail;
			return (0);
		}
		/* A missing directory on the way: no file to write yet. */
		writer = 0;
		strlcpy(cur, parent, sizeof(cur));
	}
fail:
	log_warn("watch %s", path);
	return (-1);
}

/*
 * Polls the targets the method could not take, if any; says once when
 * that starts, and once when it stops.  Polling is armed after the
 * method, and a path that leaves it is looked at once more (poll_arm):
 * a change while a path moves from one to the other is not lost.  The
 * method reports what it could not take, rather than polling itself,
 * so that inotify and kqueue stay alike and polling is written once.
 * Returns 0, or -1 (logged).
 */
static int
watch_fallback(struct watch *w)
{
	struct watch_target	*t;
	size_t			 i, n;
	int			 rv;

	for (i = n = 0; i < w->ntargets; i++)
		n += w->targets[i].unwatched != 0;
	if (n == 0 && w->poll == NULL)
		return (0);
	if (n == 0) {
		watch_poll_ops.arm(w->poll, NULL, 0);
		watch_poll_ops.free(w->poll);
		w->poll = NULL;
		log_info("watch %s: every path is watched again; polling "
		    "stopped", w->ops->name);
		return (0);
	}
	/* Copies sharing the targets' strings, which poll_arm copies. */
	if ((t = reallocarray(NULL, n, sizeof(*t))) == NULL) {
		log_warn("watch");
		return (-1);
	}
	for (i = n = 0; i < w->ntargets; i++)
		if (w->targets[i].unwatched)
			t[n++] = w->targets[i];
	if (w->poll == NULL) {
		if ((w->poll = watch_poll_ops.init(w->base, w->poll_ms, w->cb,
		    w->arg)) == NULL) {
			free(t);
			return (-1);
		}
		log_warnx("watch %s: no room to watch %zu of %zu paths; "
		    "polling them every %g s instead (raise %s, or have "
		    "fewer domains)", w->ops->name, n, w->ntargets,
		    w->poll_ms / 1000.0, w->ops->limit);
	}
	rv = watch_poll_ops.arm(w->poll, t, n);
	free(t);
	return (rv);
}

/*
 * Arms the declared set in place of the previous one.  Changes that
 * happened before are not lost.  Returns 0 or -1 (logged).
 */
int
watch_commit(struct watch *w)
{
	size_t	i;

	targets_sort(w);
	for (i = 0; i < w->ntargets; i++)
		w->targets[i].unwatched = 0;
	if (w->ops->arm(w->impl, w->targets, w->ntargets) == -1)
		return (-1);
	if (w->ops == &watch_poll_ops)
		return (0);
	return (watch_fallback(w));
}

/*
 * A watched file that was written to and not closed since, as far as
 * the method can tell, or NULL.  The close itself is a change: the
 * callback runs again then.
 */
const char *
watch_writing(const struct watch *w)
{
	if (w->ops->writing == NULL)
		return (NULL);
	return (w->ops->writing(w->impl));
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	w->ops->free(w->impl);
	if (w->poll != NULL)
		watch_poll_ops.free(w->poll);
	targets_free(w);
	free(w->targets);
	free(w);
}
