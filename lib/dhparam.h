/*
 * DH parameters for sendmail's confDH_PARAMETERS.
 */
#ifndef SMTLSD_DHPARAM_H
#define SMTLSD_DHPARAM_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "conf.h"

/* The file dhparam_check last found good, so as not to decode it again. */
struct dh_known {
	int		 valid;
	int		 bits;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
};

int	dhparam_check(const char *, int, struct dh_known *, char *, size_t);
int	dhparam_make(enum conf_dhsource, int, char **, size_t *);
int	dhparam_verify_pem(const char *, size_t, int);
int	dhparam_write(const char *, const char *, size_t);

#endif
