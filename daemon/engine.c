/*
 * The daemon.  Everything happens in one libevent loop: watch events
 * restart a settle timer, and when the inputs have been quiet for
 * `settle' seconds one pass runs.  Changes that arrive during a pass
 * are queued by the kernel and start the timer again afterwards.
 * Anything slow runs in a child the loop reaps: DH parameter generation
 * and reload_command.  Signals arrive through libevent: SIGHUP re-reads
 * the configuration, SIGUSR1 forces a full pass, SIGTERM and SIGINT end.
 *
 * Reloads are never sent close together: after a signal, smtlsd waits
 * until sendmail's pidfile names a new live process (sendmail
 * re-executes itself on SIGHUP, and a second SIGHUP within ~10 ms kills
 * it) before it may signal again; reloads wanted meanwhile become one.
 *
 * A pass that failed (a full or read-only file system, say) is tried
 * again after 5 s, then less and less often up to every 15 min, until
 * one succeeds: a fault that goes away gives no event to wait for.
 *
 * While nothing changes nothing runs: no timer is pending unless a
 * change, a reload, a child or a retry is being waited for, or watch
 * poll is in use.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libutil.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "conf.h"
#include "dhparam.h"
#include "engine.h"
#include "log.h"
#include "pass.h"
#include "reload.h"
#include "util.h"
#include "watch.h"

#define SMTLSD_VERSION		"0.1"
#define AWAIT_MS		15000	/* for sendmail's new pid */
#define RESYNC_WAIT_S		300
#define RETRY_MIN_MS		5000	/* after a failed pass */
#define RETRY_MAX_MS		(15 * 60 * 1000)
#define WRITING_MAX_MS		30000	/* for a writer to close a file */

struct engine {
	struct event_base	*base;
	struct conf		*conf;
	const char		*conf_path;
	int			 conf_flags;
	struct pass_state	 ps;
	struct watch		*watch;
	struct pidfh		*pfh;
	struct event		*ev_settle;
	long			 changed_since;	/* ms; 0: no change pending */
	long			 writing_since;	/* ms; 0: no writer waited */
	struct event		*ev_retry;
	long			 retry_ms;	/* 0: the last pass was good */
	int			 dh_failures;	/* in a row */
	struct event		*ev_sig[5];
	unsigned long		 passes;
	unsigned long		 resyncs;
	/* DH child */
	pid_t			 dh_pid;
	int			 dh_fd;
	struct event		*ev_dh;
	char			*dh_buf;
	size_t			 dh_len;
	int			 dh_eof;
	int			 dh_status;
	int			 dh_exited;
	/* reloads */
	int			 awaiting;	/* a new sendmail pid */
	pid_t			 awaiting_old;
	struct event		*ev_await;
	pid_t			 cmd_pid;
	struct event		*ev_cmd;
	int			 reload_pending;
	/* a reload refused (a stale pidfile), and not done since */
	int			 owed;
	struct timespec		 owed_since;
	char			 owed_why[256];
	char			 failed_why[256];	/* last pass; "": good */
};

static void	engine_pass(struct engine *, int);
static void	engine_rearm(struct engine *);
static int	engine_reload(struct engine *);

