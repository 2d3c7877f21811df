/*
 * libFuzzer target: the configuration parser.  conf_load reads a path,
 * so each input is written to a file of its own directory, mode 0600
 * (a file others may write is refused before it is parsed); a
 * configuration it accepts is also printed with conf_dump, and the
 * printed form must load again to the same thing.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[PATH_MAX], path[PATH_MAX + 16], path2[PATH_MAX + 16];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_dir(dir, sizeof(dir), "conf");
	snprintf(path, sizeof(path), "%s/smtlsd.conf", dir);
	snprintf(path2, sizeof(path2), "%s/dumped.conf", dir);
	return (0);
}

static char *
dump(const struct conf *c, size_t *len)
{
	FILE	*fp;
	char	*buf = NULL;

	if ((fp = open_memstream(&buf, len)) == NULL)
		err(1, "open_memstream");
	conf_dump(c, fp);
	fclose(fp);
	return (buf);
}

static size_t
longest_line(const char *s)
{
	size_t	n, max = 0;

	for (; *s != '\0'; s += n + (s[n] == '\n')) {
		n = strcspn(s, "\n");
		if (n > max)
			max = n;
	}
	return (max);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c, *c2;
	char		*d1, *d2;
	size_t		 l1, l2;

	fuzz_put(path, data, size, 0600);
	if ((c = conf_load(path, 0)) == NULL)
		return (0);
	d1 = dump(c, &l1);
	if (longest_line(d1) > 4095) {
		/* Longer than the parser takes: a limit, not a bug. */
		free(d1);
		conf_free(c);
		return (0);
	}
	fuzz_put(path2, d1, l1, 0600);
	if ((c2 = conf_load(path2, 0)) == NULL) {
		fprintf(fuzz_diag, "conf_dump printed a configuration that "
		    "does not load:\n%s", d1);
		abort();
	}
	d2 = dump(c2, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0) {
		fprintf(fuzz_diag, "conf_dump, loaded again, differs:\n"
		    "%s---\n%s", d1, d2);
		abort();
	}
	free(d1);
	free(d2);
	conf_free(c);
	conf_free(c2);
	return (0);
}
