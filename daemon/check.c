/*
 * smtlsd -C: the seed page ("sendmail/STARTTLS best practice") as a
 * checklist.  It reads sendmail.cf (sendmail_cf), smtlsd's own
 * configuration and the sendmail binary's compile options
 * (sendmail_path), and prints one line per check:
 *
 *	ok   NAME: what was found
 *	warn NAME: what is not as the page asks, what still works
 *	FAIL NAME: what is wrong, and what to do
 *
 * The checks, in order (smtlsd.8, CHECKS, says the same for users):
 *
 *  sendmail.cf		readable, a regular file no one but root can write
 *  CACertPath		is smtlsd's cert_dir
 *  DHParameters	is smtlsd's dh_params
 *  ServerCertFile	fullchain.pem or cert.pem of a set smtlsd watches
 *  ServerKeyFile	privkey.pem of the same set
 *  safefile		sendmail accepts those files and CACertFile
 *			(lib/safefile.c: the rules a reload is held for)
 *  protocols		ServerSSLOptions has SSL_OP_NO_SSLv3, SSL_OP_NO_TLSv1
 *  cipher order	CipherList puts ECDHE first; the server's order wins
 *  sendmail_cert_create  (FreeBSD) "NO" in rc.conf
 *  leftovers		no host.cert, host.key, cacert.pem in cert_dir
 *  STARTTLS		compiled into sendmail
 *  chain file		_FFR_TLS_USE_CERTIFICATE_CHAIN_FILE compiled in
 *  ECDHE		TLS_EC (_FFR_TLS_EC before 8.16) compiled in
 *
 * Exit 0 when nothing FAILs, 1 otherwise.  Nothing is changed.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include "check.h"
#include "conf.h"
#include "pass.h"
#include "safefile.h"
#include "sendmailcf.h"
#include "verify.h"

#define RUN_MS		10000		/* sendmail -d0.10 -bt, at most */
#define RUN_OUT		(64 * 1024)	/* of its output, read at most */
#define RC_SENDMAIL	"/etc/rc.d/sendmail"	/* FreeBSD's */

enum level { OK, WARN, FAIL };

struct check {
	const struct conf	*conf;
	struct sendmailcf	 cf;
	int			 have_cf;
	int			 failed;
};

static void
say(struct check *c, enum level l, const char *name, const char *fmt, ...)
    __attribute__((__format__(printf, 4, 5)));

static void
say(struct check *c, enum level l, const char *name, const char *fmt, ...)
{
	static const char *const words[] = { "ok", "warn", "FAIL" };
	va_list	 ap;
	char	 msg[1024], vis[4 * sizeof(msg) + 1];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Names from files: no escape reaches the terminal. */
	strvis(vis, msg, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
	printf("%-4s %s: %s\n", words[l], name, vis);
	if (l == FAIL)
		c->failed = 1;
}

/* Whether a and b name the same file (or, if either is missing, text). */
static int
same_path(const char *a, const char *b)
{
	char	ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) != NULL && realpath(b, rb) != NULL)
		return (strcmp(ra, rb) == 0);
	return (strcmp(a, b) == 0);
}

/* The directory of path, in buf. */
static const char *
dir_of(const char *path, char *buf, size_t len)
{
	char	copy[PATH_MAX];

	strlcpy(copy, path, sizeof(copy));
	strlcpy(buf, dirname(copy), len);
	return (buf);
}

/* Whether dir is a domain directory of the configuration. */
static int
watched_dir(const struct conf *conf, const char *dir)
{
	struct conf_path	*cp;
	char			 parent[PATH_MAX];

	TAILQ_FOREACH(cp, &conf->acme_certs, entry)
		if (same_path(cp->path, dir))
			return (1);
	dir_of(dir, parent, sizeof(parent));
	TAILQ_FOREACH(cp, &conf->acme_dirs, entry)
		if (same_path(cp->path, parent))
			return (1);
	return (0);
}

static const char *
opt(struct check *c, enum sendmailcf_opt o)
{
	return (c->have_cf ? c->cf.opt[o] : NULL);
}

