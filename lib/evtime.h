/*
 * A time in milliseconds as the struct timeval that libevent's timers
 * take.
 */
#ifndef SMTLSD_EVTIME_H
#define SMTLSD_EVTIME_H

#include <sys/time.h>

static inline void
ms_to_tv(long ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

#endif
