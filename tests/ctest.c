/*
 * Shared by the ATF C tests (ctest.h): stderr captured into ERRFILE, and
 * LeakSanitizer's defaults.
 */

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atf-c.h>

#include "ctest.h"

static int	saved_stderr = -1;

/* Sends what the library logs (stderr) to ERRFILE until uncapture(). */
void
capture(void)
{
	int	fd;

	ATF_REQUIRE((fd = open(ERRFILE, O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) != -1);
	capture_to(fd);
	close(fd);
}

/* The same to fd (a pipe, say), which the caller still closes. */
void
capture_to(int fd)
{
	fflush(stderr);
	ATF_REQUIRE((saved_stderr = dup(STDERR_FILENO)) != -1);
	ATF_REQUIRE(dup2(fd, STDERR_FILENO) != -1);
}

void
uncapture(void)
{
	fflush(stderr);
	ATF_REQUIRE(dup2(saved_stderr, STDERR_FILENO) != -1);
	close(saved_stderr);
	saved_stderr = -1;
}

/*
 * Under SANITIZE=1: what libatf-c itself leaks when it lists the test
 * cases is not ours to fix, and must not be reported on stderr either.
 * (LeakSanitizer calls these; otherwise they are unused.)
 */
const char	*__lsan_default_suppressions(void);
const char	*__lsan_default_options(void);

const char *
__lsan_default_options(void)
{
	return ("print_suppressions=0");
}

const char *
__lsan_default_suppressions(void)
{
	return ("leak:atf_tp_get_tcs\nleak:atf_list_init\n"
	    "leak:atf_list_append\nleak:atf_map_insert\n"
	    "leak:atf_map_init_charpp\n");
}