static void
check_cf(struct check *c)
{
	const char	*path = c->conf->sendmail_cf;
	char		 err[512];

	if (path == NULL) {
		say(c, WARN, "sendmail.cf", "sendmail_cf none: sendmail's "
		    "configuration is not checked, nor its files before a "
		    "reload");
		return;
	}
	switch (sendmailcf_read(path, &c->cf, err, sizeof(err))) {
	case SMCF_OK:
		c->have_cf = 1;
		say(c, OK, "sendmail.cf", "%s", path);
		if (c->cf.opt[SMCF_RUNASUSER] != NULL)
			say(c, WARN, "sendmail.cf", "RunAsUser=%s: sendmail "
			    "checks its files as that user, smtlsd as root",
			    c->cf.opt[SMCF_RUNASUSER]);
		return;
	case SMCF_MISSING:
		say(c, FAIL, "sendmail.cf", "%s: no such file; build it "
		    "from sendmail.mc, or set sendmail_cf to the one sendmail "
		    "runs with", path);
		break;
	case SMCF_BAD:
		say(c, FAIL, "sendmail.cf", "%s", err);
		break;
	}
	sendmailcf_free(&c->cf);
}

static void
check_paths(struct check *c)
{
	const struct conf	*conf = c->conf;
	const char		*v;

	if ((v = opt(c, SMCF_CACERTPATH)) == NULL)
		say(c, FAIL, "CACertPath", "not set: sendmail does not use "
		    "the CAs smtlsd keeps; define(`confCACERT_PATH', `%s')",
		    conf->cert_dir);
	else if (!same_path(v, conf->cert_dir))
		say(c, FAIL, "CACertPath", "%s, not smtlsd's cert_dir %s; "
		    "define(`confCACERT_PATH', `%s'), or set cert_dir %s", v,
		    conf->cert_dir, conf->cert_dir, v);
	else
		say(c, OK, "CACertPath", "%s is smtlsd's cert_dir", v);

	if ((v = opt(c, SMCF_DHPARAMS)) == NULL)
		say(c, WARN, "DHParameters", "not set: sendmail uses its "
		    "built-in group, not smtlsd's %s; "
		    "define(`confDH_PARAMETERS', `%s')", conf->dh_params,
		    conf->dh_params);
	else if (!same_path(v, conf->dh_params))
		say(c, FAIL, "DHParameters", "%s, not smtlsd's dh_params %s; "
		    "define(`confDH_PARAMETERS', `%s'), or set dh_params %s",
		    v, conf->dh_params, conf->dh_params, v);
	else
		say(c, OK, "DHParameters", "%s is smtlsd's dh_params", v);
}

static void
check_set(struct check *c)
{
	const char	*cert, *key;
	char		 cdir[PATH_MAX], kdir[PATH_MAX], copy[PATH_MAX];
	const char	*base;

	cert = opt(c, SMCF_SERVERCERT);
	key = opt(c, SMCF_SERVERKEY);
	if (cert == NULL) {
		say(c, FAIL, "ServerCertFile", "not set: sendmail offers no "
		    "STARTTLS; define(`confSERVER_CERT', "
		    "`.../certs/DOMAIN/fullchain.pem')");
	} else {
		dir_of(cert, cdir, sizeof(cdir));
		strlcpy(copy, cert, sizeof(copy));
		base = basename(copy);
		if (!watched_dir(c->conf, cdir))
			say(c, FAIL, "ServerCertFile", "%s is not in a "
			    "domain directory smtlsd watches: renewals there "
			    "do not make sendmail reload; add acme_cert %s",
			    cert, cdir);
		else if (strcmp(base, "fullchain.pem") != 0 &&
		    strcmp(base, "cert.pem") != 0)
			say(c, FAIL, "ServerCertFile", "%s: use fullchain.pem "
			    "or cert.pem of %s, the names dehydrated keeps "
			    "current", cert, cdir);
		else if (key != NULL && watched_dir(c->conf,
		    dir_of(key, kdir, sizeof(kdir))) && !same_path(cdir, kdir))
			say(c, FAIL, "ServerCertFile", "%s is not of the set "
			    "of ServerKeyFile %s: key and certificate must be "
			    "of one renewal", cert, key);
		else
			say(c, OK, "ServerCertFile", "%s, a set smtlsd "
			    "watches", cert);
	}
	if (key == NULL) {
		say(c, FAIL, "ServerKeyFile", "not set: sendmail offers no "
		    "STARTTLS; define(`confSERVER_KEY', "
		    "`.../certs/DOMAIN/privkey.pem')");
		return;
	}
	dir_of(key, kdir, sizeof(kdir));
	strlcpy(copy, key, sizeof(copy));
	base = basename(copy);
	if (strcmp(base, "privkey.pem") != 0)
		say(c, FAIL, "ServerKeyFile", "%s: use privkey.pem of the set "
		    "of ServerCertFile, the name dehydrated keeps current",
		    key);
	else if (!watched_dir(c->conf, kdir))
		say(c, FAIL, "ServerKeyFile", "%s is not in a domain "
		    "directory smtlsd watches; add acme_cert %s", key, kdir);
	else
		say(c, OK, "ServerKeyFile", "%s, a set smtlsd watches", key);
}