static void
ms_to_tv(long ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * The status file, one line: "pid passes resyncs time result message".
 * Mode 0640, group root's: it may name what smtlsd found in directories
 * other users own, and is for root (smtlsd -R, service smtlsd status).
 * The message is made visible (strvis) like the log.
 */
static void
status_write(struct engine *e, const char *result, const char *msg)
{
	char	buf[1024], vis[400];
	int	n;

	util_vis(vis, sizeof(vis), msg);
	n = snprintf(buf, sizeof(buf), "%ld %lu %lu %lld %s %s\n",
	    (long)getpid(), e->passes, e->resyncs, (long long)time(NULL),
	    result, vis);
	if (n > 0 && (size_t)n < sizeof(buf))
		util_write_atomic(e->conf->status_file, buf, (size_t)n, 0640);
}

/* The state since the last pass: its failure, a reload owed, or ok. */
static void
status_now(struct engine *e)
{
	if (e->failed_why[0] != '\0')
		status_write(e, "failed", e->failed_why);
	else if (e->owed)
		status_write(e, "failed", e->owed_why);
	else
		status_write(e, "ok", "all good");
}

/*
 * When smtlsd waits for sendmail to come back from a reload and its
 * pidfile now names a new live pid: stops waiting, and sends the reload
 * that waited, if any.
 */
static void
await_check(struct engine *e)
{
	pid_t	pid;
	char	why[256];

	if (!e->awaiting ||
	    reload_read_pid(e->conf->reload_pidfile, &pid, why,
	    sizeof(why)) == -1 || pid == e->awaiting_old ||
	    reload_check_pid(pid, e->conf->reload_process, why,
	    sizeof(why)) == -1)
		return;
	log_info("%s is back as pid %ld", e->conf->reload_process, (long)pid);
	e->awaiting = 0;
	evtimer_del(e->ev_await);
	if (e->reload_pending) {
		e->reload_pending = 0;
		engine_reload(e);
	}
}

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Something changed: a pass once the inputs have been quiet for settle,
 * but no later than settle_max after the first change since the last
 * pass, however busy a directory is.
 */
static void
on_change(void *arg)
{
	struct engine	*e = arg;
	struct timeval	 tv;
	long		 ms, left;

	await_check(e);
	if (e->changed_since == 0)
		e->changed_since = now_ms();
	ms = e->conf->settle_ms;
	left = e->conf->settle_max_ms - (now_ms() - e->changed_since);
	if (left < ms)
		ms = left > 0 ? left : 0;
	ms_to_tv(ms, &tv);
	evtimer_add(e->ev_settle, &tv);
}

/*
 * The settle time is over.  A watched file still open for writing (a
 * bundle rewritten in place, say) would be read half done: wait for its
 * close, which is a change and brings us back here, but not for ever.
 */
static void
on_settle(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;
	struct timeval	 tv;
	const char	*path;
	long		 waited;

	(void)fd;
	(void)what;
	if ((path = watch_writing(e->watch)) != NULL) {
		if (e->writing_since == 0) {
			e->writing_since = now_ms();
			log_info("%s: still open for writing; waiting for it "
			    "to be closed", path);
		}
		waited = now_ms() - e->writing_since;
		if (waited < WRITING_MAX_MS) {
			ms_to_tv(WRITING_MAX_MS - waited, &tv);
			evtimer_add(e->ev_settle, &tv);
			return;
		}
		log_warnx("%s: still open for writing after %d s; reading "
		    "it as it is", path, WRITING_MAX_MS / 1000);
	}
	engine_pass(e, 0);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	engine_pass(arg, 0);
}

static long
retry_next(long ms)
{
	if (ms == 0)
		return (RETRY_MIN_MS);
	return (ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : ms * 2);
}

static void
retry_in(struct engine *e, long ms)
{
	struct timeval	tv;

	log_info("trying again in %ld s", ms / 1000);
	ms_to_tv(ms, &tv);
	evtimer_add(e->ev_retry, &tv);
}

/*
 * After a pass: when it failed for a fault that can go away without an
 * event (a full or read-only file system, a missing cert_dir), another
 * one later, each time waiting twice as long; otherwise no more retries.
 * A failure an input causes (a damaged bundle, a wrong certificate set)
 * waits for that input to change.
 */
static void
engine_retry(struct engine *e, int failed)
{
	if (failed) {
		e->retry_ms = retry_next(e->retry_ms);
		retry_in(e, e->retry_ms);
		return;
	}
	if (e->retry_ms > 0)
		log_info("pass succeeded: no more retries");
	e->retry_ms = 0;
	evtimer_del(e->ev_retry);
}

static void
on_await_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;

	(void)fd;
	(void)what;
	log_warnx("%s did not come back with a new pid in %s within %d s "
	    "of the reload; check it", e->conf->reload_process,
	    e->conf->reload_pidfile, AWAIT_MS / 1000);
	e->awaiting = 0;
	engine_rearm(e);
	if (e->reload_pending) {
		e->reload_pending = 0;
		engine_reload(e);
	}
}

static void
on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;

	(void)fd;
	(void)what;
	if (e->cmd_pid > 0) {
		log_warnx("reload_command \"%s\" still running after %ld ms; "
		    "killing it", e->conf->reload_command,
		    e->conf->reload_timeout_ms);
		kill(-e->cmd_pid, SIGKILL);
	}
}

/*
 * Makes sendmail reload, unless it is still coming back from the last
 * reload: then once it is back.  Returns -1 when the reload was refused
 * (the status says so already), 0 otherwise.
 */
