/*
 * fuzz_holepunch.c - holepunch payload decoder and secure payload opening
 *
 * First byte even: the plaintext decoder (round trip as in
 * fuzz_noise_payload).  Odd: holepunch_payload_open() with connect.json's
 * holepunch secret; anything that opens must seal again (fixed nonce) and
 * open to the same encoding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/noise/payload.h"
#include "hex.h"
#include "keys.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t secret[32];

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	check(keys_init() == 0);
	/* connect.json#holepunch_payload.holepunch_secret */
	check(hex_decode(secret, sizeof(secret), "c5a09aaf57c16cb177db0c4408b2"
	    "89d82c3e0012d5be0415ced6646e7bb6e03c") == 32);
}

static void
round_trip(const struct holepunch_payload *p)
{
	uint8_t a[512], b[512];
	struct holepunch_payload q;
	size_t alen, blen;
	int err;

	err = holepunch_payload_encode(p, a, sizeof(a), &alen);
	if (err == -EINVAL)
		return;		/* a uint above 2^53 */
	check(err == 0 && alen <= holepunch_payload_max_size());
	check(holepunch_payload_decode(&q, a, alen) == 0);
	check(holepunch_payload_encode(&q, b, sizeof(b), &blen) == 0);
	check(alen == blen && memcmp(a, b, alen) == 0);
}

static void
fuzz_open(const uint8_t *in, size_t len)
{
	static const uint8_t nonce[24];
	struct holepunch_payload p, q;
	uint8_t box[1024];
	size_t blen;
	int err;

	err = holepunch_payload_open(&p, secret, in, len);
	check(err == 0 || err == -EBADMSG);
	if (err != 0)
		return;
	check(len > HOLEPUNCH_BOX_OVERHEAD);
	round_trip(&p);
	err = holepunch_payload_seal(&p, secret, nonce, box, sizeof(box), &blen);
	if (err == -EINVAL)
		return;
	check(err == 0);
	check(holepunch_payload_open(&q, secret, box, blen) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct holepunch_payload p;

	setup();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_open(data + 1, size - 1);
	} else if (holepunch_payload_decode(&p, data + 1, size - 1) == 0) {
		check(!p.has_addresses || p.naddresses <= HOLEPUNCH_ADDRS_MAX);
		round_trip(&p);
	}
	return 0;
}