/* One list ("a,b") of sendmail's files; returns -1 when one failed. */
static int
safe_list(struct check *c, const char *list, enum safefile_kind kind,
    const struct safefile_rules *r, enum level l)
{
	char	*copy, *p, *f, why[512];
	int	 rv = 0;

	if (list == NULL || (copy = strdup(list)) == NULL)
		return (0);
	p = copy;
	while ((f = strsep(&p, ",")) != NULL)
		if (*f != '\0' && safefile_check(f, kind, r, why,
		    sizeof(why)) == -1) {
			say(c, l, "safefile", "%s", why);
			rv = -1;
		}
	free(copy);
	return (rv);
}

static void
check_safe(struct check *c)
{
	struct safefile_rules	 r;
	char			 err[256];
	int			 bad = 0;

	if (!c->have_cf)
		return;
	safefile_rules_init(&r);
	safefile_dontblame(&r, opt(c, SMCF_DONTBLAME), err, sizeof(err));
	if (safefile_trusted(&r, opt(c, SMCF_TRUSTEDUSER), err,
	    sizeof(err)) == -1) {
		say(c, FAIL, "safefile", "%s", err);
		return;
	}
	bad |= safe_list(c, opt(c, SMCF_SERVERCERT), SAFEFILE_CERT, &r,
	    FAIL);
	bad |= safe_list(c, opt(c, SMCF_SERVERKEY), SAFEFILE_KEY, &r, FAIL);
	bad |= safe_list(c, opt(c, SMCF_CACERTFILE), SAFEFILE_CERT, &r,
	    FAIL);
	if (opt(c, SMCF_DHPARAMS) != NULL &&
	    opt(c, SMCF_DHPARAMS)[0] == '/' &&
	    safe_list(c, opt(c, SMCF_DHPARAMS), SAFEFILE_CERT, &r,
	    WARN) == -1)
		say(c, WARN, "safefile", "sendmail uses its built-in DH "
		    "group instead of DHParameters");
	if (bad == 0)
		say(c, OK, "safefile", "sendmail accepts ServerCertFile, "
		    "ServerKeyFile and CACertFile%s%s",
		    r.group_readable_key ? " (GroupReadableKeyFile)" : "",
		    r.group_writable_dirs ? " (GroupWritableDirPathSafe)" :
		    "");
}

/* Whether the option list ("+A,B -C") sets word, not cleared by "-". */
static int
has_option(const char *list, const char *word)
{
	char	*copy, *p, *w;
	int	 found = 0;

	if (list == NULL || (copy = strdup(list)) == NULL)
		return (0);
	p = copy;
	while ((w = strsep(&p, ", \t")) != NULL) {
		if (*w == '+')
			w++;
		if (strcasecmp(w, word) == 0)
			found = 1;
		else if (*w == '-' && strcasecmp(w + 1, word) == 0)
			found = 0;
	}
	free(copy);
	return (found);
}

