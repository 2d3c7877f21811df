/*
 * Unit tests for the configuration parser (lib/conf.c): defaults, every
 * keyword, quoting, and every error reported as file:line: message.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atf-c.h>

#include "conf.h"
#include "ctest.h"
#include "log.h"

static void	mkconf(const char *, mode_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

/* Writes a configuration file with the given mode. */
static void
mkconf(const char *path, mode_t mode, const char *fmt, ...)
{
	va_list	 ap;
	FILE	*fp;

	ATF_REQUIRE((fp = fopen(path, "w")) != NULL);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	ATF_REQUIRE(fclose(fp) == 0);
	ATF_REQUIRE(chmod(path, mode) == 0);
}

/* Loads path, sending its messages to ERRFILE. */
static struct conf *
load(const char *path, int flags)
{
	struct conf	*c;

	log_init(1, 0);
	capture();
	c = conf_load(path, flags);
	uncapture();
	return (c);
}

/* Expects the file to be refused with a message matching re. */
static void
refused(const char *path, const char *re)
{
	struct conf	*c;

	c = load(path, 0);
	if (c != NULL) {
		conf_free(c);
		atf_tc_fail("%s was accepted; expected an error matching %s",
		    path, re);
	}
	if (!atf_utils_grep_file("%s", ERRFILE, re)) {
		atf_utils_cat_file(ERRFILE, "stderr: ");
		atf_tc_fail("no message matching %s", re);
	}
}

/* The nth path of a list, or NULL. */
static const char *
nth(struct conf_paths *head, int n)
{
	struct conf_path	*cp;

	TAILQ_FOREACH(cp, head, entry)
		if (n-- == 0)
			return (cp->path);
	return (NULL);
}

static int
count(struct conf_paths *head)
{
	struct conf_path	*cp;
	int			 n = 0;

	TAILQ_FOREACH(cp, head, entry)
		n++;
	return (n);
}

ATF_TC_WITHOUT_HEAD(defaults);
ATF_TC_BODY(defaults, tc)
{
	struct conf	*c;

	mkconf("empty.conf", 0644, "# nothing but a comment\n\n   \t\n");
	ATF_REQUIRE((c = load("empty.conf", 0)) != NULL);
	ATF_CHECK_STREQ(c->cert_dir, "/etc/mail/certs");
	ATF_CHECK_STREQ(c->dh_params, "/etc/mail/certs/dh.param");
	ATF_CHECK_STREQ(c->pidfile, "/var/run/smtlsd.pid");
	ATF_CHECK_STREQ(c->status_file, "/var/run/smtlsd.status");
	ATF_CHECK_EQ(count(&c->ca_bundles), 1);
	ATF_CHECK_EQ(count(&c->acme_dirs), 1);
	ATF_CHECK_EQ(count(&c->acme_certs), 0);
#ifdef __linux__
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 0),
	    "/etc/ssl/certs/ca-certificates.crt");
	ATF_CHECK_STREQ(nth(&c->acme_dirs, 0), "/var/lib/dehydrated/certs");
	ATF_CHECK_STREQ(c->reload_pidfile, "/run/sendmail/mta/sendmail.pid");
	ATF_CHECK_STREQ(conf_default_file, "/etc/smtlsd.conf");
#else
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 0),
	    "/usr/local/share/certs/ca-root-nss.crt");
	ATF_CHECK_STREQ(nth(&c->acme_dirs, 0),
	    "/usr/local/etc/dehydrated/certs");
	ATF_CHECK_STREQ(c->reload_pidfile, "/var/run/sendmail.pid");
	ATF_CHECK_STREQ(conf_default_file, "/usr/local/etc/smtlsd.conf");
#endif
	ATF_CHECK_EQ(c->settle_ms, 2000);
	ATF_CHECK_EQ(c->watch, WATCH_AUTO);
	ATF_CHECK_EQ(c->poll_interval_ms, 5000);
	ATF_CHECK_EQ(c->dh_bits, 2048);
	ATF_CHECK_EQ(c->dh_source, DH_GENERATE);
	ATF_CHECK_STREQ(c->reload_process, "sendmail");
	ATF_CHECK_EQ(c->reload_signal, SIGHUP);
	ATF_CHECK(c->reload_command == NULL);
	ATF_CHECK_EQ(c->reload_timeout_ms, 60000);
	ATF_CHECK_STREQ(c->verify_host, "127.0.0.1");
	ATF_CHECK_EQ(c->verify_port, 25);
	ATF_CHECK_STREQ(c->sendmail_cf, "/etc/mail/sendmail.cf");
	ATF_CHECK_STREQ(c->sendmail_path, "/usr/sbin/sendmail");
	conf_free(c);
}

