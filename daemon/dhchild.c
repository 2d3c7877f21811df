/*
 * DH parameters are generated in a child, which can take minutes: it
 * writes them as PEM to a pipe that the event loop reads, and once the
 * child has exited and the pipe is at its end the parameters are checked
 * and handed to the engine, which writes the file.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "dhchild.h"
#include "dhparam.h"
#include "file.h"
#include "log.h"

#define DH_PEM_MAX	(256 * 1024)

struct dhchild {
	struct event_base	*base;
	dhchild_cb		 done;
	void			*arg;
	int			 bits;		/* of the child running */
	pid_t			 pid;		/* 0: none */
	int			 fd;
	struct event		*ev;
	char			*buf;
	size_t			 len;
	int			 eof;
	int			 exited;
	int			 status;
};

struct dhchild *
dhchild_new(struct event_base *base, dhchild_cb done, void *arg)
{
	struct dhchild	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->base = base;
	d->done = done;
	d->arg = arg;
	d->fd = -1;
	return (d);
}

/* Whether a child is running. */
int
dhchild_running(const struct dhchild *d)
{
	return (d->pid > 0);
}

/*
 * Both ends reached: checks what the child wrote and hands it to the
 * engine (NULL when it failed, said here).
 */
static void
finish(struct dhchild *d)
{
	int	ok = 0;

	if (!d->eof || !d->exited)
		return;
	if (WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0)
		ok = dhparam_verify_pem(d->buf, d->len, d->bits) == 0;
	else
		log_warnx("DH parameter generation failed (child %s %d)",
		    WIFEXITED(d->status) ? "exited" : "killed by signal",
		    WIFEXITED(d->status) ? WEXITSTATUS(d->status) :
		    WTERMSIG(d->status));
	d->pid = 0;
	d->done(d->arg, ok ? d->buf : NULL, ok ? d->len : 0);
	free(d->buf);
	d->buf = NULL;
	d->len = 0;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct dhchild	*d = arg;
	char		 buf[4096], *nbuf;
	ssize_t		 n;

	(void)what;
	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		n = 0;
	}
	if (n > 0 && d->len + (size_t)n <= DH_PEM_MAX &&
	    (nbuf = realloc(d->buf, d->len + (size_t)n + 1)) != NULL) {
		d->buf = nbuf;
		memcpy(d->buf + d->len, buf, (size_t)n);
		d->len += (size_t)n;
		d->buf[d->len] = '\0';
		return;
	}
	event_free(d->ev);
	d->ev = NULL;
	close(d->fd);
	d->fd = -1;
	d->eof = 1;
	finish(d);
}

/*
 * Starts a child that makes parameters as conf says, unless one runs.
 * keepfd (the pidfile's, whose lock stays the daemon's alone) is closed
 * in the child.
 */
void
dhchild_start(struct dhchild *d, const struct conf *conf, int keepfd)
{
	char	*pem;
	size_t	 len, i;
	int	 fds[2], sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGCHLD };

	if (d->pid > 0)
		return;
	if (pipe(fds) == -1) {
		log_warn("DH parameters: pipe");
		return;
	}
	switch (d->pid = fork()) {
	case -1:
		log_warn("DH parameters: fork");
		close(fds[0]);
		close(fds[1]);
		d->pid = 0;
		return;
	case 0:
		/* libevent's handlers belong to the parent. */
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		close(fds[0]);
		if (keepfd != -1)
			close(keepfd);
		if (dhparam_make(conf->dh_source, conf->dh_bits, &pem,
		    &len) == -1 || file_write_all(fds[1], pem, len) == -1)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	d->bits = conf->dh_bits;
	d->fd = fds[0];
	d->eof = d->exited = 0;
	fcntl(d->fd, F_SETFL, O_NONBLOCK);
	fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	d->ev = event_new(d->base, d->fd, EV_READ | EV_PERSIST, on_read, d);
	event_add(d->ev, NULL);
	log_info("generating %d-bit DH parameters in child %ld",
	    conf->dh_bits, (long)d->pid);
}

/* A child ended: returns whether it was ours. */
int
dhchild_reap(struct dhchild *d, pid_t pid, int status)
{
	if (d->pid <= 0 || pid != d->pid)
		return (0);
	d->status = status;
	d->exited = 1;
	finish(d);
	return (1);
}

/* Ends a child still running, and frees d. */
void
dhchild_free(struct dhchild *d)
{
	if (d == NULL)
		return;
	if (d->pid > 0)
		kill(d->pid, SIGTERM);
	if (d->ev != NULL)
		event_free(d->ev);
	if (d->fd != -1)
		close(d->fd);
	free(d->buf);
	free(d);
}
