/*
 * The daemon: watches, settle timer, passes, children, signals.
 */
#ifndef SMTLSD_ENGINE_H
#define SMTLSD_ENGINE_H

#include "conf.h"

int	engine_main(struct conf *, const char *, int);

#endif
