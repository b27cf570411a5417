/*
 * fuzz_conn_ext.c - the handshake payload with the capability extension
 * (daemon/connect/conn_ext.h) on arbitrary bytes
 *
 * conn_ext_decode() must agree with noise_payload_decode() on whether the
 * payload decodes, and a payload it finds capabilities in must re-encode
 * (with those capabilities) to a prefix-compatible message that decodes to
 * the same capabilities again.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/connect/conn_ext.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct noise_payload p, q;
	static uint8_t out[4096];
	uint32_t caps, caps2;
	size_t len;
	int a, b;

	a = conn_ext_decode(&p, &caps, data, size);
	b = noise_payload_decode(&q, data, size);
	check((a == 0) == (b == 0));
	if (a != 0) {
		check(caps == 0);
		return 0;
	}
	if (p.version != 1) {
		check(caps == 0);
		return 0;
	}
	if (caps == 0)
		return 0;
	if (conn_ext_encode(&p, caps, out, sizeof(out), &len) != 0)
		return 0;
	check(conn_ext_decode(&q, &caps2, out, len) == 0);
	check(caps2 == caps);
	check(q.udx_id == p.udx_id && q.naddr4 == p.naddr4);
	return 0;
}
