/*
 * smtlsd.conf(5): "keyword value" lines.
 */
#ifndef SMTLSD_CONF_H
#define SMTLSD_CONF_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdio.h>

struct conf_path {
	TAILQ_ENTRY(conf_path)	 entry;
	char			*path;
};
TAILQ_HEAD(conf_paths, conf_path);

enum conf_watch {
	WATCH_AUTO,
	WATCH_KQUEUE,
	WATCH_INOTIFY,
	WATCH_POLL
};

enum conf_dhsource {
	DH_GENERATE,
	DH_FFDHE2048,
	DH_FFDHE3072,
	DH_FFDHE4096
};

struct conf {
	char			*file;		/* where it was read from */
	struct conf_paths	 ca_bundles;	/* ca_bundle, in file order */
	char			*cert_dir;
	char			*pidfile;
	char			*status_file;
	struct conf_paths	 acme_dirs;	/* acme_dir: parents of domains */
	struct conf_paths	 acme_certs;	/* acme_cert: one domain each */
	long			 settle_ms;
	long			 settle_max_ms;	/* a pass at the latest after
						   the first change */
	int			 max_domains;
	int			 expiry_warn_days;	/* 0: no warning */
	enum conf_watch		 watch;
	long			 poll_interval_ms;
	char			*dh_params;
	int			 dh_bits;
	enum conf_dhsource	 dh_source;
	char			*reload_pidfile;
	char			*reload_process;
	int			 reload_signal;	/* 0: do not signal */
	char			*reload_command;	/* NULL: signal instead */
	long			 reload_timeout_ms;
	char			*verify_host;	/* an address; NULL: none */
	int			 verify_port;
	char			*sendmail_cf;	/* NULL: none, not checked */
	int			 sendmail_cf_none;	/* "none" was given */
	char			*sendmail_path;	/* for smtlsd -C */
};

/* Platform defaults, for usage and the sample file. */
extern const char	*conf_default_file;

#define CONF_MISSING_OK	0x01	/* a missing file means defaults */

struct conf	*conf_load(const char *, int);
void		 conf_free(struct conf *);
void		 conf_dump(const struct conf *, FILE *);
const char	*conf_watch_name(enum conf_watch);
const char	*conf_dhsource_name(enum conf_dhsource);

#endif
