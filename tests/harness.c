/*
 * harness.c - a small test runner
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hex.h"

static int cur_failures;
static bool cur_skipped;
static char skip_reason[256];
static const char *cur_name;
static char **extra_args;
static int nextra;

bool
harness_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: %s: ", file, line, cur_name ? cur_name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cur_failures++;
	return false;
}

void
harness_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	cur_skipped = true;
}

int
harness_failures(void)
{
	return cur_failures;
}

const char *
harness_arg(int i)
{
	return i < nextra ? extra_args[i] : NULL;
}

bool
harness_check_str(const char *file, int line, const char *expr,
    const char *a, const char *b)
{
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return true;
	return harness_fail(file, line, "%s == \"%s\", want \"%s\"", expr,
	    a ? a : "(null)", b ? b : "(null)");
}

static void
print_hex(const char *label, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "    %s ", label);
	for (i = 0; i < n && i < 256; i++)
		fprintf(stderr, "%02x", p[i]);
	fprintf(stderr, "%s\n", n > 256 ? "..." : "");
}

bool
harness_check_mem(const char *file, int line, const char *expr,
    const void *a, const void *b, size_t n)
{
	if (n == 0 || memcmp(a, b, n) == 0)
		return true;
	harness_fail(file, line, "%s differs (%zu bytes)", expr, n);
	print_hex("got ", a, n);
	print_hex("want", b, n);
	return false;
}

uint8_t *
harness_unhex(const char *hex, size_t *len)
{
	size_t cap = strlen(hex) / 2 + 1;
	uint8_t *buf = malloc(cap);
	int n;

	if (buf == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if ((n = hex_decode(buf, cap, hex)) < 0) {
		harness_fail(__FILE__, __LINE__, "bad hex \"%s\"", hex);
		n = 0;
	}
	*len = (size_t)n;
	return buf;
}

bool
harness_check_hex(const char *file, int line, const char *expr,
    const void *a, size_t n, const char *hex)
{
	size_t wn;
	uint8_t *want = harness_unhex(hex, &wn);
	bool ok;

	if (wn != n) {
		harness_fail(file, line, "%s: %zu bytes, want %zu", expr, n, wn);
		print_hex("got ", a, n);
		print_hex("want", want, wn);
		ok = false;
	} else {
		ok = harness_check_mem(file, line, expr, a, want, n);
	}
	free(want);
	return ok;
}

static bool
selected(const char *name, int argc, char **argv)
{
	int i;
	bool any = false;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		any = true;
		if (strcmp(argv[i], name) == 0)
			return true;
	}
	return !any;
}

int
harness_main(const char *suite, const struct test *tests, size_t n,
    int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0, i;
	size_t t;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			extra_args = argv + i + 1;
			nextra = argc - i - 1;
			break;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (t = 0; t < n; t++) {
		if (!selected(tests[t].name, argc, argv))
			continue;
		cur_name = tests[t].name;
		cur_failures = 0;
		cur_skipped = false;
		tests[t].fn();
		fflush(stderr);
		if (cur_failures) {
			printf("FAIL %s\n", cur_name);
			failed++;
		} else if (cur_skipped) {
			printf("skip %s: %s\n", cur_name, skip_reason);
			skipped++;
		} else {
			printf("ok   %s\n", cur_name);
			passed++;
		}
	}
	if (skipped)
		printf("%s: %d passed, %d failed, %d skipped\n", suite, passed,
		    failed, skipped);
	else
		printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}
