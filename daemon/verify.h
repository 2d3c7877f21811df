/*
 * The STARTTLS probe: what sendmail really serves on verify_smtp,
 * compared with what the last pass found it should serve.
 */
#ifndef SMTLSD_VERIFY_H
#define SMTLSD_VERIFY_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "conf.h"

#define VERIFY_FPLEN		32	/* SHA-256 */
#define VERIFY_EXPECT_MAX	8	/* good sets compared with */

/* One good set's certificate, as a pass found it (pass.c). */
struct verify_expect {
	char		 name[256];	/* the domain: SNI and host name */
	unsigned char	 fp[VERIFY_FPLEN];	/* of its certificate */
	char		 serial[64];	/* hexadecimal, as openssl prints it */
	time_t		 not_after;
};

/* How a probe ended. */
struct verify_result {
	int		 ok;
	int		 served;	/* a certificate was served: */
	char		 served_serial[64];
	char		 served_subject[128];
	time_t		 served_not_before;
	time_t		 served_not_after;
	int		 matched;	/* index in the expected, or -1 */
	time_t		 when;		/* when it ended */
	char		 msg[512];	/* "sendmail serves ...", or why not */
};

struct event_base;
struct verify;

typedef void	(*verify_cb)(void *, const struct verify_result *);

struct verify	*verify_new(struct event_base *, verify_cb, void *);
void		 verify_free(struct verify *);
int		 verify_start(struct verify *, const struct conf *,
		    const struct verify_expect *, size_t);
int		 verify_running(const struct verify *);
int		 verify_once(const struct conf *, const struct verify_expect *,
		    size_t, struct verify_result *);
int		 verify_expiry(const struct verify_result *,
		    const struct conf *, char *, size_t);
void		 verify_date(time_t, char *, size_t);

#endif
