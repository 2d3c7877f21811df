/*
 * smtlsd.conf(5) parser.  One "keyword value" per line, '#' starts a
 * comment, a value with spaces is written in double quotes.  Every error
 * is reported as file:line: message, and a file with any error is
 * rejected as a whole.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#ifdef __linux__
#define DEF_CONF	"/etc/smtlsd.conf"
#define DEF_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define DEF_ACME_DIR	"/var/lib/dehydrated/certs"
#define DEF_RELOAD_PID	"/run/sendmail/mta/sendmail.pid"
#else
#define DEF_CONF	"/usr/local/etc/smtlsd.conf"
#define DEF_BUNDLE	"/usr/local/share/certs/ca-root-nss.crt"
#define DEF_ACME_DIR	"/usr/local/etc/dehydrated/certs"
#define DEF_RELOAD_PID	"/var/run/sendmail.pid"
#endif
#define DEF_CERT_DIR	"/etc/mail/certs"
#define DEF_SENDMAIL_CF	"/etc/mail/sendmail.cf"
#define DEF_SENDMAIL	"/usr/sbin/sendmail"
#define DEF_PIDFILE	"/var/run/smtlsd.pid"
#define DEF_STATUS	"/var/run/smtlsd.status"

const char	*conf_default_file = DEF_CONF;

struct parse {
	struct conf	*conf;
	const char	*file;
	size_t		 line;
	int		 errors;
};

static void	parse_error(struct parse *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

static void
parse_error(struct parse *p, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s:%zu: %s", p->file, p->line, buf);
	p->errors++;
}

static int
paths_add(struct conf_paths *head, const char *path)
{
	struct conf_path	*cp;

	if ((cp = calloc(1, sizeof(*cp))) == NULL ||
	    (cp->path = strdup(path)) == NULL) {
		free(cp);
		return (-1);
	}
	TAILQ_INSERT_TAIL(head, cp, entry);
	return (0);
}

static void
paths_free(struct conf_paths *head)
{
	struct conf_path	*cp;

	while ((cp = TAILQ_FIRST(head)) != NULL) {
		TAILQ_REMOVE(head, cp, entry);
		free(cp->path);
		free(cp);
	}
}

/*
 * Seconds with up to three decimals ("2", "0.25") to milliseconds.
 * Returns -1 when malformed or outside [min, max] milliseconds.
 */
static long
parse_ms(const char *s, long min, long max)
{
	long	 ms = 0, scale = 1000;
	int	 digits = 0;

	for (; isdigit((unsigned char)*s); s++, digits++) {
		if (ms > max)
			return (-1);
		ms = ms * 10 + (*s - '0') * 1000;
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, digits++) {
			scale /= 10;
			if (scale == 0)
				return (-1);
			ms += (*s - '0') * scale;
		}
	}
	if (*s != '\0' || digits == 0 || ms < min || ms > max)
		return (-1);
	return (ms);
}

static const struct {
	const char	*name;
	int		 signo;
} signals[] = {
	{ "HUP", SIGHUP }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	{ "TERM", SIGTERM }, { "INT", SIGINT }, { "none", 0 },
};

static int
parse_signal(const char *s)
{
	size_t	i;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return (signals[i].signo);
	return (-1);
}

/*
 * Splits a line into at most 3 words (the third only to detect extra
 * values).  Words are bare or "quoted" with \" and \\ escapes.  Returns
 * the number of words, or -1 after reporting an error.
 */
static int
split(struct parse *p, char *line, char **words, int max)
{
	char	*s = line, *d;
	int	 n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#' || *s == '\n')
			return (n);
		if (n == max)
			return (n + 1);
		if (*s == '"') {
			words[n++] = d = ++s;
			for (;;) {
				if (*s == '\0' || *s == '\n') {
					parse_error(p, "unterminated quote");
					return (-1);
				}
				if (*s == '"')
					break;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*d++ = *s++;
			}
			s++;
			if (*s != '\0' && *s != ' ' && *s != '\t' &&
			    *s != '\n' && *s != '#') {
				parse_error(p, "text after closing quote");
				return (-1);
			}
			*d = '\0';
			if (*s == '#')
				return (n);	/* a comment right after */
			if (*s != '\0')
				s++;
			continue;
		}
		words[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\n' &&
		    *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			return (n);
		}
		if (*s != '\0')
			*s++ = '\0';
	}
}