static void
check_tls(struct check *c)
{
	const char	*ssl, *ciphers;
	char		 first[128];
	size_t		 n;
	int		 no3, no1;

	ssl = opt(c, SMCF_SSLOPTIONS);
	ciphers = opt(c, SMCF_CIPHERLIST);
	if (!c->have_cf)
		return;
	no3 = has_option(ssl, "SSL_OP_NO_SSLv3");
	no1 = has_option(ssl, "SSL_OP_NO_TLSv1");
	if (no3 && no1)
		say(c, OK, "protocols", "SSLv3 and TLSv1 off (%s)", ssl);
	else
		say(c, FAIL, "protocols", "%s%s%s still allowed; "
		    "define(`confSERVER_SSL_OPTIONS', `SSL_OP_NO_SSLv3,"
		    "SSL_OP_NO_TLSv1,SSL_OP_CIPHER_SERVER_PREFERENCE')",
		    no3 ? "" : "SSLv3", !no3 && !no1 ? " and " : "",
		    no1 ? "" : "TLSv1");

	if (ciphers == NULL)
		say(c, OK, "cipher order", "CipherList not set: OpenSSL's "
		    "default order, ECDHE first");
	else {
		n = strcspn(ciphers, ": ,");
		if (n >= sizeof(first))
			n = sizeof(first) - 1;
		memcpy(first, ciphers, n);
		first[n] = '\0';
		if (strncmp(first, "ECDHE", 5) == 0 ||
		    strncmp(first, "EECDH", 5) == 0 ||
		    strcmp(first, "kEECDH") == 0)
			say(c, OK, "cipher order", "CipherList starts with "
			    "%s", first);
		else
			say(c, FAIL, "cipher order", "CipherList starts with "
			    "%s, not ECDHE; put the ECDHE ciphers first, as "
			    "ECDHE-RSA-AES128-GCM-SHA256:...", first);
	}
	if (!has_option(ssl, "SSL_OP_CIPHER_SERVER_PREFERENCE"))
		say(c, WARN, "cipher order", "no SSL_OP_CIPHER_SERVER_"
		    "PREFERENCE in ServerSSLOptions: the client's order "
		    "wins over CipherList's");
}

/*
 * FreeBSD's rc.d/sendmail makes host.cert, host.key and cacert.pem (and
 * a <hash>.0 link to cacert.pem) in /etc/mail/certs unless
 * sendmail_cert_create is "NO" (its default in /etc/defaults/rc.conf is
 * "YES").  The last setting in rc.conf and rc.conf.local wins.
 */
static void
check_rcconf(struct check *c)
{
	static const char *const files[] = { "/etc/rc.conf",
	    "/etc/rc.conf.local" };
	FILE		*fp;
	char		 line[1024], val[64], *p, *q;
	size_t		 i;

	if (access(RC_SENDMAIL, F_OK) == -1)
		return;		/* not FreeBSD */
	strlcpy(val, "YES (the default)", sizeof(val));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((fp = fopen(files[i], "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			if (strncmp(p, "sendmail_cert_create=", 21) != 0)
				continue;
			p += 21;
			p += strspn(p, "\"'");
			q = p + strcspn(p, "\"' \t\n#");
			*q = '\0';
			strlcpy(val, p, sizeof(val));
		}
		fclose(fp);
	}
	if (strcasecmp(val, "NO") == 0)
		say(c, OK, "sendmail_cert_create", "NO in rc.conf");
	else
		say(c, FAIL, "sendmail_cert_create", "%s: rc.d/sendmail makes "
		    "a self-signed host.cert and cacert.pem in /etc/mail/certs; "
		    "sysrc sendmail_cert_create=NO", val);
}

static void
check_leftovers(struct check *c)
{
	static const char *const names[] = { "host.cert", "host.key",
	    "cacert.pem" };
	const char	*dir = c->conf->cert_dir;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[PATH_MAX], target[PATH_MAX], found[512];
	size_t		 i;
	ssize_t		 n;
	int		 any = 0;

	found[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lstat(path, &st) == 0) {
			strlcat(found, found[0] ? " " : "", sizeof(found));
			strlcat(found, path, sizeof(found));
		}
	}
	/* A <hash>.N link to cacert.pem makes sendmail trust that CA. */
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 ||
			    !S_ISLNK(st.st_mode) ||
			    (n = readlinkat(dirfd(d), de->d_name, target,
			    sizeof(target) - 1)) == -1)
				continue;
			target[n] = '\0';
			if (strcmp(target, "cacert.pem") != 0 &&
			    strcmp(basename(target), "cacert.pem") != 0)
				continue;
			say(c, FAIL, "leftovers", "%s/%s links to cacert.pem, "
			    "so sendmail trusts that self-made CA; rm %s/%s",
			    dir, de->d_name, dir, de->d_name);
			any = 1;
		}
		closedir(d);
	}
	if (found[0] != '\0')
		say(c, WARN, "leftovers", "%s: made by sendmail_cert_create; "
		    "rm -f them unless sendmail.cf names them", found);
	else if (!any)
		say(c, OK, "leftovers", "no host.cert, host.key or cacert.pem "
		    "in %s", dir);
}

