/*
 * Reloading sendmail.  The pid is read from the pidfile every time and
 * checked before any signal: the pidfile one that only root or the
 * MTA's user can write, the process alive, not a zombie, named
 * reload_process, running as root a program only root can change.  A
 * stale pidfile naming another process, garbage, an empty file: no
 * signal, and the reason comes back to the caller.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"
#include "log.h"
#include "osdep.h"
#include "reload.h"

#define PIDFILE_MAX	4096
#define RELOAD_PATH	"PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:" \
			"/usr/local/bin"
#define PIDFILE_PID_MAX	99999999L	/* the OS may allow fewer */

/*
 * Whether the pidfile open on fd, at path, may be believed: a regular
 * file (not reached through a link), owned by root or by its directory's
 * owner (the MTA's own user), in a directory neither group nor others
 * can write.  Anyone else who can write it could name any process.
 * Returns 0, or -1 with why filled in.
 */
static int
pidfile_trusted(const char *path, int fd, char *why, size_t whylen)
{
	struct stat	 st, dst;
	char		 dir[PATH_MAX], *d;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (d = dirname(dir)) == NULL || stat(d, &dst) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(why, whylen, "pidfile %s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "pidfile %s: not a regular file", path);
		return (-1);
	}
	if ((dst.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen, "pidfile %s: not trusted: group or "
		    "others can write its directory %s", path, d);
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != dst.st_uid) {
		snprintf(why, whylen, "pidfile %s: not trusted: owned by uid "
		    "%u, neither root nor the owner of %s", path,
		    (unsigned)st.st_uid, d);
		return (-1);
	}
	return (0);
}

/*
 * The pid on the first line of path, a pidfile that must be trusted
 * (pidfile_trusted).  Returns 0, or -1 with why filled in.
 */
int
reload_read_pid(const char *path, pid_t *pid, char *why, size_t whylen)
{
	char	*buf = NULL, *p;
	size_t	 len;
	long	 v = 0;
	int	 fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "pidfile %s: %s", path, errno == ELOOP ?
		    "a symbolic link; not followed" : strerror(errno));
		return (-1);
	}
	if (pidfile_trusted(path, fd, why, whylen) == -1)
		goto out;
	if (file_read_fd(fd, PIDFILE_MAX, &buf, &len) == -1) {
		snprintf(why, whylen, "pidfile %s: %s", path,
		    errno == EFBIG ? "too large for a pidfile" :
		    strerror(errno));
		goto out;
	}
	p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9') {
		snprintf(why, whylen, "pidfile %s: first line is %s, not a "
		    "process id", path, *p == '\0' || *p == '\n' ? "empty" :
		    "garbage");
		goto out;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > PIDFILE_PID_MAX)
			break;
	}
	if (v > PIDFILE_PID_MAX || v <= 1 ||
	    (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t')) {
		snprintf(why, whylen, "pidfile %s: first line is not a valid "
		    "process id", path);
		goto out;
	}
	*pid = (pid_t)v;
	rv = 0;
out:
	free(buf);
	close(fd);
	return (rv);
}

/*
 * Whether the process p is one to signal: alive, not a zombie, called
 * name, running as root from an executable only root can change.
 * Returns 0, or -1 with why filled in.
 */
static int
proc_check(const struct osdep_proc *p, const char *name, char *why,
    size_t whylen)
{
	struct osdep_procinfo	pi;
	long			pid = p->pid;

	if (osdep_proc_info(p, &pi) == -1) {
		snprintf(why, whylen, "process %ld is not running (stale "
		    "pidfile?)", pid);
		return (-1);
	}
	if (pi.zombie) {
		snprintf(why, whylen, "process %ld is a zombie", pid);
		return (-1);
	}
	if (strcmp(pi.name, name) != 0) {
		snprintf(why, whylen, "process %ld is \"%s\", not \"%s\" "
		    "(stale pidfile?)", pid, pi.name, name);
		return (-1);
	}
	if (pi.uid != 0) {
		snprintf(why, whylen, "process %ld (\"%s\") runs as uid %u, "
		    "not as root: not the MTA", pid, pi.name,
		    (unsigned)pi.uid);
		return (-1);
	}
	if (!pi.exe_safe) {
		snprintf(why, whylen, "process %ld (\"%s\") runs a program "
		    "that others than root can change: not the MTA", pid,
		    pi.name);
		return (-1);
	}
	return (0);
}

/*
 * Whether pid is a live process called name, as root (proc_check).
 * Returns 0, or -1 with why filled in.
 */
int
reload_check_pid(pid_t pid, const char *name, char *why, size_t whylen)
{
	struct osdep_proc	p;
	int			rv;

	if (osdep_proc_open((int)pid, &p) == -1) {
		snprintf(why, whylen, "process %ld is not running (stale "
		    "pidfile?)", (long)pid);
		return (-1);
	}
	rv = proc_check(&p, name, why, whylen);
	osdep_proc_close(&p);
	return (rv);
}

/*
 * The process reload_pidfile names, checked and held in *p: RELOAD_OK;
 * RELOAD_NONE when there is no pidfile (the program is not running, and
 * reads the files when it starts); or RELOAD_REFUSED with why filled in.
 */
