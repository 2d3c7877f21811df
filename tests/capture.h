/*
 * For the ATF C tests: what the library logs (to stderr) goes to a file
 * the test can search.
 */
#ifndef SMTLSD_TESTS_CAPTURE_H
#define SMTLSD_TESTS_CAPTURE_H

#define ERRFILE	"stderr.txt"

void	capture(void);
void	capture_to(int);
void	uncapture(void);

#endif