/*
 * Runs "sendmail -d0.10 -bt": debug level 0.1 prints "Compiled with:",
 * 0.10 adds "OS Defines" and "FFR Defines", where the _FFR_ options are.
 * The file run is real, the one checked; argv[0] stays path, since
 * FreeBSD's /usr/sbin/sendmail is a link to mailwrapper(8), which picks
 * the program by that name.  No terminal (a session
 * of its own), stdin /dev/null, a small environment, at most RUN_MS and
 * RUN_OUT bytes; what it printed by then is used (with an unqualified
 * host name sendmail sleeps a minute after printing them).  Returns the
 * output's length, or -1 with err filled in.
 */
static ssize_t
run_sendmail(const char *path, const char *real, char *out, size_t outlen,
    char *err, size_t errlen)
{
	char *const	 argv[] = { (char *)(uintptr_t)path, "-d0.10", "-bt",
			    NULL };
	char *const	 envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			    NULL };
	struct timespec	 t0, t;
	struct pollfd	 pfd;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;
	long		 left;
	int		 p[2], fd, status;
	char		 sink[4096];

	if (pipe(p) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return (-1);
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
		setsid();
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, STDIN_FILENO) == -1 ||
		    dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(p[1], STDERR_FILENO) == -1)
			_exit(127);
		closefrom(STDERR_FILENO + 1);
		signal(SIGPIPE, SIG_DFL);
		execve(real, argv, envp);
		_exit(127);
	}
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = RUN_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (len + 1 < outlen)
			n = read(p[0], out + len, outlen - 1 - len);
		else
			n = read(p[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (len + 1 < outlen)
			len += (size_t)n;
	}
	out[len] = '\0';
	close(p[0]);
	/* Its own process group, made by setsid() above. */
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return ((ssize_t)len);
}

/* Whether text holds word as a whole white-space separated word. */
static int
has_word(const char *text, const char *word)
{
	size_t		 n;
	const char	*p;

	n = strlen(word);
	for (p = text; (p = strstr(p, word)) != NULL; p += n)
		if ((p == text || p[-1] == ' ' || p[-1] == '\t' ||
		    p[-1] == '\n') && (p[n] == '\0' || p[n] == ' ' ||
		    p[n] == '\t' || p[n] == '\n' || p[n] == '='))
			return (1);
	return (0);
}

