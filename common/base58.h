/*
 * base58.h - base58 with the Bitcoin alphabet, as bs58 6.0.0 (no checksum)
 *
 * spec/hypernat-app.md §2: the bytes are one big-endian number written in
 * base 58; each leading 0x00 byte becomes a leading '1'.
 */
#ifndef HN_BASE58_H
#define HN_BASE58_H

#include <stddef.h>
#include <stdint.h>

/* Longest input either function takes, in bytes resp. characters. */
#define BASE58_MAX_BYTES	256
#define BASE58_MAX_CHARS	352

/* Characters needed to encode `n` bytes, plus the NUL. */
#define BASE58_ENCODED_SIZE(n)	((n) * 138 / 100 + 2)

/*
 * Encode `len` bytes into `out` (capacity `cap`, NUL-terminated).  Returns
 * the length written without the NUL, or -ENOSPC, or -E2BIG past
 * BASE58_MAX_BYTES.
 */
int	base58_encode(char *out, size_t cap, const uint8_t *in, size_t len);
/*
 * Decode `len` characters into `out` (capacity `cap`).  Returns the number
 * of bytes, -EINVAL for a character outside the alphabet, -ENOSPC if `out`
 * is too small, -E2BIG past BASE58_MAX_CHARS.
 */
int	base58_decode(uint8_t *out, size_t cap, const char *in, size_t len);
/* Decode exactly a 32-byte key.  Returns 0 or -EINVAL. */
int	base58_decode_key(uint8_t out[32], const char *in);

#endif
