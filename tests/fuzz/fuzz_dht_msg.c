/*
 * fuzz_dht_msg.c - the dht-rpc envelope decoder on arbitrary datagrams
 *
 * Whatever decodes must re-encode, and the re-encoding must decode to the
 * same message and re-encode to itself (a fixed point).
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/dht/msg.h"

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
	static uint8_t out[DHT_MSG_MAX + 1024], out2[DHT_MSG_MAX + 1024];
	struct dht_msg m, m2;
	int n, n2;

	if (dht_msg_decode(&m, data, size) != 0)
		return 0;
	check(dht_msg_is_rpc(data, size));
	n = dht_msg_encode(&m, out, sizeof(out));
	if (n < 0)
		return 0;	/* larger than any datagram we build */
	check(dht_msg_decode(&m2, out, (size_t)n) == 0);
	check(m2.type == m.type && m2.tid == m.tid && m2.command == m.command &&
	    m2.ncloser == m.ncloser && m2.error == m.error &&
	    m2.value_len == m.value_len);
	n2 = dht_msg_encode(&m2, out2, sizeof(out2));
	check(n2 == n && memcmp(out, out2, (size_t)n) == 0);
	return 0;
}