ATF_TC_WITHOUT_HEAD(missing_file);
ATF_TC_BODY(missing_file, tc)
{
	struct conf	*c;

	refused("nonexistent.conf", "^smtlsd: nonexistent.conf: No such file");
	/* The default file may be missing: then defaults apply. */
	ATF_REQUIRE((c = load("nonexistent.conf", CONF_MISSING_OK)) != NULL);
	ATF_CHECK_STREQ(c->cert_dir, "/etc/mail/certs");
	conf_free(c);
}

ATF_TC_WITHOUT_HEAD(every_keyword);
ATF_TC_BODY(every_keyword, tc)
{
	struct conf	*c;

	mkconf("all.conf", 0644,
	    "ca_bundle /b/one.crt\n"
	    "cert_dir /m/certs   # trailing comment\n"
	    "\tca_bundle\t/b/two.pem\n"
	    "pidfile /r/s.pid\n"
	    "status_file /r/s.status\n"
	    "acme_dir /d/certs\n"
	    "acme_cert /d/certs/mail.example.org\n"
	    "acme_dir /e/certs\n"
	    "settle 0.3\n"
	    "watch poll\n"
	    "poll_interval 1.5\n"
	    "dh_bits 3072\n"
	    "dh_params_source ffdhe4096\n"
	    "reload_pidfile /r/sm.pid\n"
	    "reload_process sendmail-mta\n"
	    "reload_signal USR1\n"
	    "reload_command \"/usr/sbin/service sendmail reload\"\n"
	    "reload_timeout 90\n"
	    "verify_smtp 127.0.0.2:2525\n"
	    "sendmail_cf /m/test.cf\n"
	    "sendmail_path /usr/libexec/sendmail/sendmail\n"
	    "ca_bundle /b/three.crt\n");
	ATF_REQUIRE((c = load("all.conf", 0)) != NULL);
	ATF_CHECK_EQ(count(&c->ca_bundles), 3);
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 0), "/b/one.crt");
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 1), "/b/two.pem");
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 2), "/b/three.crt");
	ATF_CHECK_STREQ(c->cert_dir, "/m/certs");
	ATF_CHECK_STREQ(c->dh_params, "/m/certs/dh.param");
	ATF_CHECK_STREQ(c->pidfile, "/r/s.pid");
	ATF_CHECK_STREQ(c->status_file, "/r/s.status");
	ATF_CHECK_EQ(count(&c->acme_dirs), 2);
	ATF_CHECK_STREQ(nth(&c->acme_dirs, 1), "/e/certs");
	ATF_CHECK_EQ(count(&c->acme_certs), 1);
	ATF_CHECK_STREQ(nth(&c->acme_certs, 0), "/d/certs/mail.example.org");
	ATF_CHECK_EQ(c->settle_ms, 300);
	ATF_CHECK_EQ(c->watch, WATCH_POLL);
	ATF_CHECK_EQ(c->poll_interval_ms, 1500);
	ATF_CHECK_EQ(c->dh_bits, 3072);
	ATF_CHECK_EQ(c->dh_source, DH_FFDHE4096);
	ATF_CHECK_STREQ(c->reload_pidfile, "/r/sm.pid");
	ATF_CHECK_STREQ(c->reload_process, "sendmail-mta");
	ATF_CHECK_EQ(c->reload_signal, SIGUSR1);
	ATF_CHECK_STREQ(c->reload_command, "/usr/sbin/service sendmail reload");
	ATF_CHECK_EQ(c->reload_timeout_ms, 90000);
	ATF_CHECK_STREQ(c->verify_host, "127.0.0.2");
	ATF_CHECK_EQ(c->verify_port, 2525);
	ATF_CHECK_STREQ(c->sendmail_cf, "/m/test.cf");
	ATF_CHECK_STREQ(c->sendmail_path, "/usr/libexec/sendmail/sendmail");
	conf_free(c);

	/* verify_smtp: IPv6 in brackets, and none. */
	mkconf("v6.conf", 0644, "verify_smtp [::1]:25\n");
	ATF_REQUIRE((c = load("v6.conf", 0)) != NULL);
	ATF_CHECK_STREQ(c->verify_host, "::1");
	ATF_CHECK_EQ(c->verify_port, 25);
	conf_free(c);
	mkconf("vnone.conf", 0644, "verify_smtp none\n");
	ATF_REQUIRE((c = load("vnone.conf", 0)) != NULL);
	ATF_CHECK(c->verify_host == NULL);
	conf_free(c);

	/* sendmail_cf none: not read, not checked, whatever came before. */
	mkconf("none.conf", 0644, "sendmail_cf /m/a.cf\nsendmail_cf none\n");
	ATF_REQUIRE((c = load("none.conf", 0)) != NULL);
	ATF_CHECK(c->sendmail_cf == NULL);
	conf_free(c);

	/* Values of the enumerated keywords, and explicit dh_params. */
	mkconf("more.conf", 0600,
	    "dh_params /x/dh.pem\ncert_dir /y\nwatch inotify\n"
	    "dh_params_source generate\nreload_signal SIGterm\n"
	    "reload_command none\nacme_cert /z/dom\nsettle 0\n");
	ATF_REQUIRE((c = load("more.conf", 0)) != NULL);
	ATF_CHECK_STREQ(c->dh_params, "/x/dh.pem");
	ATF_CHECK_EQ(c->watch, WATCH_INOTIFY);
	ATF_CHECK_EQ(c->dh_source, DH_GENERATE);
	ATF_CHECK_EQ(c->reload_signal, SIGTERM);
	ATF_CHECK(c->reload_command == NULL);
	ATF_CHECK_EQ(c->settle_ms, 0);
	/* acme_cert alone: no default acme_dir. */
	ATF_CHECK_EQ(count(&c->acme_dirs), 0);
	ATF_CHECK_EQ(count(&c->acme_certs), 1);
	conf_free(c);

	mkconf("none.conf", 0644,
	    "reload_signal none\nwatch kqueue\ndh_params_source ffdhe2048\n"
	    "dh_bits 1024\n");
	ATF_REQUIRE((c = load("none.conf", 0)) != NULL);
	ATF_CHECK_EQ(c->reload_signal, 0);
	ATF_CHECK_EQ(c->watch, WATCH_KQUEUE);
	ATF_CHECK_EQ(c->dh_source, DH_FFDHE2048);
	ATF_CHECK_EQ(c->dh_bits, 1024);
	conf_free(c);
}

