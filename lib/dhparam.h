/*
 * DH parameters for sendmail's confDH_PARAMETERS.
 */
#ifndef SMTLSD_DHPARAM_H
#define SMTLSD_DHPARAM_H

#include <sys/types.h>

#include <stddef.h>

#include "conf.h"
#include "file.h"

/* The file dhparam_check last found good, so as not to decode it again. */
struct dh_known {
	int		 valid;
	int		 bits;
	struct filestamp stamp;
};

enum dh_state {
	DH_GOOD,	/* there, and good */
	DH_MAKE,	/* missing or not good: make new ones */
	DH_LEAVE	/* not smtlsd's to replace (a link, say) */
};

enum dh_state	dhparam_check(const char *, int, struct dh_known *, char *,
		    size_t);
int	dhparam_make(enum conf_dhsource, int, char **, size_t *);
int	dhparam_verify_pem(const char *, size_t, int);
int	dhparam_write(const char *, const char *, size_t);

#endif
