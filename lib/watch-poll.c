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

struct poll_impl {
	struct event	*timer;
	struct timeval	 tv;
	watch_cb	 cb;
	void		*arg;
	char		**paths;	/* each twice: lstat, then stat */
	struct sig	*sigs;
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

static void
poll_tick(evutil_socket_t fd, short what, void *arg)
{
	struct poll_impl	*p = arg;
	struct sig		 s;
	size_t			 i;
	int			 changed = 0;

	(void)fd;
	(void)what;
	for (i = 0; i < p->n; i++) {
		take(p->paths[i / 2], i % 2, &s);
		if (memcmp(&s, &p->sigs[i], sizeof(s)) != 0) {
			p->sigs[i] = s;
			changed = 1;
		}
	}
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
	p->tv.tv_sec = poll_ms / 1000;
	p->tv.tv_usec = (poll_ms % 1000) * 1000;
	p->timer = event_new(base, -1, EV_PERSIST, poll_tick, p);
	if (p->timer == NULL || event_add(p->timer, &p->tv) == -1) {
		log_warnx("poll: cannot register with libevent");
		free(p);
		return (NULL);
	}
	return (p);
}

static void
paths_free(struct poll_impl *p)
{
	size_t	i;

	for (i = 0; i < p->n / 2; i++)
		free(p->paths[i]);
	free(p->paths);
	free(p->sigs);
	p->paths = NULL;
	p->sigs = NULL;
	p->n = 0;
}

/*
 * Polling looks at the objects themselves: a target "name in dir" is
 * dir/name.  A path that was watched before keeps the stat results of
 * the last tick, so that a change made after that tick (during the pass
 * that is re-arming us, say) is still seen at the next tick; a new
 * path's are taken now.
 */
static int
poll_arm(void *impl, struct watch_target *t, size_t n)
{
	struct poll_impl	*p = impl;
	struct poll_impl	 old;
	char			 buf[PATH_MAX];
	size_t			 i, j;

	old = *p;
	p->paths = NULL;
	p->sigs = NULL;
	p->n = 0;
	if (n == 0) {
		paths_free(&old);
		return (0);
	}
	if ((p->paths = calloc(n, sizeof(*p->paths))) == NULL ||
	    (p->sigs = calloc(2 * n, sizeof(*p->sigs))) == NULL) {
		free(p->paths);
		*p = old;
		log_warn("poll");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (t[i].name != NULL)
			snprintf(buf, sizeof(buf), "%s/%s", t[i].path,
			    t[i].name);
		else
			strlcpy(buf, t[i].path, sizeof(buf));
		if ((p->paths[i] = strdup(buf)) == NULL) {
			p->n = 2 * i;
			paths_free(p);
			*p = old;
			log_warn("poll");
			return (-1);
		}
		for (j = 0; j < old.n / 2; j++)
			if (strcmp(old.paths[j], buf) == 0)
				break;
		if (j < old.n / 2) {
			p->sigs[2 * i] = old.sigs[2 * j];
			p->sigs[2 * i + 1] = old.sigs[2 * j + 1];
		} else {
			take(buf, 0, &p->sigs[2 * i]);
			take(buf, 1, &p->sigs[2 * i + 1]);
		}
	}
	p->n = 2 * n;
	paths_free(&old);
	return (0);
}

static void
poll_free(void *impl)
{
	struct poll_impl	*p = impl;

	if (p == NULL)
		return;
	event_free(p->timer);
	paths_free(p);
	free(p);
}

const struct watch_ops	watch_poll_ops = {
	"poll", poll_init, poll_arm, poll_free, NULL
};
