/*
 * A stand-in for sendmail in smtlsd's tests.  Install it under the name
 * "sendmail" (so that its process name is "sendmail") and start it with
 * its absolute path:
 *
 *	/abs/path/sendmail -p pidfile -l logfile [-k ms] [-w ms]
 *
 * Like sendmail -bd it goes to the background: it forks, the child
 * writes the pidfile (line 1 its pid, line 2 the command line, written
 * in place as sendmail does), and the parent exits once the pidfile is
 * written.  On SIGHUP it re-executes itself (execv of its absolute
 * path) under the same pid, then forks again, so that the daemon
 * continues under a NEW pid and rewrites the pidfile.
 *
 *  -p pidfile	the pidfile
 *  -l logfile	one line per event, appended: "start PID SEC.NSEC" when the
 *		pidfile names PID, "hup PID SEC.NSEC" for every SIGHUP received
 *  -k ms	after a re-exec, wait ms before catching SIGHUP again: a
 *		second SIGHUP within that window kills it, as a second
 *		SIGHUP within ~10 ms kills sendmail (default 0)
 *  -w ms	after a re-exec, wait a further ms before the pidfile is
 *		rewritten (default 0)
 *
 * SIGTERM ends it.  It never calls setsid(2): it stays in the process
 * group of whoever started it, so a test runner can end it with the
 * group.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESTART_ENV	"FAKE_SENDMAIL_RESTARTED"

static volatile sig_atomic_t	hups;

static void
on_hup(int sig)
{
	(void)sig;
	hups++;
}

static void
msleep(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
logline(const char *path, const char *what)
{
	struct timespec	 ts;
	char		 buf[128];
	int		 fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, sizeof(buf), "%s %ld %lld.%09ld\n", what,
	    (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return;
	if (write(fd, buf, (size_t)n) != n)
		perror("fake sendmail: log");
	close(fd);
}

static void
write_pidfile(const char *path, int argc, char *argv[])
{
	char	buf[4096];
	size_t	len;
	int	fd, i;

	len = (size_t)snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	for (i = 0; i < argc && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		    i ? " " : "", argv[i]);
	if (len < sizeof(buf))
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\n");
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	/* In place, as sendmail does: readers may see it empty. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, buf, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static void
usage(void)
{
	fprintf(stderr, "usage: /abs/path/sendmail -p pidfile -l logfile "
	    "[-k ms] [-w ms]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	sigset_t		 set, old;
	const char		*pidfile = NULL, *logfile = NULL;
	long			 kill_ms = 0, wait_ms = 0;
	int			 ch, fds[2], restarted, i, n;
	char			 c;

	while ((ch = getopt(argc, argv, "k:l:p:w:")) != -1) {
		switch (ch) {
		case 'k':
			kill_ms = strtol(optarg, NULL, 10);
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'w':
			wait_ms = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (pidfile == NULL || logfile == NULL || optind != argc)
		usage();
	if (argv[0][0] != '/') {
		fprintf(stderr, "fake sendmail: need full path\n");
		exit(1);
	}
	restarted = getenv(RESTART_ENV) != NULL;

	/* Until the handler is in place, SIGHUP kills (as with sendmail). */
	if (restarted && kill_ms > 0)
		msleep(kill_ms);

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) == -1) {
		perror("sigaction");
		exit(1);
	}

	if (pipe(fds) == -1) {
		perror("pipe");
		exit(1);
	}
	switch (fork()) {
	case -1:
		perror("fork");
		exit(1);
	case 0:
		break;
	default:
		/* The parent goes once the child has written the pidfile. */
		close(fds[1]);
		while (read(fds[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[0]);
	if (restarted && wait_ms > 0)
		msleep(wait_ms);
	write_pidfile(pidfile, argc, argv);
	logline(logfile, "start");
	close(fds[1]);

	for (;;) {
		while (hups == 0)
			sigsuspend(&old);
		n = hups;
		for (i = 0; i < n; i++)
			logline(logfile, "hup");
		/* SIGHUP is blocked here; the new image starts without it. */
		sa.sa_handler = SIG_DFL;
		sigaction(SIGHUP, &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		setenv(RESTART_ENV, "1", 1);
		execv(argv[0], argv);
		perror("fake sendmail: execv");
		exit(1);
	}
}
