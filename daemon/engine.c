/*
 * The daemon.  Everything happens in one libevent loop: watch events
 * restart a settle timer, and when the inputs have been quiet for
 * `settle' seconds (at the latest `settle_max' after the first change)
 * one pass runs.  Changes that arrive during a pass are queued by the
 * kernel and start the timer again afterwards.
 * Anything slow runs in a child the loop reaps: DH parameter generation
 * and reload_command.  Signals arrive through libevent: SIGHUP re-reads
 * the configuration, SIGUSR1 forces a full pass, SIGTERM and SIGINT end.
 *
 * When sendmail must reload, and when it may, is the reloader's
 * (reloader.c); DH parameters are made by the DH child (dhchild.c).
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
#include "dhchild.h"
#include "dhparam.h"
#include "engine.h"
#include "evtime.h"
#include "file.h"
#include "log.h"
#include "osdep.h"
#include "pass.h"
#include "reloader.h"
#include "verify.h"
#include "watch.h"

#define SMTLSD_VERSION		"0.1"
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
	struct reloader		*reloader;
	struct dhchild		*dh;
	int			 dh_failures;	/* in a row */
	struct event		*ev_settle;
	long			 changed_since;	/* ms; 0: no change pending */
	long			 writing_since;	/* ms; 0: no writer waited */
	struct event		*ev_retry;
	long			 retry_ms;	/* 0: the last pass was good */
	struct event		*ev_expiry;	/* a certificate's expiry_warn */
	int			 expiry_fd;	/* its osdep_alarm_fd, or -1 */
	time_t			 expiry_when;	/* when it is armed for; 0 */
	struct event		*ev_sig[5];
	unsigned long		 passes;
	unsigned long		 resyncs;
	char			 failed_why[256];	/* last pass; "": good */
	/* The STARTTLS probe: what the last pass wants served. */
	struct verify		*verify;
	struct verify_expect	 expect[VERIFY_EXPECT_MAX];
	size_t			 nexpect;
	int			 verify_due;	/* once sendmail is settled */
	int			 verified;	/* vres is its last outcome */
	struct verify_result	 vres;
	time_t			 served_said;	/* its expiry warning */
	unsigned long		 resyncs_waiting;	/* for a probe */
	unsigned long		 resyncs_probed;	/* by the one running */
};

static void	engine_pass(struct engine *, int);
static void	engine_rearm(struct engine *);

/*
 * The status file, two lines: "pid passes resyncs time result message"
 * and "verify time result message", the last STARTTLS probe's outcome.
 * Mode 0640, group root's: it may name what smtlsd found in directories
 * other users own, and is for root (smtlsd -R, service smtlsd status).
 * The messages are made visible (strvis) like the log.
 */
static void
status_write(struct engine *e, const char *result, const char *msg)
{
	char		 buf[2048], vis[400], vvis[600];
	const char	*vr, *vm;
	long long	 when = 0;
	int		 n;

	file_vis(vis, sizeof(vis), msg);
	if (e->conf->verify_host == NULL) {
		vr = "off";
		vm = "verify_smtp none";
	} else if (e->verified) {
		vr = e->vres.ok ? "ok" : "failed";
		vm = e->vres.msg;
		when = (long long)e->vres.when;
	} else if (e->verify_due ||
	    (e->verify != NULL && verify_running(e->verify))) {
		vr = "running";
		vm = "probing what sendmail serves";
	} else {
		vr = "none";
		vm = "no good certificate set to compare with";
	}
	file_vis(vvis, sizeof(vvis), vm);
	n = snprintf(buf, sizeof(buf), "%ld %lu %lu %lld %s %s\n"
	    "verify %lld %s %s\n", (long)getpid(), e->passes, e->resyncs,
	    (long long)time(NULL), result, vis, when, vr, vvis);
	if (n > 0 && (size_t)n < sizeof(buf))
		file_write_atomic(e->conf->status_file, buf, (size_t)n, 0640);
}

/*
 * When sendmail serves a certificate other than the newest good set's
 * (an old one, say), expiry_warn is about the one it serves: the
 * warning, or "" when it is not due (logged once a day).
 */
static void
served_expiry(struct engine *e, char *msg, size_t len)
{
	time_t	now;

	now = time(NULL);
	msg[0] = '\0';
	if (!e->verified ||
	    verify_expiry(&e->vres, e->conf, msg, len) == 0)
		return;
	if (e->served_said == 0 || now - e->served_said >= 86400) {
		log_warnx("%s", msg);
		e->served_said = now;
	}
}

/*
 * The state since the last pass: its failure, a reload owed, the last
 * probe's failure (or the expiry of what sendmail serves), or ok.
 */
