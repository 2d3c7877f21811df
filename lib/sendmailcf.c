/*
 * Reading the options smtlsd needs from sendmail.cf.
 *
 * sendmail.cf is the file m4 makes from sendmail.mc; an option is a line
 * "O LongName=value" (op.me, "O -- Set Option").  As sendmail's readcf
 * does, a line that starts with a space or a tab continues the line
 * before it, a line starting with '#' is a comment, option names are
 * compared without regard to case, and the last setting of an option
 * wins.  Only the long names smtlsd uses are kept; everything else is
 * skipped unread.
 *
 * sendmail.cf is root's file.  It is still refused when group or others
 * can write it, or when it is not a regular file or larger than
 * SENDMAILCF_MAX: smtlsd then believes nothing in it.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sendmailcf.h"

static const char *const names[SMCF_NOPTS] = {
	"CACertPath",
	"CACertFile",
	"ServerCertFile",
	"ServerKeyFile",
	"DHParameters",
	"CipherList",
	"ServerSSLOptions",
	"DontBlameSendmail",
	"TrustedUser",
	"RunAsUser"
};

const char *
sendmailcf_name(enum sendmailcf_opt o)
{
	return (names[o]);
}

/* Takes one logical line (continuations joined) "O Name=value". */
static int
take(struct sendmailcf *cf, char *line, size_t lineno)
{
	char	*name, *val, *end;
	int	 i;

	if (line[0] != 'O' || (line[1] != ' ' && line[1] != '\t'))
		return (0);
	for (name = line + 1; *name == ' ' || *name == '\t'; name++)
		;
	if ((val = strchr(name, '=')) == NULL)
		return (0);
	for (end = val; end > name && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	for (val++; *val == ' ' || *val == '\t'; val++)
		;
	for (end = val + strlen(val); end > val &&
	    isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	for (i = 0; i < SMCF_NOPTS; i++) {
		if (strcasecmp(name, names[i]) != 0)
			continue;
		free(cf->opt[i]);
		if ((cf->opt[i] = strdup(val)) == NULL)
			return (-1);
		cf->line[i] = lineno;
	}
	return (0);
}

/*
 * Reads the options of path into cf (which the caller frees with
 * sendmailcf_free, whatever the result).  Returns SMCF_OK; SMCF_MISSING
 * when there is no such file; SMCF_BAD with err saying why when it is
 * not a file smtlsd believes.  Nothing is logged.
 */
enum sendmailcf_result
sendmailcf_read(const char *path, struct sendmailcf *cf, char *err,
    size_t errlen)
{
	struct stat	 st;
	FILE		*fp;
	char		*buf = NULL, *line = NULL, *p;
	size_t		 cap = 0, lcap = 0, len = 0, lineno = 0, at = 0;
	ssize_t		 n;
	int		 fd, rv = SMCF_OK;

	memset(cf, 0, sizeof(*cf));
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return (SMCF_MISSING);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (SMCF_BAD);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return (SMCF_BAD);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: group or others can write it "
		    "(mode %04o); not believing it: chmod go-w %s", path,
		    (unsigned)st.st_mode & 07777, path);
		close(fd);
		return (SMCF_BAD);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %lu, not root; not "
		    "believing it", path, (unsigned long)st.st_uid);
		close(fd);
		return (SMCF_BAD);
	}
	if (st.st_size > SENDMAILCF_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes; not "
		    "reading it", path, SENDMAILCF_MAX);
		close(fd);
		return (SMCF_BAD);
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return (SMCF_BAD);
	}
	/*
	 * One logical line in buf; it is taken when the next physical
	 * line does not continue it.
	 */
	for (;;) {
		n = getline(&line, &lcap, fp);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n >= 0)
			lineno++;
		if (n < 0 || len == 0 || (line[0] != ' ' && line[0] != '\t')) {
			/* Not a continuation: the line before is complete. */
			if (len > 0 && take(cf, buf, at) == -1) {
				rv = SMCF_BAD;
				snprintf(err, errlen, "%s: out of memory",
				    path);
				break;
			}
			len = 0;
			if (n < 0)
				break;
			at = lineno;
			if (line[0] == '#' || line[0] == '\0')
				continue;
		}
		if (len + (size_t)n + 2 > cap) {
			cap = len + (size_t)n + 2;
			if ((p = realloc(buf, cap)) == NULL) {
				rv = SMCF_BAD;
				snprintf(err, errlen, "%s: out of memory",
				    path);
				break;
			}
			buf = p;
		}
		/* A continuation is joined with one space. */
		if (len > 0)
			buf[len++] = ' ';
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	if (rv == SMCF_OK && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rv = SMCF_BAD;
	}
	free(line);
	free(buf);
	fclose(fp);
	return (rv);
}

void
sendmailcf_free(struct sendmailcf *cf)
{
	int	i;

	for (i = 0; i < SMCF_NOPTS; i++) {
		free(cf->opt[i]);
		cf->opt[i] = NULL;
	}
}
