/*
 * cenc.c - compact-encoding (spec/dht.md §2)
 */
#include <errno.h>
#include <string.h>

#include "cenc.h"

size_t
cenc_uint_size(uint64_t v)
{
	if (v <= 0xfc)
		return 1;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffffff)
		return 5;
	return 9;
}

void
cenc_put_uint(struct cur *c, uint64_t v)
{
	if (v <= 0xfc) {
		cur_put_u8(c, (uint8_t)v);
	} else if (v <= 0xffff) {
		cur_put_u8(c, 0xfd);
		cur_put_u16le(c, (uint16_t)v);
	} else if (v <= 0xffffffff) {
		cur_put_u8(c, 0xfe);
		cur_put_u32le(c, (uint32_t)v);
	} else {
		cur_put_u8(c, 0xff);
		cur_put_u64le(c, v);
	}
}

uint64_t
cenc_get_uint(struct cur *c)
{
	uint8_t a = cur_get_u8(c);

	/* spec/dht.md §2.1: non-minimal forms decode like JS does */
	switch (a) {
	case 0xfd:
		return cur_get_u16le(c);
	case 0xfe:
		return cur_get_u32le(c);
	case 0xff:
		return cur_get_u64le(c);
	default:
		return a;
	}
}

size_t
cenc_buffer_size(size_t len)
{
	return cenc_uint_size(len) + len;
}

void
cenc_put_buffer(struct cur *c, const void *p, size_t len)
{
	if (p == NULL)
		len = 0;
	cenc_put_uint(c, len);
	cur_put_bytes(c, p, len);
}

const uint8_t *
cenc_get_buffer(struct cur *c, size_t *len)
{
	uint64_t n = cenc_get_uint(c);
	const uint8_t *p;

	*len = 0;
	if (!cur_ok(c) || n == 0)
		return NULL;
	if (n > cur_left(c)) {
		cur_fail(c, -EBADMSG);
		return NULL;
	}
	if ((p = cur_take(c, (size_t)n)) != NULL)
		*len = (size_t)n;
	return p;
}

void
cenc_put_string(struct cur *c, const char *s, size_t len)
{
	cenc_put_buffer(c, s, len);
}

void
cenc_put_fixed32(struct cur *c, const uint8_t v[32])
{
	cur_put_bytes(c, v, 32);
}

void
cenc_get_fixed32(struct cur *c, uint8_t out[32])
{
	cur_get_bytes(c, out, 32);
}

void
cenc_put_fixed64(struct cur *c, const uint8_t v[64])
{
	cur_put_bytes(c, v, 64);
}

void
cenc_get_fixed64(struct cur *c, uint8_t out[64])
{
	cur_get_bytes(c, out, 64);
}

void
cenc_put_array_len(struct cur *c, size_t n)
{
	cenc_put_uint(c, n);
}

size_t
cenc_get_array_len(struct cur *c, size_t max, size_t min_elem)
{
	uint64_t n = cenc_get_uint(c);

	if (!cur_ok(c))
		return 0;
	if (max > CENC_ARRAY_MAX)
		max = CENC_ARRAY_MAX;
	if (n > max || (min_elem && n > cur_left(c) / min_elem)) {
		cur_fail(c, -EBADMSG);
		return 0;
	}
	return (size_t)n;
}

void
cenc_put_ipv4(struct cur *c, const struct hn_addr *a)
{
	cur_put_bytes(c, a->ip, 4);
	cur_put_u16le(c, a->port);
}

void
cenc_get_ipv4(struct cur *c, struct hn_addr *a)
{
	cur_get_bytes(c, a->ip, 4);
	a->port = cur_get_u16le(c);
}

void
cenc_put_ipv4_array(struct cur *c, const struct hn_addr *a, size_t n)
{
	size_t i;

	cenc_put_array_len(c, n);
	for (i = 0; i < n; i++)
		cenc_put_ipv4(c, &a[i]);
}

size_t
cenc_get_ipv4_array(struct cur *c, struct hn_addr *out, size_t max)
{
	size_t i, n = cenc_get_array_len(c, max, CENC_IPV4_SIZE);

	for (i = 0; i < n; i++)
		cenc_get_ipv4(c, &out[i]);
	return cur_ok(c) ? n : 0;
}

void
cenc_put_peer(struct cur *c, const struct cenc_peer *p)
{
	size_t n = p->nrelays;

	if (n > CENC_PEER_RELAYS_MAX)
		n = CENC_PEER_RELAYS_MAX;
	cenc_put_fixed32(c, p->publicKey);
	cenc_put_ipv4_array(c, p->relays, n);
}

void
cenc_get_peer(struct cur *c, struct cenc_peer *p)
{
	struct hn_addr skip;
	size_t i, n;

	cenc_get_fixed32(c, p->publicKey);
	n = cenc_get_array_len(c, CENC_ARRAY_MAX, CENC_IPV4_SIZE);
	p->nrelays = 0;
	for (i = 0; i < n; i++) {
		if (p->nrelays < CENC_PEER_RELAYS_MAX)
			cenc_get_ipv4(c, &p->relays[p->nrelays++]);
		else
			cenc_get_ipv4(c, &skip);
	}
	if (!cur_ok(c))
		p->nrelays = 0;
}