static void
status_now(struct engine *e)
{
	const char	*owed;
	char		 msg[600];

	owed = reloader_owed(e->reloader);
	served_expiry(e, msg, sizeof(msg));
	if (e->failed_why[0] != '\0')
		status_write(e, "failed", e->failed_why);
	else if (owed != NULL)
		status_write(e, "failed", owed);
	else if (msg[0] != '\0')	/* the probe's failure in line 2 */
		status_write(e, "failed", msg);
	else if (e->verified && !e->vres.ok) {
		snprintf(msg, sizeof(msg), "verify: failed: %s", e->vres.msg);
		status_write(e, "failed", msg);
	} else
		status_write(e, "ok", "all good");
}

/*
 * The probe that is due, once sendmail is not coming back from a
 * reload (nor a reload_command running): then it meets the sendmail
 * that has read the files.  One at a time; one due meanwhile follows.
 */
static void
verify_maybe(struct engine *e)
{
	if (!e->verify_due || verify_running(e->verify) ||
	    reloader_busy(e->reloader))
		return;
	e->verify_due = 0;
	e->resyncs_probed = e->resyncs_waiting;
	if (verify_start(e->verify, e->conf, e->expect, e->nexpect) == -1) {
		e->resyncs += e->resyncs_probed;
		e->resyncs_waiting -= e->resyncs_probed;
		e->resyncs_probed = 0;
		status_now(e);
	}
}

/*
 * A probe ended.  A resync waited for it counts as done now, so that
 * smtlsd -R reports what sendmail serves.  A failure is tried again at
 * the next pass, not by polling.
 */
static void
on_verify(void *arg, const struct verify_result *res)
{
	struct engine	*e = arg;

	if (res->ok)
		log_info("verify: ok: %s", res->msg);
	else
		log_warnx("verify: failed: %s", res->msg);
	e->vres = *res;
	e->verified = 1;
	if (res->ok || !res->served || res->matched != -1)
		e->served_said = 0;
	e->resyncs += e->resyncs_probed;
	e->resyncs_waiting -= e->resyncs_probed;
	e->resyncs_probed = 0;
	engine_rearm(e);	/* sendmail's pidfile, while it fails */
	status_now(e);
	verify_maybe(e);
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

	reloader_check(e->reloader);
	verify_maybe(e);	/* sendmail may be back */
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

/*
 * An expiry warning is due (or due again, a day later): a pass says it.
 * One timer at that moment, so that nothing runs until then.
 */
static void	expiry_disarm(struct engine *);

static void
on_expiry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	expiry_disarm(arg);	/* it has fired: the pass arms the next */
	engine_pass(arg, 0);
}

static void
expiry_disarm(struct engine *e)
{
	if (e->ev_expiry != NULL)
		event_free(e->ev_expiry);
	e->ev_expiry = NULL;
	if (e->expiry_fd != -1)
		close(e->expiry_fd);
	e->expiry_fd = -1;
	e->expiry_when = 0;
}

/*
 * The one timer for when (0: none), on a descriptor where the system
 * waits for one without waking up (osdep_alarm_fd), else libevent's.
 */
static void
expiry_arm(struct engine *e, time_t when)
{
	struct timeval	tv;
	time_t		now;

	now = time(NULL);
	if (when != 0 && when == e->expiry_when)
		return;		/* armed already, as most passes find */
	expiry_disarm(e);
	if (when == 0)
		return;
	e->expiry_when = when;
	if ((e->expiry_fd = osdep_alarm_fd(when)) != -1) {
		e->ev_expiry = event_new(e->base, e->expiry_fd, EV_READ,
		    on_expiry, e);
		if (e->ev_expiry == NULL || event_add(e->ev_expiry, NULL) == -1)
			log_warnx("expiry_warn: cannot arm its timer");
		return;
	}
	tv.tv_sec = when > now ? when - now : 0;
	tv.tv_usec = 0;
	if ((e->ev_expiry = evtimer_new(e->base, on_expiry, e)) == NULL ||
	    evtimer_add(e->ev_expiry, &tv) == -1)
		log_warnx("expiry_warn: cannot arm its timer");
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

/*
 * The reloader's state changed: what is watched, and the status (a
 * refused reload shows as failed before it is logged).
 */
static void
on_reloader(void *arg)
{
	struct engine	*e = arg;

	engine_rearm(e);
	status_now(e);
	verify_maybe(e);
}

/* Makes sendmail reload for what the last pass wanted. */
static int
engine_reload(struct engine *e)
{
	e->ps.reload_wanted = 0;
	return (reloader_reload(e->reloader, e->ps.reload_why));
}

/*
 * The DH child is done: new parameters are written, and sendmail must
 * read them; or it failed, and the pass that follows the retry starts
 * another, each time later.
 */
static void
on_dh(void *arg, const char *pem, size_t len)
{
	struct engine	*e = arg;

	if (pem == NULL ||
	    dhparam_write(e->conf->dh_params, pem, len) == -1) {
		retry_in(e, e->dh_failures >= 8 ? RETRY_MAX_MS :
		    RETRY_MIN_MS << e->dh_failures);
		e->dh_failures++;
		return;
	}
	e->dh_failures = 0;
	log_info("dh_params %s: written", e->conf->dh_params);
	pass_dh_written(e->conf, &e->ps);
	engine_rearm(e);
	if (e->ps.reload_wanted)
		engine_reload(e);
}

static void
on_sigchld(struct engine *e)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!dhchild_reap(e->dh, pid, status))
			reloader_reap(e->reloader, pid, status);
	verify_maybe(e);	/* reload_command may be done */
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
	/*
	 * While the last probe failed too: a sendmail that starts (at boot
	 * after smtlsd, or by hand) writes its pidfile, and the pass that
	 * follows probes it again.
	 */
	if (reloader_watching(e->reloader) || (e->verified && !e->vres.ok))
		watch_add(e->watch, e->conf->reload_pidfile, 0);
	watch_commit(e->watch);
}