ATF_TC_WITHOUT_HEAD(quoting);
ATF_TC_BODY(quoting, tc)
{
	struct conf	*c;

	mkconf("q.conf", 0644,
	    "cert_dir \"/etc/mail/my certs\"\n"
	    "ca_bundle \"/b/a#b.crt\"   # a comment after a quoted value\n"
	    "ca_bundle \"/b/q\\\"uote\\\\d\"\n"
	    "ca_bundle \"/b/plain\"\n"
	    "ca_bundle \"/b/tight\"# comment right after the quote\n"
	    "reload_command \"/bin/sh -c 'kill -HUP $(cat /p)' # kept\"\n"
	    "  # an indented comment\n"
	    "dh_params /x/dh#comment\n");
	c = load("q.conf", 0);
	if (c == NULL) {
		atf_utils_cat_file(ERRFILE, "stderr: ");
		atf_tc_fail("q.conf refused");
	}
	ATF_CHECK_STREQ(c->cert_dir, "/etc/mail/my certs");
	ATF_CHECK_STREQ(c->dh_params, "/x/dh");
	ATF_CHECK_EQ(count(&c->ca_bundles), 4);
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 0), "/b/a#b.crt");
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 1), "/b/q\"uote\\d");
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 2), "/b/plain");
	ATF_CHECK_STREQ(nth(&c->ca_bundles, 3), "/b/tight");
	ATF_CHECK_STREQ(c->reload_command,
	    "/bin/sh -c 'kill -HUP $(cat /p)' # kept");
	conf_free(c);
}

