/*
 * fuzz_noise_payload.c - handshake payload, PEER_HANDSHAKE and
 * PEER_HOLEPUNCH values on arbitrary bytes
 *
 * The first byte picks the decoder.  Whatever decodes must re-encode (unless
 * it holds a number the JS could not have sent) to bytes that decode and
 * re-encode to the same bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/noise/payload.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_payload(const uint8_t *in, size_t len)
{
	static uint8_t a[4096], b[4096];
	struct noise_payload p, q;
	size_t alen, blen;
	int err;

	memset(&p, 0x5a, sizeof(p));
	if (noise_payload_decode(&p, in, len) != 0) {
		check(p.version == 0 && !p.has_udx && p.naddr4 == 0);
		return;
	}
	check(p.nrelays <= NOISE_PAYLOAD_RELAYS_MAX);
	check(p.naddr4 <= NOISE_PAYLOAD_ADDR4_MAX);
	check(p.naddr6 <= NOISE_PAYLOAD_ADDR6_MAX);
	check(p.nrelay_addrs <= NOISE_PAYLOAD_RELAY_ADDRS_MAX);
	err = noise_payload_encode(&p, a, sizeof(a), &alen);
	if (err == -EINVAL)
		return;		/* a uint above 2^53 */
	check(err == 0 && alen <= noise_payload_max_size());
	check(noise_payload_decode(&q, a, alen) == 0);
	check(noise_payload_encode(&q, b, sizeof(b), &blen) == 0);
	check(alen == blen && memcmp(a, b, alen) == 0);
}

static void
fuzz_handshake(const uint8_t *in, size_t len)
{
	static uint8_t a[70000], b[70000];
	struct peer_handshake m, n;
	size_t alen, blen;
	int err;

	if (peer_handshake_decode(&m, in, len) != 0)
		return;
	check(m.noise_len <= len);
	check(m.noise_len == 0 || (m.noise >= in && m.noise + m.noise_len <=
	    in + len));
	err = peer_handshake_encode(&m, a, sizeof(a), &alen);
	if (err == -EINVAL)
		return;		/* empty noise, or mode above 2^53 */
	check(err == 0);
	check(peer_handshake_decode(&n, a, alen) == 0);
	check(peer_handshake_encode(&n, b, sizeof(b), &blen) == 0);
	check(alen == blen && memcmp(a, b, alen) == 0);
	check(n.mode == m.mode && n.noise_len == m.noise_len);
}

static void
fuzz_holepunch_value(const uint8_t *in, size_t len)
{
	static uint8_t a[70000], b[70000];
	struct peer_holepunch m, n;
	size_t alen, blen;
	int err;

	if (peer_holepunch_decode(&m, in, len) != 0)
		return;
	err = peer_holepunch_encode(&m, a, sizeof(a), &alen);
	if (err == -EINVAL)
		return;
	check(err == 0);
	check(peer_holepunch_decode(&n, a, alen) == 0);
	check(peer_holepunch_encode(&n, b, sizeof(b), &blen) == 0);
	check(alen == blen && memcmp(a, b, alen) == 0);
	check(n.id == m.id && n.payload_len == m.payload_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_payload(data + 1, size - 1);
		break;
	case 1:
		fuzz_handshake(data + 1, size - 1);
		break;
	default:
		fuzz_holepunch_value(data + 1, size - 1);
		break;
	}
	return 0;
}
