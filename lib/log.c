/*
 * Logging: stderr when in the foreground (-d, -1, -n), syslog otherwise.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/err.h>

#include "log.h"

static int	log_foreground = 1;
static int	log_verbose;

static void	log_vlog(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));

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

static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	char	buf[2048];

	if (pri == LOG_DEBUG && log_verbose == 0)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_foreground) {
		fprintf(stderr, "smtlsd: %s\n", buf);
		fflush(stderr);
	} else
		syslog(pri, "%s", buf);
}

static void
log_vwarn(int pri, const char *fmt, va_list ap)
    __attribute__((__format__(printf, 2, 0)));

static void
log_vwarn(int pri, const char *fmt, va_list ap)
{
	char	buf[2048];
	int	saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (pri == LOG_DEBUG && log_verbose == 0)
		return;
	if (log_foreground) {
		fprintf(stderr, "smtlsd: %s: %s\n", buf, strerror(saved));
		fflush(stderr);
	} else
		syslog(pri, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwarn(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
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

	va_start(ap, fmt);
	log_vwarn(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