static void
check_binary(struct check *c)
{
	const char	*path = c->conf->sendmail_path;
	struct stat	 st;
	char		 real[PATH_MAX], err[256], *out;
	ssize_t		 n;

	if (realpath(path, real) == NULL || stat(real, &st) == -1) {
		say(c, FAIL, "STARTTLS", "%s: %s; set sendmail_path", path,
		    strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		say(c, FAIL, "STARTTLS", "%s (%s): not a regular file owned "
		    "by root that only root can write; not running it", path,
		    real);
		return;
	}
	if ((out = malloc(RUN_OUT)) == NULL) {
		say(c, FAIL, "STARTTLS", "out of memory");
		return;
	}
	if ((n = run_sendmail(path, real, out, RUN_OUT, err,
	    sizeof(err))) == -1) {
		say(c, FAIL, "STARTTLS", "%s: %s", path, err);
		free(out);
		return;
	}
	if (!has_word(out, "Compiled") && !has_word(out, "Version")) {
		say(c, FAIL, "STARTTLS", "%s -d0.10 -bt printed no compile "
		    "options in %d s; is it sendmail?", path, RUN_MS / 1000);
		free(out);
		return;
	}
	if (has_word(out, "STARTTLS"))
		say(c, OK, "STARTTLS", "%s was built with STARTTLS", path);
	else
		say(c, FAIL, "STARTTLS", "%s was built without STARTTLS: it "
		    "cannot offer TLS at all; rebuild it with -DSTARTTLS", path);
	if (has_word(out, "_FFR_TLS_USE_CERTIFICATE_CHAIN_FILE"))
		say(c, OK, "chain file", "_FFR_TLS_USE_CERTIFICATE_CHAIN_FILE: "
		    "sendmail sends the whole ServerCertFile");
	else
		say(c, WARN, "chain file", "no _FFR_TLS_USE_CERTIFICATE_"
		    "CHAIN_FILE: sendmail sends only the first certificate of "
		    "ServerCertFile; clients still get the chain, since smtlsd "
		    "puts the intermediates into CACertPath");
	if (has_word(out, "TLS_EC") || has_word(out, "_FFR_TLS_EC"))
		say(c, OK, "ECDHE", "built with %s",
		    has_word(out, "TLS_EC") ? "TLS_EC" : "_FFR_TLS_EC");
	else
		say(c, WARN, "ECDHE", "no TLS_EC or _FFR_TLS_EC: sendmail "
		    "sets no curve itself; with OpenSSL 1.1 or later ECDHE "
		    "still works (OpenSSL chooses the curves), with older "
		    "ones only DHE is offered");
	free(out);
}

/*
 * The live probe (verify.c): what sendmail serves on verify_smtp now,
 * against the good sets a dry pass finds, which changes nothing and
 * prints nothing.  No line with verify_smtp none.
 */
static void
check_probe(struct check *c)
{
	struct pass_state	ps;
	struct pass_result	r;
	struct verify_result	vr;

	if (c->conf->verify_host == NULL)
		return;
	if (pass_state_init(&ps) == -1) {
		say(c, FAIL, "live probe", "out of memory");
		return;
	}
	memset(&r, 0, sizeof(r));
	pass_run(c->conf, &ps, PASS_DRYRUN | PASS_QUIET, &r);
	pass_state_free(&ps);
	if (r.nserve == 0) {
		say(c, WARN, "live probe", "no good certificate set to "
		    "compare what sendmail serves with");
		return;
	}
	fflush(stdout);		/* the lines before, before a wait */
	if (verify_once(c->conf, r.serve, r.nserve, &vr) == 0)
		say(c, OK, "live probe", "%s", vr.msg);
	else
		say(c, FAIL, "live probe", "%s", vr.msg);
}

/*
 * Runs every check, prints one line each.  Returns the exit status: 0
 * when nothing FAILed, 1 otherwise.
 */
int
check_main(const struct conf *conf)
{
	struct check	c;

	memset(&c, 0, sizeof(c));
	c.conf = conf;
	check_cf(&c);
	if (c.have_cf) {
		check_paths(&c);
		check_set(&c);
		check_safe(&c);
		check_tls(&c);
	}
	check_rcconf(&c);
	check_leftovers(&c);
	check_binary(&c);
	check_probe(&c);
	if (c.have_cf)
		sendmailcf_free(&c.cf);
	fflush(stdout);
	return (c.failed ? 1 : 0);
}