static int
engine_reload(struct engine *e)
{
	struct timeval	 tv;
	char		 why[256];
	pid_t		 pid;

	e->ps.reload_wanted = 0;
	if (e->awaiting || e->cmd_pid > 0) {
		e->reload_pending = 1;
		return (0);
	}
	if (e->conf->reload_command != NULL) {
		if ((e->cmd_pid = reload_spawn(e->conf,
		    e->ps.reload_why)) > 0) {
			log_info("running reload_command \"%s\" (%s)",
			    e->conf->reload_command, e->ps.reload_why);
			ms_to_tv(e->conf->reload_timeout_ms, &tv);
			evtimer_add(e->ev_cmd, &tv);
		}
		return (0);
	}
	if (e->conf->reload_signal == 0)
		return (0);
	switch (reload_signal(e->conf, &pid, why, sizeof(why))) {
	case -1:
		if (!e->owed)
			clock_gettime(CLOCK_REALTIME, &e->owed_since);
		e->owed = 1;
		strlcpy(e->owed_why, why, sizeof(e->owed_why));
		/* Watching the pidfile, and saying so, before the log. */
		engine_rearm(e);
		status_now(e);
		log_warnx("not reloading %s: %s", e->conf->reload_process,
		    why);
		return (-1);
	case 1:
		log_info("%s: nothing to reload", why);
		e->owed = 0;
		return (0);
	}
	e->owed = 0;
	log_info("reloaded %s (pid %ld): %s", e->conf->reload_process,
	    (long)pid, e->ps.reload_why);
	/*
	 * SIGHUP makes sendmail re-execute under a new pid, TERM and INT
	 * end a program (a supervisor may start it anew); USR1 and USR2
	 * reload a program where it is, so there is no new pid to wait for.
	 */
	if (e->conf->reload_signal == SIGUSR1 ||
	    e->conf->reload_signal == SIGUSR2)
		return (0);
	e->awaiting = 1;
	e->awaiting_old = pid;
	ms_to_tv(AWAIT_MS, &tv);
	evtimer_add(e->ev_await, &tv);
	engine_rearm(e);	/* now watching the pidfile */
	/* It may have come back before the watch was there. */
	await_check(e);
	return (0);
}

static void
dh_finish(struct engine *e)
{
	int	ok = 0;

	if (!e->dh_eof || !e->dh_exited)
		return;
	if (WIFEXITED(e->dh_status) && WEXITSTATUS(e->dh_status) == 0 &&
	    dhparam_verify_pem(e->dh_buf, e->dh_len, e->conf->dh_bits) == 0 &&
	    dhparam_write(e->conf->dh_params, e->dh_buf, e->dh_len) == 0)
		ok = 1;
	else if (!WIFEXITED(e->dh_status) || WEXITSTATUS(e->dh_status) != 0)
		log_warnx("DH parameter generation failed (child %s %d)",
		    WIFEXITED(e->dh_status) ? "exited" : "killed by signal",
		    WIFEXITED(e->dh_status) ? WEXITSTATUS(e->dh_status) :
		    WTERMSIG(e->dh_status));
	free(e->dh_buf);
	e->dh_buf = NULL;
	e->dh_len = 0;
	e->dh_pid = 0;
	if (!ok) {
		/* The pass that follows starts another child. */
		retry_in(e, e->dh_failures >= 8 ? RETRY_MAX_MS :
		    RETRY_MIN_MS << e->dh_failures);
		e->dh_failures++;
	} else {
		e->dh_failures = 0;
		log_info("dh_params %s: written", e->conf->dh_params);
		pass_dh_written(e->conf, &e->ps);
		engine_rearm(e);
		if (e->ps.reload_wanted)
			engine_reload(e);
	}
}

static void
on_dh_read(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;
	char		 buf[4096], *nbuf;
	ssize_t		 n;

	(void)what;
	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		n = 0;
	}
	if (n > 0) {
		if (e->dh_len + (size_t)n > 256 * 1024 ||
		    (nbuf = realloc(e->dh_buf, e->dh_len + n + 1)) == NULL) {
			n = 0;
		} else {
			e->dh_buf = nbuf;
			memcpy(e->dh_buf + e->dh_len, buf, (size_t)n);
			e->dh_len += (size_t)n;
			e->dh_buf[e->dh_len] = '\0';
			return;
		}
	}
	event_free(e->ev_dh);
	e->ev_dh = NULL;
	close(e->dh_fd);
	e->dh_fd = -1;
	e->dh_eof = 1;
	dh_finish(e);
}

