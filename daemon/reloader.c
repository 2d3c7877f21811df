/*
 * Making sendmail reload: the one place that decides when, for the
 * daemon (reloader_*, driven by the event loop) and for a one-shot pass
 * (reloader_once, which waits).  lib/reload.c finds, checks and signals
 * the process; this file keeps the state between reloads.
 *
 * Reloads are never sent close together: after a signal, the daemon
 * waits until sendmail's pidfile names a new live process (sendmail
 * re-executes itself on SIGHUP, and a second SIGHUP within ~10 ms kills
 * it) before it may signal again, at most AWAIT_MS; a reload_command
 * runs one at a time.  Reloads wanted meanwhile become one, sent once
 * the way is clear.
 *
 * A refused reload (a stale pidfile) stays owed until the pidfile names
 * a sendmail started since, which has read the files, or the old one
 * again, which is then signalled; while a reload is awaited or owed the
 * engine watches the pidfile.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conf.h"
#include "evtime.h"
#include "log.h"
#include "reload.h"
#include "reloader.h"

#define AWAIT_MS	15000	/* for sendmail's new pid */

struct reloader {
	const struct conf	*conf;
	reloader_cb		 changed;
	void			*arg;
	int			 awaiting;	/* a new pid of sendmail */
	pid_t			 awaiting_old;
	struct event		*ev_await;
	pid_t			 cmd_pid;	/* reload_command running */
	struct event		*ev_cmd;
	int			 pending;	/* wanted while not possible */
	char			 pending_why[256];
	int			 owed;		/* refused, not done since */
	struct timespec		 owed_since;
	char			 owed_why[256];
};

/* A reload that waited for the way to be clear, if any. */
static void
send_pending(struct reloader *r)
{
	if (!r->pending)
		return;
	r->pending = 0;
	reloader_reload(r, r->pending_why);
}

static void
on_await_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct reloader	*r = arg;

	(void)fd;
	(void)what;
	log_warnx("%s did not come back with a new pid in %s within %d s "
	    "of the reload; check it", r->conf->reload_process,
	    r->conf->reload_pidfile, AWAIT_MS / 1000);
	r->awaiting = 0;
	r->changed(r->arg);
	send_pending(r);
}

static void
on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct reloader	*r = arg;

	(void)fd;
	(void)what;
	if (r->cmd_pid > 0) {
		log_warnx("reload_command \"%s\" still running after %ld ms; "
		    "killing it", r->conf->reload_command,
		    r->conf->reload_timeout_ms);
		kill(-r->cmd_pid, SIGKILL);
	}
}

/*
 * changed runs whenever what the engine shows or watches depends on
 * changes: a reload refused (before it is logged) or awaited.
 */
struct reloader *
reloader_new(struct event_base *base, const struct conf *conf,
    reloader_cb changed, void *arg)
{
	struct reloader	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->conf = conf;
	r->changed = changed;
	r->arg = arg;
	r->ev_await = evtimer_new(base, on_await_timeout, r);
	r->ev_cmd = evtimer_new(base, on_cmd_timeout, r);
	if (r->ev_await == NULL || r->ev_cmd == NULL) {
		reloader_free(r);
		return (NULL);
	}
	return (r);
}

/* The configuration read anew (SIGHUP); the old one is freed after. */
void
reloader_setconf(struct reloader *r, const struct conf *conf)
{
	r->conf = conf;
}

/* Ends a reload_command still running, and frees r. */
void
reloader_free(struct reloader *r)
{
	if (r == NULL)
		return;
	if (r->cmd_pid > 0)
		kill(-r->cmd_pid, SIGTERM);
	if (r->ev_await != NULL)
		event_free(r->ev_await);
	if (r->ev_cmd != NULL)
		event_free(r->ev_cmd);
	free(r);
}

/*
 * Makes sendmail reload, why saying what changed; unless it is still
 * coming back from the last reload or a reload_command runs: then once
 * it is done.  Returns -1 when the reload was refused (changed has run,
 * then the refusal is logged), 0 otherwise.
 */
