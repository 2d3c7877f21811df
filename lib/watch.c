/*
 * The method-independent part of watching: turning the caller's paths
 * into concrete targets (the object, and its name in the parent; for a
 * path that does not exist yet, the nearest existing ancestor and the
 * name that leads towards the path), then handing them to the method.
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

static int
target_add(struct watch *w, const char *path, const char *name, int writer)
{
	struct watch_target	*t;
	size_t			 i;

	for (i = 0; i < w->ntargets; i++) {
		t = &w->targets[i];
		if (strcmp(t->path, path) == 0 && (t->name == NULL ?
		    name == NULL : name != NULL &&
		    strcmp(t->name, name) == 0)) {
			t->writer |= writer;
			return (0);
		}
	}
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
 * Arms the declared set in place of the previous one.  Changes that
 * happened before are not lost.  Returns 0 or -1 (logged).
 */
int
watch_commit(struct watch *w)
{
	return (w->ops->arm(w->impl, w->targets, w->ntargets));
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
	targets_free(w);
	free(w->targets);
	free(w);
}
