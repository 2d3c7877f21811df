/*
 * Whether sendmail will accept a certificate or key file: its safefile
 * rules for STARTTLS, checked before smtlsd makes it reload.
 */
#ifndef SMTLSD_SAFEFILE_H
#define SMTLSD_SAFEFILE_H

#include <sys/types.h>

#include <stddef.h>

/* What sendmail.cf relaxes (DontBlameSendmail, TrustedUser). */
struct safefile_rules {
	int	group_readable_key;	/* GroupReadableKeyFile */
	int	group_writable_dirs;	/* GroupWritableDirPathSafe */
	int	trust_sticky;		/* TrustStickyBit */
	int	trusted;		/* TrustedUser is set */
	uid_t	trusted_uid;
};

enum safefile_kind {
	SAFEFILE_CERT,		/* ServerCertFile, CACertFile */
	SAFEFILE_KEY		/* ServerKeyFile */
};

void	safefile_rules_init(struct safefile_rules *);
int	safefile_dontblame(struct safefile_rules *, const char *, char *,
	    size_t);
int	safefile_trusted(struct safefile_rules *, const char *, char *,
	    size_t);
int	safefile_check(const char *, enum safefile_kind,
	    const struct safefile_rules *, char *, size_t);

#endif