/*
 * Generates DH parameters in a child that writes them, as PEM, to a
 * pipe; the loop reads them and writes the file.
 */
static void
dh_spawn(struct engine *e)
{
	char	*pem;
	size_t	 len, off;
	ssize_t	 n;
	int	 fds[2], sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGCHLD };
	size_t	 i;

	if (e->dh_pid > 0)
		return;
	if (pipe(fds) == -1) {
		log_warn("DH parameters: pipe");
		return;
	}
	switch (e->dh_pid = fork()) {
	case -1:
		log_warn("DH parameters: fork");
		close(fds[0]);
		close(fds[1]);
		e->dh_pid = 0;
		return;
	case 0:
		/* libevent's handlers belong to the parent. */
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		close(fds[0]);
		/* The pidfile's lock stays the daemon's alone. */
		close(pidfile_fileno(e->pfh));
		if (dhparam_make(e->conf->dh_source, e->conf->dh_bits, &pem,
		    &len) == -1)
			_exit(1);
		for (off = 0; off < len; off += (size_t)n)
			if ((n = write(fds[1], pem + off, len - off)) <= 0)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	e->dh_fd = fds[0];
	e->dh_eof = e->dh_exited = 0;
	fcntl(e->dh_fd, F_SETFL, O_NONBLOCK);
	fcntl(e->dh_fd, F_SETFD, FD_CLOEXEC);
	e->ev_dh = event_new(e->base, e->dh_fd, EV_READ | EV_PERSIST,
	    on_dh_read, e);
	event_add(e->ev_dh, NULL);
	log_info("generating %d-bit DH parameters in child %ld",
	    e->conf->dh_bits, (long)e->dh_pid);
}

static void
on_sigchld(struct engine *e)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == e->dh_pid) {
			e->dh_status = status;
			e->dh_exited = 1;
			dh_finish(e);
		} else if (pid == e->cmd_pid) {
			e->cmd_pid = 0;
			evtimer_del(e->ev_cmd);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_info("reload_command \"%s\" done",
				    e->conf->reload_command);
			else if (WIFEXITED(status))
				log_warnx("reload_command \"%s\" exited %d",
				    e->conf->reload_command,
				    WEXITSTATUS(status));
			else
				log_warnx("reload_command \"%s\" killed by "
				    "signal %d", e->conf->reload_command,
				    WTERMSIG(status));
			if (e->reload_pending) {
				e->reload_pending = 0;
				engine_reload(e);
			}
		}
	}
}

static void
lock_path(const char *certdir, char *buf, size_t len)
{
	char	tmp[PATH_MAX], *p;

	strlcpy(tmp, certdir, sizeof(tmp));
	p = dirname(tmp);
	snprintf(buf, len, "%s/lock", p);
}

/*
 * Declares everything a change of which needs a pass.
 */
static void
engine_rearm(struct engine *e)
{
	struct conf_path	*cp;
	struct domain		*d;
	char			 path[PATH_MAX], real[PATH_MAX];

	watch_begin(e->watch);
	/* Bundles are read whole: not while a writer has one open. */
	TAILQ_FOREACH(cp, &e->conf->ca_bundles, entry) {
		watch_add(e->watch, cp->path, WATCH_WRITER);
		if (realpath(cp->path, real) != NULL &&
		    strcmp(real, cp->path) != 0)
			watch_add(e->watch, real, WATCH_WRITER);
	}
	TAILQ_FOREACH(cp, &e->conf->acme_dirs, entry) {
		watch_add(e->watch, cp->path, 0);
		lock_path(cp->path, path, sizeof(path));
		watch_add(e->watch, path, 0);
	}
	RB_FOREACH(d, domains, &e->ps.domains) {
		watch_add(e->watch, d->dir, 0);
		strlcpy(real, d->dir, sizeof(real));
		lock_path(dirname(real), path, sizeof(path));
		watch_add(e->watch, path, 0);
	}
	watch_add(e->watch, e->conf->dh_params, WATCH_NOPARENT);
	if (e->awaiting || e->owed)
		watch_add(e->watch, e->conf->reload_pidfile, 0);
	watch_commit(e->watch);
}

/*
 * A reload was refused (the pidfile named no sendmail) and the files
 * sendmail should read are newer than the sendmail running, if any.
 * Quietly, at every pass: when the pidfile is gone, or names a sendmail
 * that started after the refusal, it has nothing to read again; when it
 * names an older one, the reload is sent now.  Otherwise it stays owed,
 * and the status says so.
 */
