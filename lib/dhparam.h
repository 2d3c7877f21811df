/*
 * DH parameters for sendmail's confDH_PARAMETERS.
 */
#ifndef SMTLSD_DHPARAM_H
#define SMTLSD_DHPARAM_H

#include <stddef.h>

#include "conf.h"

int	dhparam_check(const char *, int, char *, size_t);
int	dhparam_make(enum conf_dhsource, int, char **, size_t *);
int	dhparam_verify_pem(const char *, size_t, int);
int	dhparam_write(const char *, const char *, size_t);

#endif
