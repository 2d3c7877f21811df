/*
 * libFuzzer target: the pidfile reader (reload_read_pid), which reads
 * sendmail's pidfile before any signal is sent.  Each input is written
 * to a file mode 0600; an accepted pid must be one the reader promises
 * (above 1, at most 99999999) and must be what the file's first digits
 * say.
 */

#include <sys/types.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "reload.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[PATH_MAX], path[PATH_MAX + 16];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_dir(dir, sizeof(dir), "pid");
	snprintf(path, sizeof(path), "%s/sendmail.pid", dir);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	why[256];
	pid_t	pid = 0;
	size_t	i;
	long	v;

	fuzz_put(path, data, size, 0600);
	why[0] = '\0';
	if (reload_read_pid(path, &pid, why, sizeof(why)) == -1) {
		if (why[0] == '\0' || strlen(why) >= sizeof(why))
			abort();
		return (0);
	}
	if (pid <= 1 || pid > 99999999)
		abort();
	/* The pid is the first run of digits, after blanks only. */
	for (i = 0; i < size && (data[i] == ' ' || data[i] == '\t'); i++)
		;
	for (v = 0; i < size && data[i] >= '0' && data[i] <= '9'; i++)
		v = v * 10 + (data[i] - '0');
	if (v != (long)pid)
		abort();
	return (0);
}