static void
engine_pass(struct engine *e, int resync)
{
	struct pass_result	r;

	evtimer_del(e->ev_settle);
	e->writing_since = 0;
	e->changed_since = 0;
	memset(&r, 0, sizeof(r));
	/*
	 * A reload refused before, and due now: wanted before the pass, so
	 * that the pass checks sendmail's files for it as for its own.
	 */
	if (reloader_owed_due(e->reloader) && !e->ps.reload_wanted) {
		e->ps.reload_wanted = 1;
		strlcpy(e->ps.reload_why, "owed since it was refused",
		    sizeof(e->ps.reload_why));
	}
	pass_run(e->conf, &e->ps, 0, &r);
	e->passes++;
	/*
	 * What sendmail should serve now, for a probe after every pass
	 * (a resync counts as done once it has run); none without a good
	 * set or with verify_smtp none.
	 */
	memcpy(e->expect, r.serve, sizeof(e->expect));
	e->nexpect = r.nserve;
	if (e->conf->verify_host != NULL && e->nexpect > 0) {
		e->verify_due = 1;
		if (resync)
			e->resyncs_waiting++;
	} else {
		e->verify_due = 0;
		e->verified = 0;
		if (resync)
			e->resyncs++;
	}
	log_debug("pass %lu: %zu certificates, %zu added, %zu replaced, "
	    "%zu removed, %zu unchanged; %zu of %zu certificate sets good",
	    e->passes, r.store.certs, r.store.added, r.store.replaced,
	    r.store.removed, r.store.unchanged, r.domains_valid, r.domains);
	if (r.store.added + r.store.replaced + r.store.removed > 0)
		log_info("%s: %zu added, %zu replaced, %zu removed",
		    e->conf->cert_dir, r.store.added, r.store.replaced,
		    r.store.removed);
	engine_retry(e, r.retry);
	expiry_arm(e, r.expiry_next);
	if (e->ps.dh_wanted) {
		e->ps.dh_wanted = 0;
		dhchild_start(e->dh, e->conf, pidfile_fileno(e->pfh));
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
	verify_maybe(e);
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
	reloader_setconf(e->reloader, nc);
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
	file_sweep_tmp(d);
}

int
engine_main(struct conf *conf, const char *conf_path, int debug)
{
	struct engine		 e;
	char			 abs_path[PATH_MAX], why[PATH_MAX + 128];
	pid_t			 other;
	int			 sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT,
				    SIGCHLD };
	size_t			 i;

	memset(&e, 0, sizeof(e));
	e.conf = conf;
	e.conf_path = conf_path;
	/* daemon(3) moves to /: SIGHUP must still find a relative -f. */
	if (conf_path != NULL && conf_path[0] != '/' &&
	    realpath(conf_path, abs_path) != NULL)
		e.conf_path = abs_path;
	e.conf_flags = conf_path == NULL ? CONF_MISSING_OK : 0;
	e.expiry_fd = -1;

	/* What can fail at start fails before daemon(3), on stderr. */
	if (watch_available(conf->watch) == -1) {
		conf_free(conf);
		return (1);
	}
	if (file_own_file(conf->status_file, why, sizeof(why)) == -1) {
		log_warnx("status_file %s", why);
		conf_free(conf);
		return (1);
	}
	if ((e.pfh = file_pidfile_open(conf->pidfile, &other)) == NULL) {
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
	if ((e.reloader = reloader_new(e.base, e.conf, on_reloader, &e)) ==
	    NULL || (e.dh = dhchild_new(e.base, on_dh, &e)) == NULL ||
	    (e.verify = verify_new(e.base, on_verify, &e)) == NULL)
		fatal("engine");
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

	dhchild_free(e.dh);
	reloader_free(e.reloader);
	verify_free(e.verify);
	e.verify = NULL;
	status_write(&e, "stopped", "exited");
	pidfile_remove(e.pfh);
	watch_free(e.watch);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(e.ev_sig[i]);
	event_free(e.ev_settle);
	event_free(e.ev_retry);
	expiry_disarm(&e);
	event_base_free(e.base);
	pass_state_free(&e.ps);
	conf_free(e.conf);
	return (0);
}
