/*
 * base58.c - base58 (Bitcoin alphabet), quadratic but bounded
 */
#include <errno.h>
#include <string.h>

#include "base58.h"

static const char alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Value of a base58 digit, or -1. */
static int
digit_value(unsigned char ch)
{
	const char *p;

	if (ch == '\0')
		return -1;
	p = strchr(alphabet, ch);
	return p ? (int)(p - alphabet) : -1;
}

int
base58_encode(char *out, size_t cap, const uint8_t *in, size_t len)
{
	uint8_t digits[BASE58_MAX_BYTES * 138 / 100 + 1];
	size_t zeros = 0, ndig = 0, i, j, total;

	if (len > BASE58_MAX_BYTES)
		return -E2BIG;
	while (zeros < len && in[zeros] == 0)
		zeros++;
	/* digits[] holds the number in base 58, least significant first */
	for (i = zeros; i < len; i++) {
		unsigned carry = in[i];

		for (j = 0; j < ndig; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry) {
			digits[ndig++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	total = zeros + ndig;
	if (total + 1 > cap)
		return -ENOSPC;
	memset(out, '1', zeros);
	for (i = 0; i < ndig; i++)
		out[zeros + i] = alphabet[digits[ndig - 1 - i]];
	out[total] = '\0';
	return (int)total;
}

int
base58_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	uint8_t bytes[BASE58_MAX_CHARS];
	size_t zeros = 0, nbytes = 0, i, j, total;

	if (len > BASE58_MAX_CHARS)
		return -E2BIG;
	while (zeros < len && in[zeros] == '1')
		zeros++;
	/* bytes[] holds the number base 256, least significant first */
	for (i = zeros; i < len; i++) {
		int v = digit_value((unsigned char)in[i]);
		unsigned carry;

		if (v < 0)
			return -EINVAL;
		carry = (unsigned)v;
		for (j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = (uint8_t)carry;
			carry >>= 8;
		}
		while (carry) {
			bytes[nbytes++] = (uint8_t)carry;
			carry >>= 8;
		}
	}
	total = zeros + nbytes;
	if (total > cap)
		return -ENOSPC;
	memset(out, 0, zeros);
	for (i = 0; i < nbytes; i++)
		out[zeros + i] = bytes[nbytes - 1 - i];
	return (int)total;
}

int
base58_decode_key(uint8_t out[32], const char *in)
{
	uint8_t tmp[64];
	int n = base58_decode(tmp, sizeof(tmp), in, strlen(in));

	if (n != 32)
		return -EINVAL;
	memcpy(out, tmp, 32);
	return 0;
}