static int
set_path(struct parse *p, char **dst, const char *kw, const char *val)
{
	if (val[0] != '/') {
		parse_error(p, "%s: \"%s\" is not an absolute path", kw, val);
		return (-1);
	}
	free(*dst);
	if ((*dst = strdup(val)) == NULL) {
		parse_error(p, "out of memory");
		return (-1);
	}
	return (0);
}

static int
add_path(struct parse *p, struct conf_paths *head, const char *kw,
    const char *val)
{
	if (val[0] != '/') {
		parse_error(p, "%s: \"%s\" is not an absolute path", kw, val);
		return (-1);
	}
	if (paths_add(head, val) == -1) {
		parse_error(p, "out of memory");
		return (-1);
	}
	return (0);
}

/*
 * verify_smtp: "none", "ADDRESS:PORT" with an IPv4 address, or
 * "[ADDRESS]:PORT" with an IPv6 one.  An address, not a name: the probe
 * runs inside the event loop, where a name lookup would block it.
 */
static void
set_verify(struct parse *p, const char *val)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*colon, *e;
	size_t		 len;
	int		 port, ok;

	free(p->conf->verify_host);
	p->conf->verify_host = NULL;
	if (strcmp(val, "none") == 0)
		return;
	if ((colon = strrchr(val, ':')) == NULL ||
	    (len = (size_t)(colon - val)) == 0 || len >= sizeof(host))
		goto bad;
	memcpy(host, val, len);
	host[len] = '\0';
	if (host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		memmove(host, host + 1, len - 1);
		ok = inet_pton(AF_INET6, host, &a6) == 1;
	} else
		ok = inet_pton(AF_INET, host, &a4) == 1;
	if (!ok)
		goto bad;
	port = (int)strtonum(colon + 1, 1, 65535, &e);
	if (e != NULL)
		goto bad;
	if ((p->conf->verify_host = strdup(host)) == NULL) {
		parse_error(p, "out of memory");
		return;
	}
	p->conf->verify_port = port;
	return;
bad:
	parse_error(p, "verify_smtp: \"%s\" is not ADDRESS:PORT (an IPv4 "
	    "address, or an IPv6 one in brackets, and a port from 1 to "
	    "65535) or none", val);
}

