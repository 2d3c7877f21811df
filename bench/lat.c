/*
 * lat: make a change, then time how long a watcher takes to react.
 *
 * usage: lat [-t timeout] [-r from:to ...] [-e file ...] [-g file ...]
 *            [-c file ...]
 *
 * First every -r renames `from' onto `to', in the order given (the last
 * rename is "the last write"; the clock starts right after it).  Then it
 * polls, every 0.2 ms, for each condition until it holds:
 *   -e file   exists (a new <hash>.N, a reload marker)
 *   -g file   is gone
 *   -c file   has changed (another inode, size or modification time than
 *             before the renames: a status file rewritten atomically)
 * and prints one line per condition, in the order given:
 * "<ms since the last rename> <condition> <file>", or "timeout ..." when it
 * did not hold within the timeout (seconds, default 30).  Exits 0 when all
 * held, 1 otherwise.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXCOND		32
#define MAXREN		32
#define POLL_NS		200000L

struct cond {
	int		 kind;		/* 'e', 'g' or 'c' */
	const char	*path;
	struct stat	 before;
	int		 existed;
	double		 ms;		/* < 0 while it does not hold */
};

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: lat [-t timeout] [-r from:to ...] "
	    "[-e file ...] [-g file ...] [-c file ...]\n");
	exit(2);
}

static double
since_ms(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6);
}

static int
cond_holds(struct cond *c)
{
	struct stat	st;
	int		exists;

	exists = lstat(c->path, &st) == 0;
	switch (c->kind) {
	case 'e':
		return (exists);
	case 'g':
		return (!exists);
	default:
		if (!exists)
			return (0);
		if (!c->existed)
			return (1);
		return (st.st_ino != c->before.st_ino ||
		    st.st_size != c->before.st_size ||
		    st.st_mtime != c->before.st_mtime ||
#ifdef __linux__
		    st.st_mtim.tv_nsec != c->before.st_mtim.tv_nsec);
#else
		    st.st_mtimespec.tv_nsec != c->before.st_mtimespec.tv_nsec);
#endif
	}
}

int
main(int argc, char *argv[])
{
	struct cond	 conds[MAXCOND];
	struct timespec	 t0, nap;
	char		*ren[MAXREN], *colon;
	double		 timeout;
	int		 ch, i, nconds, nren, left, rc;

	timeout = 30;
	nconds = nren = 0;
	while ((ch = getopt(argc, argv, "c:e:g:r:t:")) != -1) {
		switch (ch) {
		case 'c':
		case 'e':
		case 'g':
			if (nconds == MAXCOND)
				errx(2, "too many conditions");
			conds[nconds].kind = ch;
			conds[nconds].path = optarg;
			conds[nconds].ms = -1;
			nconds++;
			break;
		case 'r':
			if (nren == MAXREN || strchr(optarg, ':') == NULL)
				usage();
			ren[nren++] = optarg;
			break;
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || nconds == 0)
		usage();

	for (i = 0; i < nconds; i++)
		conds[i].existed = lstat(conds[i].path, &conds[i].before) == 0;
	for (i = 0; i < nren; i++) {
		colon = strchr(ren[i], ':');
		*colon = '\0';
		if (rename(ren[i], colon + 1) == -1)
			err(1, "rename %s to %s", ren[i], colon + 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);

	nap.tv_sec = 0;
	nap.tv_nsec = POLL_NS;
	left = nconds;
	while (left > 0 && since_ms(&t0) < timeout * 1e3) {
		for (i = 0; i < nconds; i++) {
			if (conds[i].ms < 0 && cond_holds(&conds[i])) {
				conds[i].ms = since_ms(&t0);
				left--;
			}
		}
		if (left > 0)
			nanosleep(&nap, NULL);
	}

	rc = 0;
	for (i = 0; i < nconds; i++) {
		if (conds[i].ms < 0) {
			printf("timeout %c %s\n", conds[i].kind, conds[i].path);
			rc = 1;
		} else
			printf("%.1f %c %s\n", conds[i].ms, conds[i].kind,
			    conds[i].path);
	}
	return (rc);
}
