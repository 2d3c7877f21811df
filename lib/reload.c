/*
 * Reloading sendmail.  The pid is read from the pidfile every time and
 * checked before any signal: alive, not a zombie, and named
 * reload_process.  A stale pidfile naming another process, garbage, an
 * empty file: no signal, and the reason comes back to the caller.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "osdep.h"
#include "reload.h"
#include "util.h"

#define PIDFILE_MAX	4096
#define PID_MAX		99999999L

/*
 * The pid on the first line of path.  Returns 0, or -1 with why filled.
 */
int
reload_read_pid(const char *path, pid_t *pid, char *why, size_t whylen)
{
	char	*buf, *p;
	size_t	 len;
	long	 v = 0;

	if (util_read_file(path, 0, PIDFILE_MAX, &buf, &len) == -1) {
		snprintf(why, whylen, "pidfile %s: %s", path,
		    errno == EFBIG ? "too large for a pidfile" :
		    errno == EINVAL ? "not a regular file" : strerror(errno));
		return (-1);
	}
	p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9') {
		snprintf(why, whylen, "pidfile %s: first line is %s, not a "
		    "process id", path, *p == '\0' || *p == '\n' ? "empty" :
		    "garbage");
		free(buf);
		return (-1);
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > PID_MAX)
			break;
	}
	if (v > PID_MAX || v <= 1 ||
	    (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t')) {
		snprintf(why, whylen, "pidfile %s: first line is not a valid "
		    "process id", path);
		free(buf);
		return (-1);
	}
	free(buf);
	*pid = (pid_t)v;
	return (0);
}

/*
 * Whether pid is a live process called name.  Returns 0, or -1 with
 * why filled in.
 */
int
reload_check_pid(pid_t pid, const char *name, char *why, size_t whylen)
{
	char	comm[64];
	int	zombie;

	if (osdep_proc_name((int)pid, comm, sizeof(comm), &zombie) == -1) {
		snprintf(why, whylen, "process %ld is not running (stale "
		    "pidfile?)", (long)pid);
		return (-1);
	}
	if (zombie) {
		snprintf(why, whylen, "process %ld is a zombie", (long)pid);
		return (-1);
	}
	if (strcmp(comm, name) != 0) {
		snprintf(why, whylen, "process %ld is \"%s\", not \"%s\" "
		    "(stale pidfile?)", (long)pid, comm, name);
		return (-1);
	}
	return (0);
}

/*
 * The process reload_pidfile names, checked: returns 0 with its pid in
 * *pidp; 1 when there is no pidfile (the program is not running, and
 * reads the files when it starts); or -1 with why filled in.
 */
int
reload_find(const struct conf *conf, pid_t *pidp, char *why, size_t whylen)
{
	if (access(conf->reload_pidfile, F_OK) == -1 && errno == ENOENT) {
		snprintf(why, whylen, "no pidfile %s: not running",
		    conf->reload_pidfile);
		return (1);
	}
	if (reload_read_pid(conf->reload_pidfile, pidp, why, whylen) == -1 ||
	    reload_check_pid(*pidp, conf->reload_process, why, whylen) == -1)
		return (-1);
	return (0);
}

/*
 * Signals the process named in reload_pidfile, after checking it
 * (reload_find).  Returns 0 with the pid in *signalled; 1 when there is
 * no pidfile; or -1 with why filled in and nothing sent.
 */
int
reload_signal(const struct conf *conf, pid_t *signalled, char *why,
    size_t whylen)
{
	pid_t	pid;
	int	rv;

	if ((rv = reload_find(conf, &pid, why, whylen)) != 0)
		return (rv);
	if (kill(pid, conf->reload_signal) == -1) {
		snprintf(why, whylen, "signalling process %ld: %s",
		    (long)pid, strerror(errno));
		return (-1);
	}
	*signalled = pid;
	return (0);
}

/*
 * Starts "/bin/sh -c cmd" in a child of its own process group (so that
 * a time limit can end all of it).  Returns its pid, or -1 (logged).
 */
pid_t
reload_spawn(const char *cmd)
{
	pid_t	pid;
	int	fd;

	switch (pid = fork()) {
	case -1:
		log_warn("reload_command: fork");
		return (-1);
	case 0:
		setpgid(0, 0);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, STDIN_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return (pid);
}

/*
 * Runs cmd and waits for it at most timeout_ms, for one-shot passes
 * (the daemon reaps its children from the event loop instead).  Returns
 * 0 when it exited 0, or -1 with why filled in.
 */
int
reload_run_wait(const char *cmd, long timeout_ms, char *why, size_t whylen)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	pid_t		 pid;
	long		 waited = 0;
	int		 status;

	if ((pid = reload_spawn(cmd)) == -1) {
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
