/*
 * smtlsd -R.
 */
#ifndef SMTLSD_RESYNC_H
#define SMTLSD_RESYNC_H

#include "conf.h"

int	resync_main(struct conf *);

#endif
