/*
 * sendmail's safefile rules for its STARTTLS server files, so that
 * smtlsd never makes sendmail reload into files it will refuse: sendmail
 * then keeps running, but without STARTTLS, and says so only in its log.
 *
 * Where the rules come from (sendmail 8.15 to 8.18; read in its sources):
 *
 *  - tls.c, inittls(): the server certificate (ServerCertFile), the key
 *    (ServerKeyFile) and CACertFile are checked by safefile() with
 *    SFF_REGONLY | SFF_SAFEDIRPATH | SFF_NOWLINK | SFF_NOGWFILES |
 *    SFF_NOWWFILES | SFF_MUSTOWN | SFF_ROOTOK | SFF_OPENASROOT, the key
 *    also with SFF_NORFILES (no group or other read) or, when
 *    DontBlameSendmail has GroupReadableKeyFile, SFF_NOWRFILES only (the
 *    TLS_KEYSFF macro with the TLS_I_KEY_UNR and TLS_I_KEY_OUNR bits that
 *    TLS_I_SRV sets in sendmail.h).  The three files are required for a
 *    server (TLS_I_SRV_CERT): one refused and STARTTLS is not offered.
 *    DHParameters goes through the same check but is not required: a
 *    refused one makes sendmail use its built-in group instead.
 *  - libsmutil/safefile.c, safefile() and safedirpath(), as the daemon
 *    runs them (as root, RunAsUid 0):
 *    1. every directory on the path of the file, from "/" down, must be
 *       writable neither by others nor by its group (E_SM_WWDIR,
 *       E_SM_GWDIR); DontBlameSendmail=GroupWritableDirPathSafe allows
 *       group-writable ones and TrustStickyBit sticky ones (like /tmp).
 *       A directory that is a symbolic link is followed, and the path of
 *       its target is checked the same way.
 *    2. the file itself is stat(2)ed, following a last symbolic link
 *       (dehydrated's privkey.pem is one): SFF_NOWLINK only counts when
 *       SFF_SAFEDIRPATH is off, and SFF_NOSLINK is not given.  The
 *       directories of the link's target are not checked.  Hard links
 *       are allowed (no SFF_NOHLINK).
 *    3. it must be a regular file (E_SM_REGONLY);
 *    4. writable neither by its group nor by others (E_SM_GWFILE,
 *       E_SM_WWFILE); no DontBlameSendmail option relaxes this here;
 *    5. the key readable neither by its group (E_SM_GRFILE, unless
 *       GroupReadableKeyFile) nor by others (E_SM_WRFILE);
 *    6. owned by root or by TrustedUser, and readable by its owner
 *       (SFF_MUSTOWN with SFF_ROOTOK: EACCES otherwise).
 *  - cf/README, "DontBlameSendmail" and op.me, "DontBlameSendmail" and
 *    "TrustedUser", for the names.  TLSSrvOptions (confTLS_SRV_OPTIONS,
 *    TLS_SRV_OPTIONS) only changes whether a client certificate is asked
 *    for ('V'); it relaxes none of these rules.
 *
 * A RunAsUser in sendmail.cf makes sendmail compare owners with that
 * user instead of root; smtlsd does not model it (smtlsd -C says so).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "safefile.h"

#define LINKS_MAX	20	/* directory links followed, at most */

