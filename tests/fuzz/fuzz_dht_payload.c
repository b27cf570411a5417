/*
 * fuzz_dht_payload.c - every HyperDHT payload decoder on arbitrary bytes
 *
 * The first byte picks the payload (peer, announce, lookup reply,
 * handshake, holepunch, mutable put, mutable get, plugin request); the
 * rest is the value.  Whatever decodes must re-encode to bytes that decode
 * and re-encode to themselves.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/dht/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static uint8_t out[8192], out2[8192];

#define ROUNDTRIP(type, dec, enc) do {					\
	type v1, v2;							\
	int n1, n2;							\
	if (dec(&v1, in, len) != 0)					\
		return 0;						\
	if ((n1 = enc(&v1, out, sizeof(out))) < 0)			\
		return 0;						\
	check(dec(&v2, out, (size_t)n1) == 0);				\
	n2 = enc(&v2, out2, sizeof(out2));				\
	check(n2 == n1 && memcmp(out, out2, (size_t)n1) == 0);		\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *in = data + 1;
	size_t len = size - 1;

	if (size < 1)
		return 0;
	switch (data[0] % 8) {
	case 0:
		ROUNDTRIP(struct cenc_peer, dht_peer_decode, dht_peer_encode);
		break;
	case 1: {
		struct dht_announce a;

		ROUNDTRIP(struct dht_announce, dht_announce_decode,
		    dht_announce_encode);
		/* the signed peer bytes lie inside the input */
		if (dht_announce_decode(&a, in, len) == 0 && a.has_peer)
			check(a.peer_enc >= in && a.peer_enc + a.peer_enc_len <=
			    in + len);
		break;
	}
	case 2:
		ROUNDTRIP(struct dht_lookup_reply, dht_lookup_reply_decode,
		    dht_lookup_reply_encode);
		break;
	case 3:
		ROUNDTRIP(struct dht_handshake, dht_handshake_decode,
		    dht_handshake_encode);
		break;
	case 4:
		ROUNDTRIP(struct dht_holepunch, dht_holepunch_decode,
		    dht_holepunch_encode);
		break;
	case 5:
		ROUNDTRIP(struct dht_mutable, dht_mutable_put_decode,
		    dht_mutable_put_encode);
		break;
	case 6:
		ROUNDTRIP(struct dht_mutable, dht_mutable_get_decode,
		    dht_mutable_get_encode);
		break;
	case 7:
		ROUNDTRIP(struct dht_plugin_request, dht_plugin_request_decode,
		    dht_plugin_request_encode);
		break;
	}
	return 0;
}