ATF_TC_WITHOUT_HEAD(no_newline_at_end);
ATF_TC_BODY(no_newline_at_end, tc)
{
	struct conf	*c;

	mkconf("nl.conf", 0644, "cert_dir /last/line");
	ATF_REQUIRE((c = load("nl.conf", 0)) != NULL);
	ATF_CHECK_STREQ(c->cert_dir, "/last/line");
	conf_free(c);
}

/*
 * One bad line among good ones: refused, with file:line: and a message.
 */
static void
bad_line(const char *line, const char *re)
{
	char	pat[512];

	mkconf("bad.conf", 0644, "# line 1\ncert_dir /ok\n%s\nsettle 1\n",
	    line);
	snprintf(pat, sizeof(pat), "^smtlsd: bad\\.conf:3: %s", re);
	refused("bad.conf", pat);
	/* The file as a whole is refused, said once at the end. */
	ATF_CHECK(atf_utils_grep_file("bad\\.conf: 1 error, configuration "
	    "not used", ERRFILE));
}

ATF_TC_WITHOUT_HEAD(errors);
ATF_TC_BODY(errors, tc)
{
	bad_line("ca_bundel /x", "unknown keyword \"ca_bundel\"");
	bad_line("Cert_dir /x", "unknown keyword");
	bad_line("cert_dir", "cert_dir: missing value");
	bad_line("cert_dir /a /b", "cert_dir: too many values");
	bad_line("cert_dir /a b", "cert_dir: too many values");
	/* Every path keyword wants an absolute path. */
	bad_line("cert_dir etc/mail/certs",
	    "cert_dir: \"etc/mail/certs\" is not an absolute path");
	bad_line("ca_bundle ca.crt",
	    "ca_bundle: \"ca.crt\" is not an absolute path");
	bad_line("acme_dir ./certs",
	    "acme_dir: \"./certs\" is not an absolute path");
	bad_line("acme_cert certs/x",
	    "acme_cert: \"certs/x\" is not an absolute path");
	bad_line("pidfile smtlsd.pid",
	    "pidfile: \"smtlsd.pid\" is not an absolute path");
	bad_line("status_file s",
	    "status_file: \"s\" is not an absolute path");
	bad_line("dh_params dh.param",
	    "dh_params: \"dh.param\" is not an absolute path");
	bad_line("reload_pidfile x.pid",
	    "reload_pidfile: \"x.pid\" is not an absolute path");
	bad_line("settle -1", "settle: \"-1\"");
	bad_line("settle abc", "settle: ");
	bad_line("settle 3601", "settle: ");
	bad_line("settle 1.2345", "settle: ");
	bad_line("settle 2s", "settle: ");
	bad_line("settle .", "settle: ");
	bad_line("settle 99999999999999999999", "settle: ");
	bad_line("watch fanotify", "watch: \"fanotify\" is not one of");
	bad_line("poll_interval 0.05", "poll_interval: ");
	bad_line("poll_interval 0", "poll_interval: ");
	bad_line("poll_interval 86401", "poll_interval: ");
	bad_line("dh_bits 512", "dh_bits: \"512\" is too small");
	bad_line("dh_bits 16384", "dh_bits: \"16384\" is too large");
	bad_line("dh_bits 2048.5", "dh_bits: ");
	bad_line("dh_bits two", "dh_bits: ");
	bad_line("dh_params_source ffdhe8192", "dh_params_source: ");
	bad_line("reload_process /usr/sbin/sendmail", "reload_process: ");
	bad_line("reload_signal KILL", "reload_signal: \"KILL\" is not one");
	bad_line("reload_signal 9", "reload_signal: ");
	bad_line("reload_timeout 0", "reload_timeout: ");
	bad_line("reload_timeout 3601", "reload_timeout: ");
	bad_line("verify_smtp localhost:25",
	    "verify_smtp: \"localhost:25\" is not ADDRESS:PORT");
	bad_line("verify_smtp 127.0.0.1", "verify_smtp: ");
	bad_line("verify_smtp 127.0.0.1:0", "verify_smtp: ");
	bad_line("verify_smtp 127.0.0.1:65536", "verify_smtp: ");
	bad_line("verify_smtp 127.0.0.1:", "verify_smtp: ");
	bad_line("verify_smtp ::1:25", "verify_smtp: ");
	bad_line("verify_smtp [127.0.0.1]:25", "verify_smtp: ");
	bad_line("verify_smtp :25", "verify_smtp: ");
	bad_line("sendmail_cf sendmail.cf",
	    "sendmail_cf: \"sendmail.cf\" is not an absolute path");
	bad_line("sendmail_path sendmail",
	    "sendmail_path: \"sendmail\" is not an absolute path");
	bad_line("cert_dir \"/unterminated", "unterminated quote");
	bad_line("cert_dir \"/a\"b", "text after closing quote");
}

