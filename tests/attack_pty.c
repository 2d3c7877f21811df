/*
 * The pty of attack_test.sh's tty case, run as the unprivileged user:
 *
 *	attack_pty OUTFILE
 *
 * Opens a pseudo-terminal master (posix_openpt, grantpt, unlockpt),
 * never opening the slave itself, and writes the slave's name to
 * OUTFILE (through OUTFILE.tmp and rename, so a reader never sees half
 * of it).  The attacker points chain.pem at that slave: a root process
 * that is a session leader without a controlling terminal and opens it
 * without O_NOCTTY gets it as its controlling terminal.  On SIGUSR1 the
 * program writes ^C (0x03), then ^\ (0x1c) to the master, which the line
 * discipline turns into SIGINT and SIGQUIT for the terminal's foreground
 * process group, and then writes OUTFILE.sent.  SIGTERM ends it; so does
 * a 60 s alarm, should nobody end it.
 */

/* posix_openpt(3), grantpt(3), unlockpt(3), ptsname(3) are XSI. */
#define _XOPEN_SOURCE	700

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
put(const char *path, const char *text)
{
	char	tmp[4096];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF || rename(tmp, path) == -1) {
		perror(path);
		exit(1);
	}
}

static void
send_byte(int fd, char c)
{
	struct timespec	ts = { 0, 100 * 1000 * 1000 };

	if (write(fd, &c, 1) != 1)
		perror("attack_pty: write to the master");
	nanosleep(&ts, NULL);
}

int
main(int argc, char *argv[])
{
	sigset_t	 set;
	char		 line[4096], sent[4096];
	const char	*name;
	int		 fd, sig;

	if (argc != 2) {
		fprintf(stderr, "usage: attack_pty OUTFILE\n");
		return (2);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if ((fd = posix_openpt(O_RDWR | O_NOCTTY)) == -1 ||
	    grantpt(fd) == -1 || unlockpt(fd) == -1 ||
	    (name = ptsname(fd)) == NULL) {
		perror("attack_pty: posix_openpt");
		return (1);
	}
	snprintf(line, sizeof(line), "%s\n", name);
	put(argv[1], line);
	snprintf(sent, sizeof(sent), "%s.sent", argv[1]);
	alarm(60);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM)
			return (0);
		send_byte(fd, '\003');
		send_byte(fd, '\034');
		put(sent, "sent\n");
	}
}