static enum reload_result
find_proc(const struct conf *conf, struct osdep_proc *p, char *why,
    size_t whylen)
{
	struct stat	st;
	pid_t		pid;

	if (lstat(conf->reload_pidfile, &st) == -1 && errno == ENOENT) {
		snprintf(why, whylen, "no pidfile %s: not running",
		    conf->reload_pidfile);
		return (RELOAD_NONE);
	}
	if (reload_read_pid(conf->reload_pidfile, &pid, why, whylen) == -1)
		return (RELOAD_REFUSED);
	if (osdep_proc_open((int)pid, p) == -1) {
		snprintf(why, whylen, "process %ld is not running (stale "
		    "pidfile?)", (long)pid);
		return (RELOAD_REFUSED);
	}
	if (proc_check(p, conf->reload_process, why, whylen) == -1) {
		osdep_proc_close(p);
		return (RELOAD_REFUSED);
	}
	return (RELOAD_OK);
}

/*
 * As find_proc, with the pid in *pidp and nothing held.
 */
enum reload_result
reload_find(const struct conf *conf, pid_t *pidp, char *why, size_t whylen)
{
	struct osdep_proc	p;
	enum reload_result	rv;

	if ((rv = find_proc(conf, &p, why, whylen)) != RELOAD_OK)
		return (rv);
	*pidp = (pid_t)p.pid;
	osdep_proc_close(&p);
	return (RELOAD_OK);
}

/*
 * Signals the process named in reload_pidfile, after checking it
 * (find_proc), through what holds it.  Returns RELOAD_OK with the pid
 * in *signalled, RELOAD_NONE when there is no pidfile, or RELOAD_REFUSED
 * with why filled in and nothing sent.
 */
enum reload_result
reload_signal(const struct conf *conf, pid_t *signalled, char *why,
    size_t whylen)
{
	struct osdep_proc	p;
	enum reload_result	rv;

	if ((rv = find_proc(conf, &p, why, whylen)) != RELOAD_OK)
		return (rv);
	if (osdep_proc_kill(&p, conf->reload_signal) == -1) {
		snprintf(why, whylen, "signalling process %ld: %s",
		    (long)p.pid, strerror(errno));
		osdep_proc_close(&p);
		return (RELOAD_REFUSED);
	}
	*signalled = (pid_t)p.pid;
	osdep_proc_close(&p);
	return (RELOAD_OK);
}

/*
 * Starts "/bin/sh -c cmd" in a child of its own process group (so that
 * a time limit can end all of it), with nothing of the daemon's: every
 * signal at its default and none blocked, no descriptor above stderr,
 * standard input from /dev/null, and only this environment: PATH,
 * SMTLSD_REASON (why, made visible as in the log), SMTLSD_CERT_DIR and
 * SMTLSD_DH_PARAMS.  Returns its pid, or -1 (logged).
 */
pid_t
reload_spawn(const struct conf *conf, const char *why)
{
	char		 reason[300], vis[256], certdir[PATH_MAX + 20];
	char		 dh[PATH_MAX + 20];
	char		*env[5];
	sigset_t	 none;
	pid_t		 pid;
	int		 fd, sig;

	file_vis(vis, sizeof(vis), why);
	snprintf(reason, sizeof(reason), "SMTLSD_REASON=%s", vis);
	snprintf(certdir, sizeof(certdir), "SMTLSD_CERT_DIR=%s",
	    conf->cert_dir);
	snprintf(dh, sizeof(dh), "SMTLSD_DH_PARAMS=%s", conf->dh_params);
	env[0] = (char *)(uintptr_t)RELOAD_PATH;
	env[1] = reason;
	env[2] = certdir;
	env[3] = dh;
	env[4] = NULL;
	switch (pid = fork()) {
	case -1:
		log_warn("reload_command: fork");
		return (-1);
	case 0:
		setpgid(0, 0);
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, STDIN_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		closefrom(STDERR_FILENO + 1);
		execle("/bin/sh", "sh", "-c", conf->reload_command,
		    (char *)NULL, env);
		_exit(127);
	}
	setpgid(pid, pid);
	return (pid);
}

/*
 * Runs reload_command and waits for it at most reload_timeout, for
 * one-shot passes
 * (the daemon reaps its children from the event loop instead).  Returns
 * 0 when it exited 0, or -1 with why filled in.
 */
int
reload_run_wait(const struct conf *conf, const char *reason, char *why,
    size_t whylen)
{
	const char	*cmd = conf->reload_command;
	long		 timeout_ms = conf->reload_timeout_ms;
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	pid_t		 pid;
	long		 waited = 0;
	int		 status;

	if ((pid = reload_spawn(conf, reason)) == -1) {
		snprintf(why, whylen, "reload_command could not start");
		return (-1);
	}
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (waited >= timeout_ms) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, whylen, "reload_command \"%s\" killed "
			    "after %ld ms", cmd, timeout_ms);
			return (-1);
		}
		nanosleep(&ts, NULL);
		waited += 20;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return (0);
	if (WIFEXITED(status))
		snprintf(why, whylen, "reload_command \"%s\" exited %d", cmd,
		    WEXITSTATUS(status));
	else
		snprintf(why, whylen, "reload_command \"%s\" killed by "
		    "signal %d", cmd, WTERMSIG(status));
	return (-1);
}
