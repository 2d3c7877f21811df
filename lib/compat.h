/*
 * What libbsd's overlay leaves out on Linux: it disables __unused, which
 * tree(3)'s RB_GENERATE_STATIC needs.  Include after the system headers.
 */
#ifndef SMTLSD_COMPAT_H
#define SMTLSD_COMPAT_H

#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#endif
