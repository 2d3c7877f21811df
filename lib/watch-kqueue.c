/*
 * Watching with kqueue(2) EVFILT_VNODE, FreeBSD and the other BSDs.  One
 * kqueue descriptor read by libevent; an open descriptor per watched
 * object.  A directory event names no entry, so for a "name in
 * directory" target the entry's identity (exists, st_dev, st_ino) is
 * kept and compared, in the manner of tail -F.  Re-arming opens the new
 * descriptors first and collects what is pending on the old ones before
 * closing them, so no change in between is lost.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "watch.h"

/* FreeBSD 11 and later say when a writer closes a file. */
#ifdef NOTE_CLOSE_WRITE
#define NOTES	(NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | \
		    NOTE_LINK | NOTE_RENAME | NOTE_REVOKE | NOTE_CLOSE_WRITE)
#else
#define NOTES	(NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | \
		    NOTE_LINK | NOTE_RENAME | NOTE_REVOKE)
#endif

struct kwatch {
	int		 fd;
	char		*entry;		/* dir/name, or NULL: anything */
	char		*path;		/* what fd is, for messages */
	int		 isreg;		/* a regular file, WATCH_WRITER */
	int		 writing;	/* written, not closed since */
	int		 exists;
	dev_t		 dev;
	ino_t		 ino;
};

struct kqueue_impl {
	int		 kq;
	struct event	*ev;
	watch_cb	 cb;
	void		*arg;
	struct kwatch	*w;
	size_t		 nw;
};

static void
identity(struct kwatch *k)
{
	struct stat	st;

	k->exists = lstat(k->entry, &st) == 0;
	k->dev = k->exists ? st.st_dev : 0;
	k->ino = k->exists ? st.st_ino : 0;
}

static int
relevant(struct kwatch *k)
{
	int	exists = k->exists;
	dev_t	dev = k->dev;
	ino_t	ino = k->ino;

	if (k->entry == NULL)
		return (1);
	identity(k);
	return (exists != k->exists || dev != k->dev || ino != k->ino);
}

/*
 * Whether a writer has the watched regular file open: set by a write,
 * cleared by its close (or when it goes).  Notes that arrive together
 * are or-ed: a close among them counts last.
 */
static void
track(struct kwatch *k, u_int fflags)
{
	if (!k->isreg)
		return;
#ifdef NOTE_CLOSE_WRITE
	if (fflags & (NOTE_CLOSE_WRITE | NOTE_DELETE | NOTE_RENAME |
	    NOTE_REVOKE))
		k->writing = 0;
	else if (fflags & (NOTE_WRITE | NOTE_EXTEND))
		k->writing = 1;
#else
	(void)fflags;
#endif
}

static const char *
kqueue_writing(void *impl)
{
	struct kqueue_impl	*kq = impl;
	size_t			 i;

	for (i = 0; i < kq->nw; i++)
		if (kq->w[i].writing)
			return (kq->w[i].path);
	return (NULL);
}

/*
 * Collects pending events without waiting.  Returns whether any was
 * relevant.
 */
static int
drain(struct kqueue_impl *kq)
{
	struct kevent	 evs[64];
	struct timespec	 zero = { 0, 0 };
	int		 n, i, changed = 0;

	for (;;) {
		n = kevent(kq->kq, NULL, 0, evs, 64, &zero);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (evs[i].filter != EVFILT_VNODE)
				continue;
			track((struct kwatch *)evs[i].udata, evs[i].fflags);
			if (relevant((struct kwatch *)evs[i].udata))
				changed = 1;
		}
		if (n < 64)
			break;
	}
	return (changed);
}

static void
kqueue_read(evutil_socket_t fd, short what, void *arg)
{
	struct kqueue_impl	*kq = arg;

	(void)fd;
	(void)what;
	if (drain(kq))
		kq->cb(kq->arg);
}