int
reloader_reload(struct reloader *r, const char *why)
{
	const struct conf	*conf = r->conf;
	struct timeval		 tv;
	char			 err[256];
	pid_t			 pid;

	if (r->awaiting || r->cmd_pid > 0) {
		r->pending = 1;
		strlcpy(r->pending_why, why, sizeof(r->pending_why));
		return (0);
	}
	if (conf->reload_command != NULL) {
		if ((r->cmd_pid = reload_spawn(conf, why)) > 0) {
			log_info("running reload_command \"%s\" (%s)",
			    conf->reload_command, why);
			ms_to_tv(conf->reload_timeout_ms, &tv);
			evtimer_add(r->ev_cmd, &tv);
		}
		return (0);
	}
	if (conf->reload_signal == 0)
		return (0);
	switch (reload_signal(conf, &pid, err, sizeof(err))) {
	case RELOAD_REFUSED:
		if (!r->owed)
			clock_gettime(CLOCK_REALTIME, &r->owed_since);
		r->owed = 1;
		strlcpy(r->owed_why, err, sizeof(r->owed_why));
		/* Watching the pidfile, and saying so, before the log. */
		r->changed(r->arg);
		log_warnx("not reloading %s: %s", conf->reload_process, err);
		return (-1);
	case RELOAD_NONE:
		log_info("%s: nothing to reload", err);
		r->owed = 0;
		return (0);
	case RELOAD_OK:
		break;
	}
	r->owed = 0;
	log_info("reloaded %s (pid %ld): %s", conf->reload_process, (long)pid,
	    why);
	/*
	 * SIGHUP makes sendmail re-execute under a new pid, TERM and INT
	 * end a program (a supervisor may start it anew); USR1 and USR2
	 * reload a program where it is, so there is no new pid to wait for.
	 */
	if (conf->reload_signal == SIGUSR1 || conf->reload_signal == SIGUSR2)
		return (0);
	r->awaiting = 1;
	r->awaiting_old = pid;
	ms_to_tv(AWAIT_MS, &tv);
	evtimer_add(r->ev_await, &tv);
	r->changed(r->arg);	/* now watching the pidfile */
	/* It may have come back before the watch was there. */
	reloader_check(r);
	return (0);
}

/*
 * Something changed; when it is sendmail's pidfile naming a new live
 * pid after a reload: stops waiting, and sends the reload that waited.
 */
void
reloader_check(struct reloader *r)
{
	const struct conf	*conf = r->conf;
	pid_t			 pid;
	char			 err[256];

	if (!r->awaiting ||
	    reload_read_pid(conf->reload_pidfile, &pid, err,
	    sizeof(err)) == -1 || pid == r->awaiting_old ||
	    reload_check_pid(pid, conf->reload_process, err,
	    sizeof(err)) == -1)
		return;
	log_info("%s is back as pid %ld", conf->reload_process, (long)pid);
	r->awaiting = 0;
	evtimer_del(r->ev_await);
	send_pending(r);
}

/*
 * A child ended: when it is reload_command, says how and sends the
 * reload that waited.  Returns whether pid was it.
 */
int
reloader_reap(struct reloader *r, pid_t pid, int status)
{
	const char	*cmd = r->conf->reload_command;

	if (pid != r->cmd_pid || pid <= 0)
		return (0);
	r->cmd_pid = 0;
	evtimer_del(r->ev_cmd);
	if (cmd == NULL)
		cmd = "";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("reload_command \"%s\" done", cmd);
	else if (WIFEXITED(status))
		log_warnx("reload_command \"%s\" exited %d", cmd,
		    WEXITSTATUS(status));
	else
		log_warnx("reload_command \"%s\" killed by signal %d", cmd,
		    WTERMSIG(status));
	send_pending(r);
	return (1);
}

/*
 * Whether sendmail may not have read the files yet: a reload is
 * awaited, wanted, or reload_command runs.
 */
int
reloader_busy(const struct reloader *r)
{
	return (r->awaiting || r->pending || r->cmd_pid > 0);
}

