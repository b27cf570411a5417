/*
 * fuzz_addr.c - address and bootstrap-entry parsing (config and control
 * input); what parses must format back to the same text
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[64], out[HN_ADDR_STRLEN];
	struct hn_addr a;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (addr_parse(in, &a) == 0 && strcmp(addr_format(&a, out), in) != 0)
		abort();
	(void)addr_parse_bootstrap(in, &a);
	return 0;
}
