/*
 * fuzz_noise.c - Noise IK handshake messages from an attacker
 *
 * First byte even: a responder (server) reads arbitrary bytes as message 1
 * and, if they pass, decodes the payload and answers.  Odd: an initiator
 * that sent message 1 (fixed keys, as in connect.json) reads arbitrary
 * bytes as message 2.  Nothing may crash; every result must be one of the
 * documented errors, and a success must leave a complete handshake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/noise/noise.h"
#include "daemon/noise/payload.h"
#include "keys.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keypair srv, cli, ei, er;
static uint8_t payload[NOISE_PAYLOAD_MAX + 1024];
static uint8_t out[NOISE_PAYLOAD_MAX + 1024];

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* The connect.json key pairs: seeds 00.., 20.., 40.., 60.. */
static void
setup(void)
{
	static int done;
	uint8_t seed[32];
	int i, k;
	struct keypair *kp[4] = { &srv, &cli, &ei, &er };

	if (done)
		return;
	done = 1;
	check(keys_init() == 0);
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 32; i++)
			seed[i] = (uint8_t)(k * 32 + i);
		check(keys_from_seed(kp[k], seed) == 0);
	}
}

static void
responder(const uint8_t *msg, size_t len)
{
	struct noise_ik hs;
	struct noise_payload p;
	struct noise_result r;
	size_t plen, n;
	int err;

	check(noise_ik_init(&hs, false, &srv, NULL) == 0);
	err = noise_ik_read(&hs, msg, len, payload, sizeof(payload), &plen);
	check(err == 0 || err == -EBADMSG);
	if (err != 0) {
		check(hs.state == NOISE_IK_FAILED);
		check(noise_ik_remote_static(&hs) == NULL);
		return;
	}
	check(len == plen + NOISE_MSG1_OVERHEAD);
	check(noise_ik_remote_static(&hs) != NULL);
	(void)noise_payload_decode(&p, payload, plen);
	noise_ik_set_ephemeral(&hs, &er);
	check(noise_ik_write(&hs, payload, plen, out, sizeof(out), &n) == 0);
	check(noise_ik_split(&hs, &r) == 0);
}

static void
initiator(const uint8_t *msg, size_t len)
{
	static const uint8_t p1[] = { 0x01, 0x18, 0, 0, 0x01, 0, 0x01, 0,
	    0x01 };
	struct noise_ik hs;
	struct noise_result r;
	size_t plen, n;
	int err;

	check(noise_ik_init(&hs, true, &cli, srv.pk) == 0);
	noise_ik_set_ephemeral(&hs, &ei);
	check(noise_ik_write(&hs, p1, sizeof(p1), out, sizeof(out), &n) == 0);
	err = noise_ik_read(&hs, msg, len, payload, sizeof(payload), &plen);
	check(err == 0 || err == -EBADMSG);
	check((err == 0) == noise_ik_complete(&hs));
	if (err == 0)
		check(noise_ik_split(&hs, &r) == 0 && r.initiator);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	if (data[0] & 1)
		initiator(data + 1, size - 1);
	else
		responder(data + 1, size - 1);
	return 0;
}