static void *
kqueue_init_impl(struct event_base *base, long poll_ms, watch_cb cb,
    void *arg)
{
	struct kqueue_impl	*kq;

	(void)poll_ms;
	if ((kq = calloc(1, sizeof(*kq))) == NULL)
		return (NULL);
	if ((kq->kq = kqueue()) == -1) {
		log_warn("kqueue");
		free(kq);
		return (NULL);
	}
	fcntl(kq->kq, F_SETFD, FD_CLOEXEC);
	kq->cb = cb;
	kq->arg = arg;
	kq->ev = event_new(base, kq->kq, EV_READ | EV_PERSIST, kqueue_read,
	    kq);
	if (kq->ev == NULL || event_add(kq->ev, NULL) == -1) {
		log_warnx("kqueue: cannot register with libevent");
		close(kq->kq);
		free(kq);
		return (NULL);
	}
	return (kq);
}

static void
kwatch_free(struct kwatch *w, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (w[i].fd != -1)
			close(w[i].fd);
		free(w[i].entry);
		free(w[i].path);
	}
	free(w);
}

static int
kqueue_arm(void *impl, struct watch_target *t, size_t n)
{
	struct kqueue_impl	*kq = impl;
	struct kwatch		*nw;
	struct kevent		 kev;
	struct stat		 st;
	char			 buf[PATH_MAX];
	size_t			 i, j, k = 0;
	int			 fd, changed;

	if ((nw = calloc(n ? n : 1, sizeof(*nw))) == NULL) {
		log_warn("kqueue");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if ((fd = open(t[i].path, O_RDONLY | O_NONBLOCK |
		    O_CLOEXEC)) == -1) {
			/* Out of descriptors: polled. */
			if (errno == EMFILE || errno == ENFILE)
				t[i].unwatched = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				log_warn("kqueue: watching %s", t[i].path);
			continue;
		}
		nw[k].fd = fd;
		nw[k].isreg = t[i].writer && t[i].name == NULL &&
		    fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		nw[k].path = strdup(t[i].path);
		if (t[i].name != NULL) {
			snprintf(buf, sizeof(buf), "%s/%s", t[i].path,
			    t[i].name);
			if ((nw[k].entry = strdup(buf)) == NULL) {
				close(fd);
				free(nw[k].path);
				nw[k].path = NULL;
				continue;
			}
			identity(&nw[k]);
		}
		EV_SET(&kev, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTES, 0,
		    &nw[k]);
		if (kevent(kq->kq, &kev, 1, NULL, 0, NULL) == -1) {
			/* Out of kernel memory for knotes, say: polled. */
			t[i].unwatched = 1;
			close(fd);
			free(nw[k].entry);
			free(nw[k].path);
			nw[k].entry = nw[k].path = NULL;
			continue;
		}
		k++;
	}
	/*
	 * A file written and not yet closed stays so across a re-arm.
	 * Such files are few (bundles being written right now), so this
	 * is O(n) per file, not O(n^2).
	 */
	for (j = 0; j < kq->nw; j++) {
		if (!kq->w[j].writing || kq->w[j].path == NULL)
			continue;
		for (i = 0; i < k; i++)
			if (nw[i].isreg && nw[i].path != NULL &&
			    strcmp(nw[i].path, kq->w[j].path) == 0)
				nw[i].writing = 1;
	}
	/* What happened on the old ones counts; then they go. */
	changed = drain(kq);
	kwatch_free(kq->w, kq->nw);
	kq->w = nw;
	kq->nw = k;
	if (changed)
		kq->cb(kq->arg);
	return (0);
}

static void
kqueue_free_impl(void *impl)
{
	struct kqueue_impl	*kq = impl;

	if (kq == NULL)
		return;
	event_free(kq->ev);
	kwatch_free(kq->w, kq->nw);
	close(kq->kq);
	free(kq);
}

const struct watch_ops	watch_native_ops = {
	"kqueue", "kern.maxfiles and kern.maxfilesperproc",
	kqueue_init_impl, kqueue_arm, kqueue_free_impl,
	kqueue_writing
};
