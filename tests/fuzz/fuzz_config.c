/*
 * fuzz_config.c - hypernat.conf text through the schema parser; what
 * parses must print (hypernatd -n) to text that parses back to the same
 * printout
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
printed(const struct config *c)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	if (fp == NULL)
		abort();
	config_print(c, fp, false);
	fclose(fp);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_LEN];
	struct config *c, *c2;
	char *a, *b;

	if (size > 65536)
		return 0;
	if (config_parse("fuzz.yaml", data, size, &c, err) != 0) {
		if (strncmp(err, "fuzz.yaml", 9) != 0)
			abort();	/* every error names the file */
		return 0;
	}
	a = printed(c);
	if (config_parse("fuzz.yaml", a, strlen(a), &c2, err) != 0)
		abort();
	if (c->secret != NULL)
		c2->secret = strdup(c->secret);
	b = printed(c2);
	if (strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	config_free(c);
	config_free(c2);
	return 0;
}
