/*
 * hex.h - lowercase hexadecimal
 */
#ifndef HN_HEX_H
#define HN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*len lowercase digits and a NUL into out (2*len+1 bytes). */
char	*hex_encode(char *out, const uint8_t *in, size_t len);
/*
 * Decode `strlen(in)` hex digits (either case) into out (capacity cap).
 * Returns the byte count, or -EINVAL (odd length, bad digit) or -ENOSPC.
 */
int	 hex_decode(uint8_t *out, size_t cap, const char *in);

#endif