ATF_TC_WITHOUT_HEAD(every_error_reported);
ATF_TC_BODY(every_error_reported, tc)
{
	mkconf("many.conf", 0644,
	    "bogus 1\n"
	    "cert_dir /good\n"
	    "settle x\n"
	    "\n"
	    "dh_bits 1\n");
	refused("many.conf", "^smtlsd: many\\.conf:1: unknown keyword");
	ATF_CHECK(atf_utils_grep_file("^smtlsd: many\\.conf:3: settle",
	    ERRFILE));
	ATF_CHECK(atf_utils_grep_file("^smtlsd: many\\.conf:5: dh_bits",
	    ERRFILE));
	ATF_CHECK(atf_utils_grep_file("many\\.conf: 3 errors", ERRFILE));
}

ATF_TC_WITHOUT_HEAD(long_line);
ATF_TC_BODY(long_line, tc)
{
	char	*big;

	ATF_REQUIRE((big = malloc(1024 * 1024 + 1)) != NULL);
	memset(big, 'x', 1024 * 1024);
	big[0] = '/';
	big[1024 * 1024] = '\0';
	mkconf("long.conf", 0644, "cert_dir /a\ncert_dir %s\n", big);
	free(big);
	refused("long.conf", "^smtlsd: long\\.conf:2: line too long");
}

ATF_TC_WITHOUT_HEAD(writable_refused);
ATF_TC_BODY(writable_refused, tc)
{
	struct conf	*c;

	mkconf("g.conf", 0664, "cert_dir /x\n");
	refused("g.conf", "^smtlsd: g\\.conf: writable by group or others "
	    "\\(mode 0664\\)");
	mkconf("o.conf", 0646, "cert_dir /x\n");
	refused("o.conf", "o\\.conf: writable by group or others");
	mkconf("w.conf", 0666, "cert_dir /x\n");
	refused("w.conf", "w\\.conf: writable by group or others");
	mkconf("p.conf", 0600, "cert_dir /x\n");
	ATF_REQUIRE((c = load("p.conf", 0)) != NULL);
	conf_free(c);
	mkconf("r.conf", 0444, "cert_dir /x\n");
	ATF_REQUIRE((c = load("r.conf", 0)) != NULL);
	conf_free(c);
}

ATF_TC_WITHOUT_HEAD(not_a_file);
ATF_TC_BODY(not_a_file, tc)
{
	ATF_REQUIRE(mkdir("dir.conf", 0755) == 0);
	refused("dir.conf", "^smtlsd: dir\\.conf: not a regular file");
	refused("/dev/null", "^smtlsd: /dev/null: not a regular file");
}

ATF_TC_WITHOUT_HEAD(foreign_owner);
ATF_TC_BODY(foreign_owner, tc)
{
	if (geteuid() != 0)
		atf_tc_skip("needs root to give the file to another user");
	mkconf("u.conf", 0644, "cert_dir /x\n");
	ATF_REQUIRE(chown("u.conf", 4242, 4242) == 0);
	refused("u.conf", "u\\.conf: owned by uid 4242");
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, defaults);
	ATF_TP_ADD_TC(tp, missing_file);
	ATF_TP_ADD_TC(tp, every_keyword);
	ATF_TP_ADD_TC(tp, quoting);
	ATF_TP_ADD_TC(tp, no_newline_at_end);
	ATF_TP_ADD_TC(tp, errors);
	ATF_TP_ADD_TC(tp, every_error_reported);
	ATF_TP_ADD_TC(tp, long_line);
	ATF_TP_ADD_TC(tp, writable_refused);
	ATF_TP_ADD_TC(tp, not_a_file);
	ATF_TP_ADD_TC(tp, foreign_owner);
	return (atf_no_error());
}