void
safefile_rules_init(struct safefile_rules *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Takes the value of DontBlameSendmail (words separated by commas or
 * white space, any case) into r: the three options that relax the rules
 * above.  The others concern other files and are skipped.  Returns 0.
 */
int
safefile_dontblame(struct safefile_rules *r, const char *val, char *err,
    size_t errlen)
{
	char	*copy, *w, *p;

	(void)err;
	(void)errlen;
	if (val == NULL)
		return (0);
	if ((copy = strdup(val)) == NULL)
		return (-1);
	p = copy;
	while ((w = strsep(&p, ", \t")) != NULL) {
		if (strcasecmp(w, "GroupReadableKeyFile") == 0)
			r->group_readable_key = 1;
		else if (strcasecmp(w, "GroupWritableDirPathSafe") == 0)
			r->group_writable_dirs = 1;
		else if (strcasecmp(w, "TrustStickyBit") == 0)
			r->trust_sticky = 1;
	}
	free(copy);
	return (0);
}

/*
 * Takes TrustedUser (a name or a number) into r.  Returns 0, or -1 with
 * err saying that there is no such user.
 */
int
safefile_trusted(struct safefile_rules *r, const char *val, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	char		*end;
	unsigned long	 n;

	if (val == NULL || *val == '\0')
		return (0);
	errno = 0;
	n = strtoul(val, &end, 10);
	if (*end == '\0' && errno == 0 && (unsigned long)(uid_t)n == n) {
		r->trusted = 1;
		r->trusted_uid = (uid_t)n;
		return (0);
	}
	if ((pw = getpwnam(val)) == NULL) {
		snprintf(err, errlen, "TrustedUser %s: no such user", val);
		return (-1);
	}
	r->trusted = 1;
	r->trusted_uid = pw->pw_uid;
	return (0);
}

/*
 * Rule 1 for the directory dir: each directory from "/" down, links
 * followed.  Returns 0, or -1 with why filled in (file is the file whose
 * path it is).
 */
static int
dirpath_check(const char *file, const char *dir,
    const struct safefile_rules *r, int level, char *why, size_t len)
{
	struct stat	 st;
	char		 s[PATH_MAX], target[PATH_MAX], buf[PATH_MAX];
	char		 joined[PATH_MAX], *slash;
	mode_t		 bad;
	size_t		 i, n;
	ssize_t		 ln;

	if (level > LINKS_MAX) {
		snprintf(why, len, "%s: more than %d symbolic links on its "
		    "path: sendmail refuses it (ELOOP)", file, LINKS_MAX);
		return (-1);
	}
	if (strlcpy(s, dir, sizeof(s)) >= sizeof(s)) {
		snprintf(why, len, "%s: path too long", file);
		return (-1);
	}
	bad = S_IWOTH | (r->group_writable_dirs ? 0 : S_IWGRP);
	n = strlen(s);
	for (i = 1; i <= n; i++) {
		/* Each prefix that ends a component: "/", "/a", "/a/b"... */
		if (i > 1 && i < n && s[i] != '/')
			continue;
		if (i > 1 && s[i - 1] == '/')
			continue;	/* "//", or a slash at the end */
		memcpy(buf, s, i);
		buf[i] = '\0';
		if ((slash = strrchr(buf, '/')) != NULL && (strcmp(slash,
		    "/.") == 0 || strcmp(slash, "/..") == 0))
			continue;
		if (lstat(buf, &st) == -1) {
			snprintf(why, len, "%s: %s: %s", file, buf,
			    strerror(errno));
			return (-1);
		}
		if (S_ISLNK(st.st_mode)) {
			if ((ln = readlink(buf, target, sizeof(target) - 1)) ==
			    -1) {
				snprintf(why, len, "%s: %s: %s", file, buf,
				    strerror(errno));
				return (-1);
			}
			target[ln] = '\0';
			if (target[0] != '/') {
				/* Relative to the link's own directory. */
				slash = strrchr(buf, '/');
				*slash = '\0';
				if ((size_t)snprintf(joined, sizeof(joined),
				    "%s/%s", buf, target) >= sizeof(joined)) {
					snprintf(why, len, "%s: path too long",
					    file);
					return (-1);
				}
			} else
				memcpy(joined, target, (size_t)ln + 1);
			if (dirpath_check(file, joined, r, level + 1, why,
			    len) == -1)
				return (-1);
			continue;
		}
		if ((st.st_mode & bad) == 0 ||
		    (r->trust_sticky && (st.st_mode & S_ISVTX)))
			continue;
		if (st.st_mode & S_IWOTH)
			snprintf(why, len, "%s: the directory %s on its path "
			    "is writable by others (mode %04o), which sendmail "
			    "refuses (E_SM_WWDIR): chmod o-w %s%s", file, buf,
			    (unsigned)st.st_mode & 07777, buf,
			    (st.st_mode & S_ISVTX) ? ", or set "
			    "DontBlameSendmail=TrustStickyBit" : "");
		else
			snprintf(why, len, "%s: the directory %s on its path "
			    "is writable by its group (mode %04o), which "
			    "sendmail refuses (E_SM_GWDIR): chmod g-w %s, or set "
			    "DontBlameSendmail=GroupWritableDirPathSafe", file,
			    buf, (unsigned)st.st_mode & 07777, buf);
		return (-1);
	}
	return (0);
}

/*
 * Checks path as sendmail checks its server certificate (or CACertFile,
 * SAFEFILE_CERT) or key (SAFEFILE_KEY), rules 1 to 6 above, in
 * sendmail's order.  Returns 0, or -1 with why naming the file, the rule
 * and what to do.  Nothing is logged.
 */
int
safefile_check(const char *path, enum safefile_kind kind,
    const struct safefile_rules *r, char *why, size_t len)
{
	struct stat	 st;
	struct passwd	*pw;
	char		 dir[PATH_MAX], *slash;
	const char	*what = kind == SAFEFILE_KEY ? "key" : "certificate";
	const char	*chm = kind == SAFEFILE_KEY ? "600" : "644";
	unsigned	 mode;

	if (path[0] != '/') {
		snprintf(why, len, "%s: not an absolute path, which sendmail "
		    "ignores", path);
		return (-1);
	}
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		snprintf(why, len, "%s: path too long", path);
		return (-1);
	}
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (dirpath_check(path, dir, r, 0, why, len) == -1)
		return (-1);
	if (stat(path, &st) == -1) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return (-1);
	}
	mode = (unsigned)st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s: not a regular file, which sendmail "
		    "refuses (E_SM_REGONLY)", path);
		return (-1);
	}
	if (st.st_mode & S_IWGRP) {
		snprintf(why, len, "%s: the %s is writable by its group "
		    "(mode %04o), which sendmail refuses (E_SM_GWFILE): "
		    "chmod %s %s", path, what, mode, chm, path);
		return (-1);
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, len, "%s: the %s is writable by others "
		    "(mode %04o), which sendmail refuses (E_SM_WWFILE): "
		    "chmod %s %s", path, what, mode, chm, path);
		return (-1);
	}
	if (kind == SAFEFILE_KEY && !r->group_readable_key &&
	    (st.st_mode & S_IRGRP)) {
		snprintf(why, len, "%s: the key is readable by its group "
		    "(mode %04o), which sendmail refuses (E_SM_GRFILE): "
		    "chmod 600 %s, or set "
		    "DontBlameSendmail=GroupReadableKeyFile", path, mode,
		    path);
		return (-1);
	}
	if (kind == SAFEFILE_KEY && (st.st_mode & S_IROTH)) {
		snprintf(why, len, "%s: the key is readable by others "
		    "(mode %04o), which sendmail refuses (E_SM_WRFILE): "
		    "chmod %s %s", path, mode,
		    r->group_readable_key ? "640" : "600", path);
		return (-1);
	}
	if (st.st_uid != 0 && !(r->trusted && st.st_uid == r->trusted_uid)) {
		pw = getpwuid(st.st_uid);
		snprintf(why, len, "%s: the %s is owned by %s%s%lu, not by "
		    "root or TrustedUser, which sendmail refuses (EACCES): "
		    "chown root %s, or set TrustedUser", path, what,
		    pw != NULL ? pw->pw_name : "", pw != NULL ? " uid " :
		    "uid ", (unsigned long)st.st_uid, path);
		return (-1);
	}
	if ((st.st_mode & S_IRUSR) == 0) {
		snprintf(why, len, "%s: the %s is not readable by its owner "
		    "(mode %04o), which sendmail refuses (EACCES): chmod %s "
		    "%s", path, what, mode, chm, path);
		return (-1);
	}
	return (0);
}
