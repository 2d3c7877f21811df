/*
 * Logging: stderr when in the foreground (-d, -1, -n), syslog otherwise.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <vis.h>

#include <openssl/err.h>

#include "log.h"

static int	log_foreground = 1;
static int	log_verbose;

static void	log_vlog(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));

/*
 * foreground: 1 logs to stderr, 0 to syslog.  verbose: 0 hides debug.
 */
void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("smtlsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/*
 * Every line is made visible with strvis(3) before it is written: names
 * from outside (directory entries, process names) can neither start a
 * line of their own in the log nor send escapes to a terminal.  err
 * (an errno value, or -1 for none) is appended as strerror(3) does.
 */
static void
log_vlog(int pri, int err, const char *fmt, va_list ap)
{
	char	buf[2048], vis[4 * sizeof(buf) + 1];

	if (pri == LOG_DEBUG && log_verbose == 0)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	strvis(vis, buf, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
	if (log_foreground) {
		if (err == -1)
			fprintf(stderr, "smtlsd: %s\n", vis);
		else
			fprintf(stderr, "smtlsd: %s: %s\n", vis,
			    strerror(err));
		fflush(stderr);
	} else if (err == -1)
		syslog(pri, "%s", vis);
	else
		syslog(pri, "%s: %s", vis, strerror(err));
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, -1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, -1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, -1, fmt, ap);
	va_end(ap);
}

/*
 * Like log_warnx, with the oldest error on OpenSSL's queue appended;
 * the queue is emptied.
 */
void
log_ssl(const char *fmt, ...)
{
	char		 msg[1536], err[256];
	unsigned long	 e;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = ERR_get_error();
	if (e == 0)
		log_warnx("%s", msg);
	else {
		ERR_error_string_n(e, err, sizeof(err));
		log_warnx("%s: %s", msg, err);
	}
	ERR_clear_error();
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
