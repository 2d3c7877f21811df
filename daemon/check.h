/*
 * smtlsd -C: the seed page's set-up, checked line by line.
 */
#ifndef SMTLSD_CHECK_H
#define SMTLSD_CHECK_H

#include "conf.h"

int	check_main(const struct conf *);

#endif