static void
owed_check(struct engine *e)
{
	struct stat	 st;
	pid_t		 pid;
	char		 why[256];

	if (!e->owed || e->conf->reload_signal == 0 ||
	    e->conf->reload_command != NULL) {
		e->owed = 0;
		return;
	}
	switch (reload_find(e->conf, &pid, why, sizeof(why))) {
	case 1:
		log_info("%s; it reads the new files when it starts", why);
		e->owed = 0;
		return;
	case -1:
		return;		/* still refused; said when it was */
	}
	if (stat(e->conf->reload_pidfile, &st) == -1)
		return;
	if (timespeccmp(&st.st_mtim, &e->owed_since, >)) {
		log_info("%s (pid %ld) started after the reload was refused: "
		    "it has read the new files", e->conf->reload_process,
		    (long)pid);
		e->owed = 0;
		return;
	}
	if (!e->ps.reload_wanted) {
		e->ps.reload_wanted = 1;
		strlcpy(e->ps.reload_why, "owed since it was refused",
		    sizeof(e->ps.reload_why));
	}
}

static void
engine_pass(struct engine *e, int resync)
{
	struct pass_result	r;

	evtimer_del(e->ev_settle);
	e->writing_since = 0;
	e->changed_since = 0;
	memset(&r, 0, sizeof(r));
	pass_run(e->conf, &e->ps, 0, &r);
	e->passes++;
	if (resync)
		e->resyncs++;
	log_debug("pass %lu: %zu certificates, %zu added, %zu replaced, "
	    "%zu removed, %zu unchanged; %zu of %zu certificate sets good",
	    e->passes, r.store.certs, r.store.added, r.store.replaced,
	    r.store.removed, r.store.unchanged, r.domains_valid, r.domains);
	if (r.store.added + r.store.replaced + r.store.removed > 0)
		log_info("%s: %zu added, %zu replaced, %zu removed",
		    e->conf->cert_dir, r.store.added, r.store.replaced,
		    r.store.removed);
	owed_check(e);
	engine_retry(e, r.retry);
	if (e->ps.dh_wanted) {
		e->ps.dh_wanted = 0;
		dh_spawn(e);
	}
	/*
	 * Re-armed before the status tells the pass is over: whoever
	 * changes a file once it says so is seen, on new paths too.
	 */
	engine_rearm(e);
	strlcpy(e->failed_why, r.failed ? r.reason : "",
	    sizeof(e->failed_why));
	/* Before the status: a refused reload writes it, as "failed". */
	if (!e->ps.reload_wanted || engine_reload(e) == 0)
		status_now(e);
}

static int
engine_watch(struct engine *e)
{
	struct watch	*w;

	w = watch_new(e->base, e->conf->watch, e->conf->poll_interval_ms,
	    on_change, e);
	if (w == NULL)
		return (-1);
	watch_free(e->watch);
	e->watch = w;
	return (0);
}

static void
on_hup(struct engine *e)
{
	struct conf	*nc;

	log_info("SIGHUP: re-reading %s", e->conf_path ? e->conf_path :
	    conf_default_file);
	if ((nc = conf_load(e->conf_path, e->conf_flags)) == NULL) {
		log_warnx("keeping the configuration in use");
		return;
	}
	if (strcmp(nc->pidfile, e->conf->pidfile) != 0)
		log_warnx("pidfile changes only at restart");
	conf_free(e->conf);
	e->conf = nc;
	if (engine_watch(e) == -1)
		log_warnx("watching is broken until the next SIGHUP");
	/* Watch before the pass reads anything: no change is lost. */
	pass_scan(e->conf, &e->ps);
	engine_rearm(e);
	engine_pass(e, 0);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct engine	*e = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		on_hup(e);
		break;
	case SIGUSR1:
		log_info("SIGUSR1: full pass");
		engine_pass(e, 1);
		break;
	case SIGCHLD:
		on_sigchld(e);
		break;
	default:
		log_info("signal %d: exiting", (int)sig);
		event_base_loopbreak(e->base);
		break;
	}
}

/*
 * A kill -9 while the status file or dh.param was written leaves a
 * temporary file beside it; remove those at start.  Not in cert_dir: the
 * store removes them there itself, under its lock.
 */