static void
parse_line(struct parse *p, char *line)
{
	struct conf	*c = p->conf;
	char		*w[2], *kw, *val;
	const char	*e;
	long		 ms;
	int		 n;

	if ((n = split(p, line, w, 2)) <= 0)
		return;
	kw = w[0];
	if (n == 1) {
		parse_error(p, "%s: missing value", kw);
		return;
	}
	if (n > 2) {
		parse_error(p, "%s: too many values (quote a value with "
		    "spaces)", kw);
		return;
	}
	val = w[1];

	if (strcmp(kw, "ca_bundle") == 0)
		add_path(p, &c->ca_bundles, kw, val);
	else if (strcmp(kw, "cert_dir") == 0)
		set_path(p, &c->cert_dir, kw, val);
	else if (strcmp(kw, "pidfile") == 0)
		set_path(p, &c->pidfile, kw, val);
	else if (strcmp(kw, "status_file") == 0)
		set_path(p, &c->status_file, kw, val);
	else if (strcmp(kw, "acme_dir") == 0)
		add_path(p, &c->acme_dirs, kw, val);
	else if (strcmp(kw, "acme_cert") == 0)
		add_path(p, &c->acme_certs, kw, val);
	else if (strcmp(kw, "settle") == 0) {
		if ((ms = parse_ms(val, 0, 3600 * 1000)) == -1)
			parse_error(p, "settle: \"%s\" is not a number of "
			    "seconds from 0 to 3600", val);
		else
			c->settle_ms = ms;
	} else if (strcmp(kw, "settle_max") == 0) {
		if ((ms = parse_ms(val, 0, 86400 * 1000)) == -1)
			parse_error(p, "settle_max: \"%s\" is not a number of "
			    "seconds from 0 to 86400", val);
		else
			c->settle_max_ms = ms;
	} else if (strcmp(kw, "expiry_warn") == 0) {
		n = (int)strtonum(val, 0, 365, &e);
		if (e != NULL)
			parse_error(p, "expiry_warn: \"%s\" is %s (0 to 365 "
			    "days)", val, e);
		else
			c->expiry_warn_days = n;
	} else if (strcmp(kw, "max_domains") == 0) {
		n = (int)strtonum(val, 1, 100000, &e);
		if (e != NULL)
			parse_error(p, "max_domains: \"%s\" is %s (1 to "
			    "100000)", val, e);
		else
			c->max_domains = n;
	} else if (strcmp(kw, "watch") == 0) {
		if (strcmp(val, "auto") == 0)
			c->watch = WATCH_AUTO;
		else if (strcmp(val, "kqueue") == 0)
			c->watch = WATCH_KQUEUE;
		else if (strcmp(val, "inotify") == 0)
			c->watch = WATCH_INOTIFY;
		else if (strcmp(val, "poll") == 0)
			c->watch = WATCH_POLL;
		else
			parse_error(p, "watch: \"%s\" is not one of auto, "
			    "kqueue, inotify, poll", val);
	} else if (strcmp(kw, "poll_interval") == 0) {
		if ((ms = parse_ms(val, 100, 86400 * 1000)) == -1)
			parse_error(p, "poll_interval: \"%s\" is not a number "
			    "of seconds from 0.1 to 86400", val);
		else
			c->poll_interval_ms = ms;
	} else if (strcmp(kw, "dh_params") == 0)
		set_path(p, &c->dh_params, kw, val);
	else if (strcmp(kw, "dh_bits") == 0) {
		n = (int)strtonum(val, 1024, 8192, &e);
		if (e != NULL)
			parse_error(p, "dh_bits: \"%s\" is %s (1024 to 8192)",
			    val, e);
		else
			c->dh_bits = n;
	} else if (strcmp(kw, "dh_params_source") == 0) {
		if (strcmp(val, "generate") == 0)
			c->dh_source = DH_GENERATE;
		else if (strcmp(val, "ffdhe2048") == 0)
			c->dh_source = DH_FFDHE2048;
		else if (strcmp(val, "ffdhe3072") == 0)
			c->dh_source = DH_FFDHE3072;
		else if (strcmp(val, "ffdhe4096") == 0)
			c->dh_source = DH_FFDHE4096;
		else
			parse_error(p, "dh_params_source: \"%s\" is not one of "
			    "generate, ffdhe2048, ffdhe3072, ffdhe4096", val);
	} else if (strcmp(kw, "reload_pidfile") == 0)
		set_path(p, &c->reload_pidfile, kw, val);
	else if (strcmp(kw, "reload_process") == 0) {
		if (strchr(val, '/') != NULL || strlen(val) > 64)
			parse_error(p, "reload_process: \"%s\" is not a process "
			    "name", val);
		else {
			free(c->reload_process);
			if ((c->reload_process = strdup(val)) == NULL)
				parse_error(p, "out of memory");
		}
	} else if (strcmp(kw, "reload_signal") == 0) {
		if ((n = parse_signal(val)) == -1)
			parse_error(p, "reload_signal: \"%s\" is not one of "
			    "HUP, USR1, USR2, TERM, INT, none", val);
		else
			c->reload_signal = n;
	} else if (strcmp(kw, "reload_command") == 0) {
		free(c->reload_command);
		c->reload_command = NULL;
		if (strcmp(val, "none") != 0 &&
		    (c->reload_command = strdup(val)) == NULL)
			parse_error(p, "out of memory");
	} else if (strcmp(kw, "sendmail_cf") == 0) {
		if (strcmp(val, "none") == 0) {
			free(c->sendmail_cf);
			c->sendmail_cf = NULL;
			c->sendmail_cf_none = 1;
		} else if (set_path(p, &c->sendmail_cf, kw, val) == 0)
			c->sendmail_cf_none = 0;
	} else if (strcmp(kw, "sendmail_path") == 0)
		set_path(p, &c->sendmail_path, kw, val);
	else if (strcmp(kw, "reload_timeout") == 0) {
		if ((ms = parse_ms(val, 100, 3600 * 1000)) == -1)
			parse_error(p, "reload_timeout: \"%s\" is not a number "
			    "of seconds from 0.1 to 3600", val);
		else
			c->reload_timeout_ms = ms;
	} else if (strcmp(kw, "verify_smtp") == 0)
		set_verify(p, val);
	else
		parse_error(p, "unknown keyword \"%s\"", kw);
}

static int
dupstr(char **dst, const char *src)
{
	if (*dst != NULL)
		return (0);
	return ((*dst = strdup(src)) == NULL ? -1 : 0);
}

