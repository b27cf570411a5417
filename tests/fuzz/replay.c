/*
 * replay.c - run a fuzz target over saved inputs, without libFuzzer
 *
 * Linked with one fuzz_*.c under ASan and UBSan by the default compiler, so
 * `make check` replays every corpus as regression tests.  Arguments are
 * files or directories (one level).  A crash or sanitizer report ends the
 * process non-zero before the summary line, which the runner counts as a
 * failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int ran;
static int unreadable;

static void
run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		unreadable++;
		if (fp)
			fclose(fp);
		return;
	}
	rewind(fp);
	/* an exact-size heap copy, so ASan sees reads past the input */
	buf = malloc(len ? (size_t)len : 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fprintf(stderr, "%s: short read\n", path);
		unreadable++;
	} else {
		LLVMFuzzerTestOneInput(buf, (size_t)len);
		ran++;
	}
	free(buf);
	fclose(fp);
}

static void
run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char sub[4096];
	int n, i;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		unreadable++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		unreadable++;
		return;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			run_file(sub);
		}
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	const char *name = getenv("HN_SUITE_NAME");
	int i;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		run_path(argv[i]);
	if (ran == 0 && unreadable == 0)
		unreadable = 1;	/* an empty corpus proves nothing */
	printf("%s: %d passed, %d failed\n", name ? name : "replay", ran,
	    unreadable);
	return unreadable ? 1 : 0;
}
