/*
 * smtlsd -R: make the running daemon do a full pass and say how it went,
 * or do the pass here when no daemon runs.  The daemon counts the passes
 * that SIGUSR1 asked for in its status file ("pid passes resyncs time
 * result message"); we wait for that count to grow, which it does once
 * the STARTTLS probe after the pass is done too.  The second line,
 * "verify time result message", says what sendmail serves.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"
#include "resync.h"
#include "log.h"
#include "pass.h"
#include "verify.h"

#define RESYNC_WAIT_MS	(300 * 1000)

struct status {
	long		 pid;
	unsigned long	 passes, resyncs;
	char		 result[16];
	char		 msg[400];
	long long	 vtime;		/* verify: when; 0: none yet */
	char		 vresult[16];	/* ok failed running none off */
	char		 vmsg[600];
};

static int
status_read(const char *path, struct status *st)
{
	char	*buf, *line2;
	size_t	 len;
	int	 n, off = 0;

	memset(st, 0, sizeof(*st));
	if (file_read_file(path, 0, 4096, &buf, &len) == -1)
		return (-1);
	n = sscanf(buf, "%ld %lu %lu %*d %15s %n", &st->pid, &st->passes,
	    &st->resyncs, st->result, &off);
	if (n == 4 && off > 0) {
		strlcpy(st->msg, buf + off, sizeof(st->msg));
		st->msg[strcspn(st->msg, "\n")] = '\0';
	}
	if ((line2 = strchr(buf, '\n')) != NULL && (off = 0,
	    sscanf(line2 + 1, "verify %lld %15s %n", &st->vtime, st->vresult,
	    &off)) == 2 && off > 0) {
		strlcpy(st->vmsg, line2 + 1 + off, sizeof(st->vmsg));
		st->vmsg[strcspn(st->vmsg, "\n")] = '\0';
	}
	free(buf);
	return (n == 4 ? 0 : -1);
}

/*
 * The probe's line: what sendmail serves and when that was seen, or
 * why it does not serve what it should.
 */
static void
verify_say(const char *result, long long when, const char *msg)
{
	char	date[32];

	if (strcmp(result, "ok") != 0 && strcmp(result, "failed") != 0)
		return;
	verify_date((time_t)when, date, sizeof(date));
	printf("smtlsd: verified %s: %s%s\n", date,
	    strcmp(result, "ok") == 0 ? "" : "failed: ", msg);
}

/*
 * Runs one pass here, holding the pidfile so that no daemon starts
 * meanwhile.
 */
static int
resync_here(struct conf *conf, struct pidfh *pfh)
{
	struct pass_state	ps;
	struct pass_result	r;
	struct verify_result	vr;
	int			vrv;

	if (pass_state_init(&ps) == -1)
		fatal("pass_state_init");
	memset(&r, 0, sizeof(r));
	pass_run(conf, &ps, PASS_ONESHOT, &r);
	pass_state_free(&ps);
	vrv = verify_once(conf, r.serve, r.nserve, &vr);
	if (pfh != NULL)
		pidfile_remove(pfh);
	if (r.failed)
		printf("smtlsd: no daemon running; ran one pass: failed: %s\n",
		    r.reason);
	else if (vrv == -1)
		printf("smtlsd: no daemon running; ran one pass: failed: "
		    "verify: %s\n", vr.msg);
	else
		printf("smtlsd: no daemon running; ran one pass: ok\n");
	if (vr.msg[0] != '\0')
		verify_say(vr.ok ? "ok" : "failed", (long long)vr.when,
		    vr.msg);
	return (r.failed || vrv == -1 ? 1 : 0);
}

int
resync_main(struct conf *conf)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	struct status	 before, now;
	struct pidfh	*pfh;
	pid_t		 pid;
	long		 waited;

	if ((pfh = file_pidfile_open(conf->pidfile, &pid)) != NULL) {
		/* Not for what reload_command starts. */
		fcntl(pidfile_fileno(pfh), F_SETFD, FD_CLOEXEC);
		return (resync_here(conf, pfh));
	}
	if (errno == EPERM)
		return (1);
	if (errno != EEXIST) {
		log_warn("pidfile %s; running one pass here", conf->pidfile);
		return (resync_here(conf, NULL));
	}
	if (status_read(conf->status_file, &before) == -1 ||
	    before.pid != (long)pid)
		before.resyncs = 0;
	if (kill(pid, SIGUSR1) == -1) {
		log_warn("signalling smtlsd (pid %ld)", (long)pid);
		return (1);
	}
	for (waited = 0; waited < RESYNC_WAIT_MS; waited += 50) {
		nanosleep(&ts, NULL);
		if (status_read(conf->status_file, &now) == -1 ||
		    now.pid != (long)pid || now.resyncs <= before.resyncs)
			continue;
		if (strcmp(now.result, "ok") == 0)
			printf("smtlsd: resync finished: ok\n");
		else
			printf("smtlsd: resync finished: failed: %s\n",
			    now.msg);
		verify_say(now.vresult, now.vtime, now.vmsg);
		return (strcmp(now.result, "ok") == 0 ? 0 : 1);
	}
	printf("smtlsd: resync: no answer from pid %ld within %d s "
	    "(see %s and the system log)\n", (long)pid,
	    RESYNC_WAIT_MS / 1000, conf->status_file);
	return (2);
}