static void
sweep_outside(const char *path, const char *certdir)
{
	struct stat	 a, b;
	char		 dir[PATH_MAX], *d;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return;
	if ((d = dirname(dir)) == NULL || stat(d, &a) == -1)
		return;
	if (stat(certdir, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return;
	util_sweep_tmp(d);
}

int
engine_main(struct conf *conf, const char *conf_path, int debug)
{
	struct engine	 e;
	char		 abs_path[PATH_MAX], why[PATH_MAX + 128];
	pid_t		 other;
	int		 sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGCHLD };
	size_t		 i;

	memset(&e, 0, sizeof(e));
	e.conf = conf;
	e.conf_path = conf_path;
	/* daemon(3) moves to /: SIGHUP must still find a relative -f. */
	if (conf_path != NULL && conf_path[0] != '/' &&
	    realpath(conf_path, abs_path) != NULL)
		e.conf_path = abs_path;
	e.conf_flags = conf_path == NULL ? CONF_MISSING_OK : 0;
	e.dh_fd = -1;

	/* What can fail at start fails before daemon(3), on stderr. */
	if (watch_available(conf->watch) == -1) {
		conf_free(conf);
		return (1);
	}
	if (util_own_file(conf->status_file, why, sizeof(why)) == -1) {
		log_warnx("status_file %s", why);
		conf_free(conf);
		return (1);
	}
	if ((e.pfh = util_pidfile_open(conf->pidfile, &other)) == NULL) {
		if (errno == EPERM)
			;	/* said */
		else if (errno == EEXIST)
			log_warnx("already running as pid %ld (%s)",
			    (long)other, conf->pidfile);
		else
			log_warn("pidfile %s", conf->pidfile);
		conf_free(conf);
		return (1);
	}
	/*
	 * Nothing smtlsd starts may hold the pidfile's lock: a process
	 * left behind by reload_command would keep a restarted smtlsd out.
	 */
	fcntl(pidfile_fileno(e.pfh), F_SETFD, FD_CLOEXEC);
	if (!debug) {
		if (daemon(0, 0) == -1) {
			log_warn("daemon");
			pidfile_remove(e.pfh);
			conf_free(conf);
			return (1);
		}
		log_init(0, log_getverbose());
	}
	pidfile_write(e.pfh);
	signal(SIGPIPE, SIG_IGN);
	sweep_outside(conf->status_file, conf->cert_dir);
	sweep_outside(conf->dh_params, conf->cert_dir);

	if ((e.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (pass_state_init(&e.ps) == -1)
		fatal("pass_state_init");
	e.ev_settle = evtimer_new(e.base, on_settle, &e);
	e.ev_retry = evtimer_new(e.base, on_retry, &e);
	e.ev_await = evtimer_new(e.base, on_await_timeout, &e);
	e.ev_cmd = evtimer_new(e.base, on_cmd_timeout, &e);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		e.ev_sig[i] = evsignal_new(e.base, sigs[i], on_signal, &e);
		if (e.ev_sig[i] == NULL || evsignal_add(e.ev_sig[i], NULL) ==
		    -1)
			fatalx("signal %d", sigs[i]);
	}
	if (engine_watch(&e) == -1)
		fatalx("cannot watch files");
	log_info("smtlsd %s starting: %s, libevent %s, watch %s",
	    SMTLSD_VERSION, OpenSSL_version(OPENSSL_VERSION),
	    event_get_version(), watch_method(e.watch));
	status_write(&e, "starting", "first pass");

	/* Watch before the first pass reads anything: no change is lost. */
	pass_scan(e.conf, &e.ps);
	engine_rearm(&e);
	engine_pass(&e, 0);
	event_base_dispatch(e.base);

	if (e.dh_pid > 0)
		kill(e.dh_pid, SIGTERM);
	if (e.cmd_pid > 0)
		kill(-e.cmd_pid, SIGTERM);
	status_write(&e, "stopped", "exited");
	pidfile_remove(e.pfh);
	watch_free(e.watch);
	if (e.ev_dh != NULL)
		event_free(e.ev_dh);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(e.ev_sig[i]);
	event_free(e.ev_settle);
	event_free(e.ev_retry);
	event_free(e.ev_await);
	event_free(e.ev_cmd);
	event_base_free(e.base);
	pass_state_free(&e.ps);
	free(e.dh_buf);
	conf_free(e.conf);
	return (0);
}
