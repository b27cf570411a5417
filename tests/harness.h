/*
 * harness.h - a small test runner
 *
 * A suite is a table of named test functions.  Each CHECK that fails
 * prints where and why and marks the running test failed; a test may also
 * skip itself with a reason.  harness_main() runs the table (or the tests
 * named on the command line) and ends with the line
 *
 *     SUITE: N passed, N failed[, N skipped]
 *
 * which tests/run-check.sh adds up.  The exit status is 1 if anything
 * failed.
 */
#ifndef HN_HARNESS_H
#define HN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct test {
	const char	*name;
	void		(*fn)(void);
};

#define TEST(name)	{ #name, name }

int	harness_main(const char *suite, const struct test *tests, size_t n,
	    int argc, char **argv);
/* Skip the running test (it counts as skipped unless a check failed). */
void	harness_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record a failure; returns false so checks can be used in conditions. */
bool	harness_fail(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Number of failed checks in the running test so far. */
int	harness_failures(void);
/* argv[1..] after the test names: extra arguments a suite may use. */
const char *harness_arg(int i);

#define CHECK(cond) \
	((cond) ? true : harness_fail(__FILE__, __LINE__, "%s", #cond))

#define CHECK_INT(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_)							\
		harness_fail(__FILE__, __LINE__, "%s == %lld, want %lld",\
		    #a, a_, b_);					\
} while (0)

#define CHECK_UINT(a, b) do {						\
	unsigned long long a_ = (a), b_ = (b);				\
	if (a_ != b_)							\
		harness_fail(__FILE__, __LINE__, "%s == %llu, want %llu",\
		    #a, a_, b_);					\
} while (0)

#define CHECK_STR(a, b) \
	harness_check_str(__FILE__, __LINE__, #a, (a), (b))
#define CHECK_MEM(a, b, n) \
	harness_check_mem(__FILE__, __LINE__, #a, (a), (b), (n))
/* Compare n bytes at `a` with the hex string `hex`. */
#define CHECK_HEX(a, n, hex) \
	harness_check_hex(__FILE__, __LINE__, #a, (a), (n), (hex))

bool	harness_check_str(const char *file, int line, const char *expr,
	    const char *a, const char *b);
bool	harness_check_mem(const char *file, int line, const char *expr,
	    const void *a, const void *b, size_t n);
bool	harness_check_hex(const char *file, int line, const char *expr,
	    const void *a, size_t n, const char *hex);

/* Decode hex into a new buffer (caller frees); aborts the test on bad hex. */
uint8_t	*harness_unhex(const char *hex, size_t *len);

#endif
