/*
 * Watching with inotify(7), Linux.  One inotify descriptor read by
 * libevent; a watch per inode, each with the names it cares about.
 * Re-arming adds the new watches, reads what is pending against the old
 * and the new ones, then removes the old ones, so no change in between
 * is lost (inotify gives an inode the same watch descriptor again).
 */

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "log.h"
#include "watch.h"

#define MASK	(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | \
		    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | \
		    IN_MOVED_FROM | IN_MOVED_TO)

/*
 * A watch per target, in a tree by watch descriptor, then name (none
 * first), then path: an event finds its watches in O(log n).  Several
 * targets may share a descriptor (a directory and names in it; two
 * paths of one inode), and even a name.
 */
struct iwatch {
	RB_ENTRY(iwatch) entry;
	int		 wd;
	char		*name;		/* NULL: anything */
	char		*what;		/* path, or path/name */
	int		 writer;	/* tracks writing (WATCH_WRITER) */
	int		 writing;	/* modified, not closed since */
};
RB_HEAD(iwtree, iwatch);

struct inotify_impl {
	int		 fd;
	struct event	*ev;
	watch_cb	 cb;
	void		*arg;
	struct iwatch	*w;		/* the tree's nodes, nw of them */
	size_t		 nw;
	struct iwtree	 tree;
};

static int
iwatch_cmp(struct iwatch *a, struct iwatch *b)
{
	int	c;

	if (a->wd != b->wd)
		return (a->wd < b->wd ? -1 : 1);
	if (a->name == NULL || b->name == NULL) {
		if ((c = (a->name != NULL) - (b->name != NULL)) != 0)
			return (c);
	} else if ((c = strcmp(a->name, b->name)) != 0)
		return (c);
	return (strcmp(a->what, b->what));
}

RB_GENERATE_STATIC(iwtree, iwatch, entry, iwatch_cmp)

/*
 * The first watch of t for wd and name (NULL: the object itself), or
 * NULL; the others follow it (iwatch_same).
 */
static struct iwatch *
iwatch_first(struct iwtree *t, int wd, const char *name)
{
	struct iwatch	key;

	key.wd = wd;
	key.name = (char *)name;
	key.what = (char *)"";
	return (RB_NFIND(iwtree, t, &key));
}

static int
iwatch_same(const struct iwatch *w, int wd, const char *name)
{
	if (w == NULL || w->wd != wd)
		return (0);
	if (name == NULL || w->name == NULL)
		return (name == NULL && w->name == NULL);
	return (strcmp(w->name, name) == 0);
}

/*
 * Whether a writer has the file of w open: set by a write, cleared by
 * its close or when the name goes.  Only for the watched file itself
 * (an event naming no entry) or the one entry w watches in a directory.
 */
static void
track(struct iwatch *w, const struct inotify_event *ev)
{
	if (!w->writer || (ev->len > 0 && w->name == NULL))
		return;		/* some entry of a directory */
	if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE))
		w->writing = 0;
	else if (ev->mask & IN_MODIFY)
		w->writing = 1;
}

/* Whether ev concerns a watch of t (NULL: none). */
static int
relevant(struct iwtree *t, const struct inotify_event *ev)
{
	struct iwatch	*w;
	int		 rv = 0;

	if (ev->mask & IN_Q_OVERFLOW)
		return (1);
	if ((ev->mask & IN_IGNORED) || t == NULL)
		return (0);
	for (w = iwatch_first(t, ev->wd, NULL); iwatch_same(w, ev->wd, NULL);
	    w = RB_NEXT(iwtree, t, w)) {
		track(w, ev);
		rv = 1;
	}
	if (ev->len == 0)
		return (rv);
	for (w = iwatch_first(t, ev->wd, ev->name);
	    iwatch_same(w, ev->wd, ev->name); w = RB_NEXT(iwtree, t, w)) {
		track(w, ev);
		rv = 1;
	}
	return (rv);
}

/*
 * Reads every pending event.  Returns whether one concerns the watches
 * in use or, while re-arming, the new ones (nt, or NULL).
 */