/* Whether the engine must watch sendmail's pidfile. */
int
reloader_watching(const struct reloader *r)
{
	return (r->awaiting || r->owed);
}

/* Why a reload is owed, or NULL when none is. */
const char *
reloader_owed(const struct reloader *r)
{
	return (r->owed ? r->owed_why : NULL);
}

/*
 * Quietly, after every pass, of a reload that is owed: when the
 * pidfile is gone, or names a sendmail that started after the refusal,
 * that sendmail has nothing to read again; when it names an older one,
 * the reload is due now (returns 1).  Otherwise it stays owed.
 */
int
reloader_owed_due(struct reloader *r)
{
	const struct conf	*conf = r->conf;
	struct stat		 st;
	pid_t			 pid;
	char			 err[256];

	if (!r->owed || conf->reload_signal == 0 ||
	    conf->reload_command != NULL) {
		r->owed = 0;
		return (0);
	}
	switch (reload_find(conf, &pid, err, sizeof(err))) {
	case RELOAD_NONE:
		log_info("%s; it reads the new files when it starts", err);
		r->owed = 0;
		return (0);
	case RELOAD_REFUSED:
		return (0);	/* still refused; said when it was */
	case RELOAD_OK:
		break;
	}
	if (stat(conf->reload_pidfile, &st) == -1)
		return (0);
	if (timespeccmp(&st.st_mtim, &r->owed_since, >)) {
		log_info("%s (pid %ld) started after the reload was refused: "
		    "it has read the new files", conf->reload_process,
		    (long)pid);
		r->owed = 0;
		return (0);
	}
	return (1);
}

/*
 * After -1's reload, when the STARTTLS probe follows: waits (at most
 * AWAIT_MS) until the pidfile names a new live sendmail, as the daemon
 * does, so that the probe meets the new one and not the old one.
 */
static void
once_await(const struct conf *conf, pid_t old)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	pid_t		 pid;
	char		 err[256];
	long		 waited;

	if (conf->verify_host == NULL || conf->reload_signal == SIGUSR1 ||
	    conf->reload_signal == SIGUSR2)
		return;
	for (waited = 0; waited < AWAIT_MS; waited += 20) {
		if (reload_read_pid(conf->reload_pidfile, &pid, err,
		    sizeof(err)) == 0 && pid != old &&
		    reload_check_pid(pid, conf->reload_process, err,
		    sizeof(err)) == 0) {
			log_info("%s is back as pid %ld",
			    conf->reload_process, (long)pid);
			return;
		}
		nanosleep(&ts, NULL);
	}
	log_warnx("%s did not come back with a new pid in %s within %d s "
	    "of the reload; check it", conf->reload_process,
	    conf->reload_pidfile, AWAIT_MS / 1000);
}

/*
 * The reload of a one-shot pass (-1), done here: reload_command waited
 * for, or the signal sent.  Returns 0, or -1 with err filled in (and
 * logged).
 */
int
reloader_once(const struct conf *conf, const char *why, char *err,
    size_t errlen)
{
	enum reload_result	rv;
	char			msg[256];
	pid_t			pid;

	if (conf->reload_command != NULL) {
		if (reload_run_wait(conf, why, msg, sizeof(msg)) == -1) {
			log_warnx("%s", msg);
			strlcpy(err, msg, errlen);
			return (-1);
		}
		log_info("reload_command \"%s\" done (%s)",
		    conf->reload_command, why);
		return (0);
	}
	if (conf->reload_signal == 0)
		return (0);
	rv = reload_signal(conf, &pid, msg, sizeof(msg));
	if (rv == RELOAD_REFUSED) {
		log_warnx("not reloading %s: %s", conf->reload_process, msg);
		snprintf(err, errlen, "not reloading %s: %s",
		    conf->reload_process, msg);
		return (-1);
	}
	if (rv == RELOAD_NONE)
		log_info("%s: nothing to reload", msg);
	else {
		log_info("reloaded %s (pid %ld): %s", conf->reload_process,
		    (long)pid, why);
		once_await(conf, pid);
	}
	return (0);
}
