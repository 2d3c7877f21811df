/*
 * measure: run a command once and record its wall-clock time and peak
 * resident memory.
 *
 * usage: measure -o file command [arg ...]
 *
 * Appends one line "<seconds> <peak RSS in KiB> <exit status> <CPU
 * seconds>" to file.  The time is taken with CLOCK_MONOTONIC around fork,
 * exec and wait; the memory is ru_maxrss from wait4(2), the largest
 * resident set of the command or of any descendant it waited for (as GNU
 * time's %M); the CPU time is user + system time of the same.  The
 * command's own exit status is returned.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: measure -o file command [arg ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rusage	 ru;
	struct timespec	 t0, t1;
	FILE		*fp;
	const char	*out;
	double		 secs, cpu;
	pid_t		 pid;
	int		 ch, status, code;

	out = NULL;
	while ((ch = getopt(argc, argv, "+o:")) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (out == NULL || argc < 1)
		usage();
	if ((fp = fopen(out, "a")) == NULL)
		err(1, "%s", out);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		execvp(argv[0], argv);
		warn("%s", argv[0]);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) == -1)
		err(1, "wait4");
	clock_gettime(CLOCK_MONOTONIC, &t1);

	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	code = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	fprintf(fp, "%.6f %ld %d %.6f\n", secs, ru.ru_maxrss, code, cpu);
	if (fclose(fp) != 0)
		err(1, "%s", out);
	return (code);
}