static int
conf_defaults(struct conf *c)
{
	char	buf[PATH_MAX];

	if (dupstr(&c->cert_dir, DEF_CERT_DIR) == -1 ||
	    dupstr(&c->pidfile, DEF_PIDFILE) == -1 ||
	    dupstr(&c->status_file, DEF_STATUS) == -1 ||
	    dupstr(&c->reload_pidfile, DEF_RELOAD_PID) == -1 ||
	    dupstr(&c->reload_process, "sendmail") == -1 ||
	    dupstr(&c->sendmail_path, DEF_SENDMAIL) == -1)
		return (-1);
	if (!c->sendmail_cf_none &&
	    dupstr(&c->sendmail_cf, DEF_SENDMAIL_CF) == -1)
		return (-1);
	if (c->dh_params == NULL) {
		if ((size_t)snprintf(buf, sizeof(buf), "%s/dh.param",
		    c->cert_dir) >= sizeof(buf))
			return (-1);
		if ((c->dh_params = strdup(buf)) == NULL)
			return (-1);
	}
	if (TAILQ_EMPTY(&c->ca_bundles) &&
	    paths_add(&c->ca_bundles, DEF_BUNDLE) == -1)
		return (-1);
	if (TAILQ_EMPTY(&c->acme_dirs) && TAILQ_EMPTY(&c->acme_certs) &&
	    paths_add(&c->acme_dirs, DEF_ACME_DIR) == -1)
		return (-1);
	return (0);
}

static struct conf *
conf_new(void)
{
	struct conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	TAILQ_INIT(&c->ca_bundles);
	TAILQ_INIT(&c->acme_dirs);
	TAILQ_INIT(&c->acme_certs);
	c->settle_ms = 2000;
	c->settle_max_ms = 30000;
	c->max_domains = 100;
	c->expiry_warn_days = 14;
	c->watch = WATCH_AUTO;
	c->poll_interval_ms = 5000;
	c->dh_bits = 2048;
	c->dh_source = DH_GENERATE;
	c->reload_signal = SIGHUP;
	c->reload_timeout_ms = 60000;
	c->verify_port = 25;
	if ((c->verify_host = strdup("127.0.0.1")) == NULL) {
		free(c);
		return (NULL);
	}
	return (c);
}

/*
 * Refuses a file that is not a regular file, is writable by group or
 * others, or is owned by someone other than root or us.
 */
static int
conf_check_file(const char *path, int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("%s: writable by group or others (mode %04o); "
		    "refusing it: run chmod go-w %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("%s: owned by uid %u, not by root; refusing it",
		    path, (unsigned)st.st_uid);
		return (-1);
	}
	return (0);
}

/*
 * Reads the configuration from path (the platform default when NULL).
 * With CONF_MISSING_OK a missing file gives the defaults.  Returns NULL
 * after logging every problem as file:line: message.
 */
struct conf *
conf_load(const char *path, int flags)
{
	struct parse	 p;
	struct conf	*c;
	FILE		*fp = NULL;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 fd;

	if (path == NULL)
		path = conf_default_file;
	if ((c = conf_new()) == NULL || (c->file = strdup(path)) == NULL) {
		log_warn("conf_load");
		conf_free(c);
		return (NULL);
	}
	memset(&p, 0, sizeof(p));
	p.conf = c;
	p.file = path;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1) {
		if (errno == ENOENT && (flags & CONF_MISSING_OK)) {
			log_debug("%s: not found, using defaults", path);
			goto defaults;
		}
		log_warn("%s", path);
		goto fail;
	}
	if (conf_check_file(path, fd) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		goto fail;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		p.line++;
		if (strlen(line) != (size_t)len) {
			parse_error(&p, "a NUL byte in the line; is this a "
			    "text file?");
			continue;
		}
		if (strlen(line) > 4096) {
			parse_error(&p, "line too long");
			continue;
		}
		parse_line(&p, line);
	}
	if (ferror(fp)) {
		log_warn("%s", path);
		p.errors++;
	}
	free(line);
	fclose(fp);
	if (p.errors > 0) {
		log_warnx("%s: %d error%s, configuration not used", path,
		    p.errors, p.errors == 1 ? "" : "s");
		goto fail;
	}
defaults:
	if (conf_defaults(c) == -1) {
		log_warnx("%s: out of memory or path too long", path);
		goto fail;
	}
	return (c);
