/*
 * Watching by polling: compares stat(2) results on a timer, for file
 * systems that send no events (NFS).  The only method that wakes up
 * while nothing changes.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evtime.h"
#include "log.h"
#include "watch.h"

struct sig {
	int		 err;
	dev_t		 dev;
	ino_t		 ino;
	mode_t		 mode;
	nlink_t		 nlink;
	off_t		 size;
	struct timespec	 mtim, ctim;
};

/* A polled object: its lstat, then its stat, at the last look. */
struct pentry {
	char		*path;
	struct sig	 sig[2];
};

struct poll_impl {
	struct event	*timer;
	struct timeval	 tv;
	watch_cb	 cb;
	void		*arg;
	struct pentry	*e;		/* sorted by path, each once */
	size_t		 n;
};

static void
take(const char *path, int follow, struct sig *s)
{
	struct stat	st;
	int		rv;

	memset(s, 0, sizeof(*s));
	rv = follow ? stat(path, &st) : lstat(path, &st);
	if (rv == -1) {
		s->err = errno;
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->mode = st.st_mode;
	s->nlink = st.st_nlink;
	s->size = st.st_size;
	s->mtim = st.st_mtim;
	s->ctim = st.st_ctim;
}

/* Looks at e again: whether it changed since the last look. */
static int
look(struct pentry *e)
{
	struct sig	s;
	int		i, changed = 0;

	for (i = 0; i < 2; i++) {
		take(e->path, i, &s);
		if (memcmp(&s, &e->sig[i], sizeof(s)) != 0) {
			e->sig[i] = s;
			changed = 1;
		}
	}
	return (changed);
}

static void
poll_tick(evutil_socket_t fd, short what, void *arg)
{
	struct poll_impl	*p = arg;
	size_t			 i;
	int			 changed = 0;

	(void)fd;
	(void)what;
	for (i = 0; i < p->n; i++)
		changed |= look(&p->e[i]);
	if (changed)
		p->cb(p->arg);
}

static void *
poll_init(struct event_base *base, long poll_ms, watch_cb cb, void *arg)
{
	struct poll_impl	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->cb = cb;
	p->arg = arg;
	ms_to_tv(poll_ms, &p->tv);
	p->timer = event_new(base, -1, EV_PERSIST, poll_tick, p);
	if (p->timer == NULL || event_add(p->timer, &p->tv) == -1) {
		log_warnx("poll: cannot register with libevent");
		free(p);
		return (NULL);
	}
	return (p);
}

static void
entries_free(struct pentry *e, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(e[i].path);
	free(e);
}

static int
pentry_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct pentry *)a)->path,
	    ((const struct pentry *)b)->path));
}

/*
 * Polling looks at the objects themselves: a target "name in dir" is
 * dir/name (the same object as the target dir/name itself: polled
 * once).  A path that was watched before keeps the stat results of
 * the last tick, so that a change made after that tick (during the pass
 * that is re-arming us, say) is still seen at the next tick; a new
 * path's are taken now.  A path that leaves is looked at once more, and
 * a change since the last tick counts: it may be watched by another
 * method from now on.  Old and new are sorted and walked together.
 */
static int
poll_arm(void *impl, struct watch_target *t, size_t n)
{
	struct poll_impl	*p = impl;
	struct pentry		*ne;
	char			 buf[PATH_MAX];
	size_t			 i, j, k;
	int			 c, changed = 0;

	if ((ne = calloc(n ? n : 1, sizeof(*ne))) == NULL) {
		log_warn("poll");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (t[i].name != NULL)
			snprintf(buf, sizeof(buf), "%s/%s", t[i].path,
			    t[i].name);
		else
			strlcpy(buf, t[i].path, sizeof(buf));
		if ((ne[i].path = strdup(buf)) == NULL) {
			entries_free(ne, i);
			log_warn("poll");
			return (-1);
		}
	}
	qsort(ne, n, sizeof(*ne), pentry_cmp);
	for (i = 1, k = 0; i < n; i++) {
		if (strcmp(ne[k].path, ne[i].path) == 0)
			free(ne[i].path);
		else
			ne[++k] = ne[i];
	}
	n = n ? k + 1 : 0;
	for (i = j = 0; i < n || j < p->n;) {
		c = i == n ? 1 : j == p->n ? -1 :
		    strcmp(ne[i].path, p->e[j].path);
		if (c == 0) {
			memcpy(ne[i].sig, p->e[j].sig, sizeof(ne[i].sig));
			i++;
			j++;
		} else if (c < 0) {
			take(ne[i].path, 0, &ne[i].sig[0]);
			take(ne[i].path, 1, &ne[i].sig[1]);
			i++;
		} else
			changed |= look(&p->e[j++]);
	}
	entries_free(p->e, p->n);
	p->e = ne;
	p->n = n;
	if (changed)
		p->cb(p->arg);
	return (0);
}

static void
poll_free(void *impl)
{
	struct poll_impl	*p = impl;

	if (p == NULL)
		return;
	event_free(p->timer);
	entries_free(p->e, p->n);
	free(p);
}

const struct watch_ops	watch_poll_ops = {
	"poll", NULL, poll_init, poll_arm, poll_free, NULL
};
