/*
 * fuzz_base58.c - base58 decode on arbitrary text; what decodes must
 * encode back to the same text
 */
#include <stdlib.h>
#include <string.h>

#include "base58.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[BASE58_MAX_BYTES];
	char back[BASE58_ENCODED_SIZE(BASE58_MAX_BYTES)];
	int n, m;

	n = base58_decode(out, sizeof(out), (const char *)data, size);
	if (n < 0)
		return 0;
	m = base58_encode(back, sizeof(back), out, (size_t)n);
	if (m < 0 || (size_t)m != size || memcmp(back, data, size) != 0)
		abort();
	if (n == 32 && size < 64) {
		char key[BASE58_ENCODED_SIZE(32)];

		memcpy(key, data, size);
		key[size] = '\0';
		if (base58_decode_key(out, key) != 0)
			abort();
	}
	return 0;
}
