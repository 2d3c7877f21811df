/*
 * What libbsd's overlay leaves out on Linux: it disables __unused, which
 * tree(3)'s RB_GENERATE_STATIC needs.  Include after the system headers.
 */
#ifndef SMTLSD_COMPAT_H
#define SMTLSD_COMPAT_H

#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

/* FreeBSD's <sys/time.h> has it; glibc and libbsd do not. */
#ifndef timespeccmp
#define timespeccmp(tsp, usp, cmp)					\
	(((tsp)->tv_sec == (usp)->tv_sec) ?				\
	    ((tsp)->tv_nsec cmp (usp)->tv_nsec) :			\
	    ((tsp)->tv_sec cmp (usp)->tv_sec))
#endif

#endif
