/*
 * noise_vectors.h - read tests/unit/noise_vectors.kv (header-only helper
 * for test_noise*.c and test_secretstream*.c)
 *
 * The file is written by tests/unit/noise_vectors_gen.js from
 * shared/vectors/connect.json: one "KEY VALUE" per line, '#' comments.
 * A missing key fails the running test (so a truncated file cannot pass)
 * and yields an empty value.
 */
#ifndef HN_NOISE_VECTORS_H
#define HN_NOISE_VECTORS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct nv_rec {
	char	*key;
	char	*val;
};

static struct nv_rec	*nv_recs;
static size_t		 nv_n;

static inline void
nv_load(void)
{
	const char *path = "tests/unit/noise_vectors.kv";
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	if (nv_recs != NULL)
		return;
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char *sp;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		nv_recs = realloc(nv_recs, (nv_n + 1) * sizeof(*nv_recs));
		if (nv_recs == NULL)
			exit(2);
		nv_recs[nv_n].key = strdup(line);
		nv_recs[nv_n].val = strdup(sp + 1);
		nv_n++;
	}
	free(line);
	fclose(fp);
}

/* The value of `key` ("" and a test failure when absent). */
static inline const char *
nv_str(const char *key)
{
	size_t i;

	nv_load();
	for (i = 0; i < nv_n; i++)
		if (strcmp(nv_recs[i].key, key) == 0)
			return nv_recs[i].val;
	harness_fail(__FILE__, __LINE__, "vector %s missing", key);
	return "";
}

static inline long
nv_long(const char *key)
{
	return strtol(nv_str(key), NULL, 10);
}

/* Hex value as new bytes ("-" = empty); the caller frees. */
static inline uint8_t *
nv_hex(const char *key, size_t *len)
{
	const char *v = nv_str(key);

	if (strcmp(v, "-") == 0 || v[0] == '\0') {
		*len = 0;
		return calloc(1, 1);
	}
	return harness_unhex(v, len);
}

/* Hex value of exactly n bytes into out. */
static inline void
nv_fixed(const char *key, uint8_t *out, size_t n)
{
	size_t len;
	uint8_t *b = nv_hex(key, &len);

	if (len != n)
		harness_fail(__FILE__, __LINE__, "vector %s: %zu bytes, want %zu",
		    key, len, n);
	memcpy(out, b, len < n ? len : n);
	free(b);
}

#endif
