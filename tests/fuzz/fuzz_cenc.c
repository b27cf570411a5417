/*
 * fuzz_cenc.c - compact-encoding decoders on arbitrary bytes
 *
 * The first byte picks a decoder; the rest is its input.  Whatever decodes
 * must re-encode to a value that decodes the same (and, for canonical
 * input, to the same bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "cenc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_uint(struct cur *c, const uint8_t *in)
{
	uint64_t v = cenc_get_uint(c);
	uint8_t out[9];
	struct cur w, r;

	if (!cur_ok(c))
		return;
	cur_init_write(&w, out, sizeof(out));
	cenc_put_uint(&w, v);
	check(cur_ok(&w) && w.off == cenc_uint_size(v) && w.off <= c->off);
	cur_init_read(&r, out, w.off);
	check(cenc_get_uint(&r) == v && cur_ok(&r));
	/* minimal input re-encodes byte for byte */
	if (w.off == c->off)
		check(memcmp(out, in, w.off) == 0);
}

static void
fuzz_buffer(struct cur *c)
{
	size_t n;
	const uint8_t *p = cenc_get_buffer(c, &n);
	uint8_t *out;
	struct cur w, r;
	size_t n2;
	const uint8_t *p2;

	if (!cur_ok(c))
		return;
	check((p == NULL) == (n == 0));
	out = malloc(cenc_buffer_size(n));
	cur_init_write(&w, out, cenc_buffer_size(n));
	cenc_put_buffer(&w, p, n);
	check(cur_ok(&w) && cur_left(&w) == 0);
	cur_init_read(&r, out, w.off);
	p2 = cenc_get_buffer(&r, &n2);
	check(cur_ok(&r) && n2 == n && (n == 0 || memcmp(p, p2, n) == 0));
	free(out);
}

static void
fuzz_addrs(struct cur *c)
{
	struct hn_addr a[32], b[32];
	uint8_t out[1 + 32 * CENC_IPV4_SIZE + 8];
	size_t n = cenc_get_ipv4_array(c, a, 32), i;
	struct cur w, r;

	if (!cur_ok(c))
		return;
	cur_init_write(&w, out, sizeof(out));
	cenc_put_ipv4_array(&w, a, n);
	check(cur_ok(&w));
	cur_init_read(&r, out, w.off);
	check(cenc_get_ipv4_array(&r, b, 32) == n && cur_ok(&r));
	for (i = 0; i < n; i++)
		check(addr_eq(&a[i], &b[i]));
}

static void
fuzz_peer(struct cur *c)
{
	struct cenc_peer p, q;
	uint8_t out[32 + 1 + CENC_PEER_RELAYS_MAX * CENC_IPV4_SIZE];
	struct cur w, r;
	size_t i;

	cenc_get_peer(c, &p);
	if (!cur_ok(c))
		return;
	check(p.nrelays <= CENC_PEER_RELAYS_MAX);
	cur_init_write(&w, out, sizeof(out));
	cenc_put_peer(&w, &p);
	check(cur_ok(&w));
	cur_init_read(&r, out, w.off);
	cenc_get_peer(&r, &q);
	check(cur_ok(&r) && q.nrelays == p.nrelays &&
	    memcmp(p.publicKey, q.publicKey, 32) == 0);
	for (i = 0; i < p.nrelays; i++)
		check(addr_eq(&p.relays[i], &q.relays[i]));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c;
	uint8_t fixed[64];
	size_t n;

	if (size < 1)
		return 0;
	cur_init_read(&c, data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		fuzz_uint(&c, data + 1);
		break;
	case 1:
		fuzz_buffer(&c);
		break;
	case 2:
		fuzz_addrs(&c);
		break;
	case 3:
		fuzz_peer(&c);
		break;
	case 4:
		n = cenc_get_array_len(&c, CENC_ARRAY_MAX, 1);
		check(!cur_ok(&c) || n <= cur_left(&c));
		break;
	default:
		cenc_get_fixed64(&c, fixed);
		check(cur_ok(&c) == (size - 1 >= 64));
		break;
	}
	check(c.off <= c.len);
	return 0;
}