fail:
	conf_free(c);
	return (NULL);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	paths_free(&c->ca_bundles);
	paths_free(&c->acme_dirs);
	paths_free(&c->acme_certs);
	free(c->file);
	free(c->cert_dir);
	free(c->pidfile);
	free(c->status_file);
	free(c->dh_params);
	free(c->reload_pidfile);
	free(c->reload_process);
	free(c->reload_command);
	free(c->verify_host);
	free(c->sendmail_cf);
	free(c->sendmail_path);
	free(c);
}

const char *
conf_watch_name(enum conf_watch w)
{
	switch (w) {
	case WATCH_KQUEUE:
		return ("kqueue");
	case WATCH_INOTIFY:
		return ("inotify");
	case WATCH_POLL:
		return ("poll");
	default:
		return ("auto");
	}
}

const char *
conf_dhsource_name(enum conf_dhsource s)
{
	switch (s) {
	case DH_FFDHE2048:
		return ("ffdhe2048");
	case DH_FFDHE3072:
		return ("ffdhe3072");
	case DH_FFDHE4096:
		return ("ffdhe4096");
	default:
		return ("generate");
	}
}

static const char *
signame(int signo)
{
	size_t	i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].signo == signo)
			return (signals[i].name);
	return ("?");
}

/*
 * Prints "kw value", quoting the value when the parser would otherwise
 * split it or cut it short (blanks, '#', quotes, backslashes, empty).
 */
static void
dump_value(FILE *fp, const char *kw, const char *val)
{
	const char	*s;

	if (val[0] != '\0' && strpbrk(val, " \t#\"\\") == NULL) {
		fprintf(fp, "%s %s\n", kw, val);
		return;
	}
	fprintf(fp, "%s \"", kw);
	for (s = val; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putc('\\', fp);
		putc(*s, fp);
	}
	fputs("\"\n", fp);
}

/*
 * Prints the effective configuration in the file's own syntax.
 */
void
conf_dump(const struct conf *c, FILE *fp)
{
	struct conf_path	*cp;

	TAILQ_FOREACH(cp, &c->ca_bundles, entry)
		dump_value(fp, "ca_bundle", cp->path);
	dump_value(fp, "cert_dir", c->cert_dir);
	dump_value(fp, "pidfile", c->pidfile);
	dump_value(fp, "status_file", c->status_file);
	TAILQ_FOREACH(cp, &c->acme_dirs, entry)
		dump_value(fp, "acme_dir", cp->path);
	TAILQ_FOREACH(cp, &c->acme_certs, entry)
		dump_value(fp, "acme_cert", cp->path);
	fprintf(fp, "settle %ld.%03ld\n", c->settle_ms / 1000,
	    c->settle_ms % 1000);
	fprintf(fp, "settle_max %ld.%03ld\n", c->settle_max_ms / 1000,
	    c->settle_max_ms % 1000);
	fprintf(fp, "max_domains %d\n", c->max_domains);
	fprintf(fp, "expiry_warn %d\n", c->expiry_warn_days);
	fprintf(fp, "watch %s\n", conf_watch_name(c->watch));
	fprintf(fp, "poll_interval %ld.%03ld\n", c->poll_interval_ms / 1000,
	    c->poll_interval_ms % 1000);
	dump_value(fp, "dh_params", c->dh_params);
	fprintf(fp, "dh_bits %d\n", c->dh_bits);
	fprintf(fp, "dh_params_source %s\n", conf_dhsource_name(c->dh_source));
	dump_value(fp, "reload_pidfile", c->reload_pidfile);
	dump_value(fp, "reload_process", c->reload_process);
	fprintf(fp, "reload_signal %s\n", signame(c->reload_signal));
	dump_value(fp, "reload_command",
	    c->reload_command ? c->reload_command : "none");
	fprintf(fp, "reload_timeout %ld.%03ld\n", c->reload_timeout_ms / 1000,
	    c->reload_timeout_ms % 1000);
	if (c->verify_host == NULL)
		fprintf(fp, "verify_smtp none\n");
	else if (strchr(c->verify_host, ':') != NULL)
		fprintf(fp, "verify_smtp [%s]:%d\n", c->verify_host,
		    c->verify_port);
	else
		fprintf(fp, "verify_smtp %s:%d\n", c->verify_host,
		    c->verify_port);
	dump_value(fp, "sendmail_cf",
	    c->sendmail_cf ? c->sendmail_cf : "none");
	dump_value(fp, "sendmail_path", c->sendmail_path);
}