static int
drain(struct inotify_impl *in, struct iwtree *nt)
{
	const struct inotify_event	*ev;
	char				 buf[16384]
					    __attribute__((aligned(8)));
	ssize_t				 n;
	size_t				 off;
	int				 changed = 0;

	for (;;) {
		if ((n = read(in->fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("inotify read");
			break;
		}
		if (n == 0)
			break;
		for (off = 0; off < (size_t)n;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			/* Both lists: each tracks its writers. */
			if (relevant(&in->tree, ev) | relevant(nt, ev))
				changed = 1;
		}
	}
	return (changed);
}

static const char *
inotify_writing(void *impl)
{
	struct inotify_impl	*in = impl;
	size_t			 i;

	for (i = 0; i < in->nw; i++)
		if (in->w[i].writing)
			return (in->w[i].what);
	return (NULL);
}

static void
inotify_read(evutil_socket_t fd, short what, void *arg)
{
	struct inotify_impl	*in = arg;

	(void)fd;
	(void)what;
	if (drain(in, NULL))
		in->cb(in->arg);
}

static void *
inotify_init_impl(struct event_base *base, long poll_ms, watch_cb cb,
    void *arg)
{
	struct inotify_impl	*in;

	(void)poll_ms;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return (NULL);
	if ((in->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1");
		free(in);
		return (NULL);
	}
	in->cb = cb;
	in->arg = arg;
	RB_INIT(&in->tree);
	in->ev = event_new(base, in->fd, EV_READ | EV_PERSIST, inotify_read,
	    in);
	if (in->ev == NULL || event_add(in->ev, NULL) == -1) {
		log_warnx("inotify: cannot register with libevent");
		close(in->fd);
		free(in);
		return (NULL);
	}
	return (in);
}

static void
iwatch_free(struct iwatch *w, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(w[i].name);
		free(w[i].what);
	}
	free(w);
}

static int
inotify_arm(void *impl, struct watch_target *t, size_t n)
{
	struct inotify_impl	*in = impl;
	struct iwatch		*nw, *o, *x;
	struct iwtree		 nt = RB_INITIALIZER(&nt);
	size_t			 i, k = 0;
	int			 wd, changed;

	if ((nw = calloc(n ? n : 1, sizeof(*nw))) == NULL) {
		log_warn("inotify");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		wd = inotify_add_watch(in->fd, t[i].path, MASK);
		if (wd == -1) {
			/* Out of watches (or kernel memory): polled. */
			if (errno == ENOSPC || errno == ENOMEM)
				t[i].unwatched = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				log_warn("inotify: watching %s", t[i].path);
			continue;
		}
		nw[k].wd = wd;
		nw[k].writer = t[i].writer;
		if ((t[i].name != NULL &&
		    (nw[k].name = strdup(t[i].name)) == NULL) ||
		    asprintf(&nw[k].what, "%s%s%s", t[i].path,
		    t[i].name != NULL ? "/" : "", t[i].name != NULL ?
		    t[i].name : "") == -1) {
			nw[k].what = NULL;
			log_warn("inotify");
			iwatch_free(nw, k + 1);
			return (-1);
		}
		/* A write seen before re-arming still counts. */
		for (o = iwatch_first(&in->tree, wd, t[i].name);
		    t[i].writer && iwatch_same(o, wd, t[i].name);
		    o = RB_NEXT(iwtree, &in->tree, o))
			if (o->writing)
				nw[k].writing = 1;
		RB_INSERT(iwtree, &nt, &nw[k]);
		k++;
	}
	/*
	 * What happened before counts, on the old watches too: a file
	 * watched without its directory (WATCH_NOPARENT) and removed just
	 * now has no new watch, and its events name a watch about to go.
	 */
	changed = drain(in, &nt);
	/* Old watch descriptors that no new target reuses, each once. */
	for (o = RB_MIN(iwtree, &in->tree); o != NULL; o = x) {
		if ((x = iwatch_first(&nt, o->wd, NULL)) == NULL ||
		    x->wd != o->wd)
			inotify_rm_watch(in->fd, o->wd);
		for (x = o; x != NULL && x->wd == o->wd;
		    x = RB_NEXT(iwtree, &in->tree, x))
			;
	}
	iwatch_free(in->w, in->nw);
	in->w = nw;
	in->nw = k;
	in->tree = nt;
	if (changed)
		in->cb(in->arg);
	return (0);
}

static void
inotify_free_impl(void *impl)
{
	struct inotify_impl	*in = impl;

	if (in == NULL)
		return;
	event_free(in->ev);
	close(in->fd);
	iwatch_free(in->w, in->nw);
	free(in);
}

const struct watch_ops	watch_native_ops = {
	"inotify", "fs.inotify.max_user_watches", inotify_init_impl,
	inotify_arm, inotify_free_impl, inotify_writing
};
