/*
 * What the ATF C tests share: what the library logs (to stderr) goes to
 * a file the test can search; ctest.c also holds LeakSanitizer's
 * defaults for them.
 */
#ifndef SMTLSD_TESTS_CTEST_H
#define SMTLSD_TESTS_CTEST_H

#define ERRFILE	"stderr.txt"

void	capture(void);
void	capture_to(int);
void	uncapture(void);

#endif
