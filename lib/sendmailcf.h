/*
 * The few options of sendmail.cf that smtlsd checks against: "O Name=value"
 * lines of the configuration sendmail runs with.
 */
#ifndef SMTLSD_SENDMAILCF_H
#define SMTLSD_SENDMAILCF_H

#include <stddef.h>

/* A sendmail.cf larger than this is refused (a real one is ~100 KiB). */
#define SENDMAILCF_MAX	(4 * 1024 * 1024)

enum sendmailcf_opt {
	SMCF_CACERTPATH,	/* CACertPath, confCACERT_PATH */
	SMCF_CACERTFILE,	/* CACertFile, confCACERT */
	SMCF_SERVERCERT,	/* ServerCertFile, confSERVER_CERT */
	SMCF_SERVERKEY,		/* ServerKeyFile, confSERVER_KEY */
	SMCF_DHPARAMS,		/* DHParameters, confDH_PARAMETERS */
	SMCF_CIPHERLIST,	/* CipherList, confCIPHER_LIST */
	SMCF_SSLOPTIONS,	/* ServerSSLOptions, confSERVER_SSL_OPTIONS */
	SMCF_DONTBLAME,		/* DontBlameSendmail, confDONT_BLAME_SENDMAIL */
	SMCF_TRUSTEDUSER,	/* TrustedUser, confTRUSTED_USER */
	SMCF_RUNASUSER,		/* RunAsUser, confRUN_AS_USER */
	SMCF_NOPTS
};

enum sendmailcf_result {
	SMCF_OK,
	SMCF_MISSING,		/* no such file */
	SMCF_BAD		/* unreadable, unsafe, too large */
};

struct sendmailcf {
	char	*opt[SMCF_NOPTS];	/* NULL: not set */
	size_t	 line[SMCF_NOPTS];	/* where it was set */
};

enum sendmailcf_result	sendmailcf_read(const char *, struct sendmailcf *,
			    char *, size_t);
void			sendmailcf_free(struct sendmailcf *);
const char		*sendmailcf_name(enum sendmailcf_opt);

#endif
