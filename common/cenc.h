/*
 * cenc.h - compact-encoding as HyperDHT uses it (spec/dht.md §2)
 *
 * All functions work on a struct cur and share its sticky error: encode a
 * whole message, then check cur_ok() once.  Decoders accept what the JS
 * decoders accept (non-minimal uints, trailing bytes are the caller's
 * business); encoders emit the shortest form.
 */
#ifndef HN_CENC_H
#define HN_CENC_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "cursor.h"

/* The JS decoder refuses array counts above this (spec/dht.md §2.5). */
#define CENC_ARRAY_MAX	0x100000

/* Largest integer JS can represent exactly: never send more. */
#define CENC_UINT_MAX	((1ULL << 53) - 1)

/* A peer record: public key and relay addresses (hyperdht `peer`). */
#define CENC_PEER_RELAYS_MAX	3	/* hyperdht never sends more */
struct cenc_peer {
	uint8_t		publicKey[32];
	size_t		nrelays;
	struct hn_addr	relays[CENC_PEER_RELAYS_MAX];
};

/* Bytes cenc_put_uint() writes for v. */
size_t		 cenc_uint_size(uint64_t v);
void		 cenc_put_uint(struct cur *c, uint64_t v);
uint64_t	 cenc_get_uint(struct cur *c);

/*
 * buffer: uint length then the bytes.  Absent and empty both encode as one
 * 0 byte and both decode as absent: cenc_get_buffer() returns NULL with
 * *len = 0.  Otherwise the returned pointer aliases the cursor's buffer.
 */
size_t		 cenc_buffer_size(size_t len);
void		 cenc_put_buffer(struct cur *c, const void *p, size_t len);
const uint8_t	*cenc_get_buffer(struct cur *c, size_t *len);

/* string: UTF-8 bytes as a buffer (no validation, no NUL). */
void		 cenc_put_string(struct cur *c, const char *s, size_t len);
#define		 cenc_get_string(c, lenp) \
	((const char *)cenc_get_buffer((c), (lenp)))

/* fixed32 / fixed64: raw bytes, no prefix. */
void		 cenc_put_fixed32(struct cur *c, const uint8_t v[32]);
void		 cenc_get_fixed32(struct cur *c, uint8_t out[32]);
void		 cenc_put_fixed64(struct cur *c, const uint8_t v[64]);
void		 cenc_get_fixed64(struct cur *c, uint8_t out[64]);

/*
 * array count: uint.  The getter fails counts above `max` (at most
 * CENC_ARRAY_MAX) and counts that could not fit in what is left given the
 * smallest element size `min_elem`, so a caller may size storage from it.
 */
void		 cenc_put_array_len(struct cur *c, size_t n);
size_t		 cenc_get_array_len(struct cur *c, size_t max, size_t min_elem);

/* ipv4Address: four octets in dotted order, then the port as uint16 LE. */
#define CENC_IPV4_SIZE	6
void		 cenc_put_ipv4(struct cur *c, const struct hn_addr *a);
void		 cenc_get_ipv4(struct cur *c, struct hn_addr *a);

/*
 * array(ipv4Address).  The getter stores at most `max` addresses in `out`
 * and fails on more; it returns the count.
 */
void		 cenc_put_ipv4_array(struct cur *c, const struct hn_addr *a,
		    size_t n);
size_t		 cenc_get_ipv4_array(struct cur *c, struct hn_addr *out,
		    size_t max);

/*
 * peer: fixed32 publicKey then array(ipv4Address) relayAddresses.  The
 * getter keeps the first CENC_PEER_RELAYS_MAX relays and skips the rest, as
 * a JS reader would accept them.
 */
void		 cenc_put_peer(struct cur *c, const struct cenc_peer *p);
void		 cenc_get_peer(struct cur *c, struct cenc_peer *p);

#endif
