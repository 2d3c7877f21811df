/*
 * Captures stderr into ERRFILE for the ATF C tests (capture.h).
 */

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atf-c.h>

#include "capture.h"

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
