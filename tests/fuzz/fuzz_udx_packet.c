/*
 * fuzz_udx_packet.c - the UDX packet decoder (spec/udx.md §4-§6) on
 * arbitrary datagrams; what decodes must re-encode to a datagram that
 * decodes to the same fields
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/udx/packet.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	struct udx_packet p, q;
	uint32_t s1, e1, s2, e2;
	size_t i;
	int n;

	if (udx_packet_decode(data, size, &p) != 0) {
		if (udx_packet_is_udx(data, size))
			abort();
		return 0;
	}
	if (p.nsacks * UDX_SACK_BLOCK_SIZE > size - UDX_HEADER_SIZE ||
	    p.payload_len > size - UDX_HEADER_SIZE)
		abort();
	for (i = 0; i < p.nsacks; i++)
		udx_packet_sack(&p, i, &s1, &e1);
	n = udx_packet_encode(out, sizeof(out), &p);
	if (p.offset_overrun) {
		if (n >= 0)
			abort();
		return 0;
	}
	if (n < 0 || (size_t)n != size || udx_packet_decode(out, n, &q) != 0)
		abort();
	if (q.type != p.type || q.data_offset != p.data_offset ||
	    q.id != p.id || q.seq != p.seq || q.ack != p.ack ||
	    q.rwnd != p.rwnd || q.nsacks != p.nsacks ||
	    q.payload_len != p.payload_len ||
	    memcmp(q.payload, p.payload, p.payload_len) != 0)
		abort();
	for (i = 0; i < p.nsacks; i++) {
		udx_packet_sack(&p, i, &s1, &e1);
		udx_packet_sack(&q, i, &s2, &e2);
		if (s1 != s2 || e1 != e2)
			abort();
	}
	return 0;
}
