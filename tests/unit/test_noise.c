/*
 * test_noise.c - Noise IK against connect.json#noise_ik_handshake and
 * friends (via tests/unit/noise_vectors.kv), both roles, and its failures
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harness.h"
#include "keys.h"
#include "daemon/noise/noise.h"
#include "noise_vectors.h"

static void
key_from_vec(struct keypair *kp, const char *seedkey)
{
	uint8_t seed[32];

	nv_fixed(seedkey, seed, 32);
	CHECK_INT(keys_from_seed(kp, seed), 0);
}

static void
namespaces(void)
{
	uint8_t ns[32], want[32];

	keys_namespace(ns, "hyperswarm/dht", 0);
	nv_fixed("ns.peer_handshake", want, 32);
	CHECK_MEM(ns, want, 32);
	keys_namespace(ns, "hyperswarm/dht", 1);
	nv_fixed("ns.peer_holepunch", want, 32);
	CHECK_MEM(ns, want, 32);
}

static void
keypair_scalars(void)
{
	static const char *names[] = { "server_static", "client_static",
	    "initiator_ephemeral", "responder_ephemeral" };
	struct keypair kp;
	uint8_t want[32];
	char key[64];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "key.%s.seed", names[i]);
		key_from_vec(&kp, key);
		snprintf(key, sizeof(key), "key.%s.pk", names[i]);
		nv_fixed(key, want, 32);
		CHECK_MEM(kp.pk, want, 32);
		snprintf(key, sizeof(key), "key.%s.scalar", names[i]);
		nv_fixed(key, want, 32);
		CHECK_MEM(kp.scalar, want, 32);
	}
}

static void
dh_vector(void)
{
	struct keypair kp, srv;
	uint8_t pk[32], out[32], back[32], want[32];

	key_from_vec(&kp, "dh.local_seed");
	nv_fixed("dh.remote_pk", pk, 32);
	nv_fixed("dh.out", want, 32);
	CHECK_INT(noise_dh(out, kp.scalar, pk), 0);
	CHECK_MEM(out, want, 32);
	/* symmetric */
	key_from_vec(&srv, "ik.responder_static_seed");
	CHECK_INT(noise_dh(back, srv.scalar, kp.pk), 0);
	CHECK_MEM(back, want, 32);
}

static void
dh_rejects_bad_points(void)
{
	struct keypair kp;
	uint8_t out[32], bad[32];

	key_from_vec(&kp, "dh.local_seed");
	memset(bad, 0, sizeof(bad));			/* small order (y = 0) */
	CHECK_INT(noise_dh(out, kp.scalar, bad), -EINVAL);
	bad[0] = 1;					/* the identity */
	CHECK_INT(noise_dh(out, kp.scalar, bad), -EINVAL);
	memset(bad, 0xff, sizeof(bad));			/* non-canonical */
	CHECK_INT(noise_dh(out, kp.scalar, bad), -EINVAL);
}

/* A key pair with no seed, only pk and scalar (keypear style). */
static void
scalar_only(struct keypair *out, const struct keypair *in)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->pk, in->pk, 32);
	memcpy(out->scalar, in->scalar, 32);
	out->has_seed = false;
}

struct vec_keys {
	struct keypair	is, ie, rs, re;
};

static void
vec_keys(struct vec_keys *k)
{
	key_from_vec(&k->is, "ik.initiator_static_seed");
	key_from_vec(&k->ie, "ik.initiator_ephemeral_seed");
	key_from_vec(&k->rs, "ik.responder_static_seed");
	key_from_vec(&k->re, "ik.responder_ephemeral_seed");
}

static void
check_result(const struct noise_result *r, bool initiator)
{
	uint8_t want[64];

	CHECK(r->initiator == initiator);
	nv_fixed(initiator ? "ik.initiator_tx" : "ik.responder_tx", want, 32);
	CHECK_MEM(r->tx, want, 32);
	nv_fixed(initiator ? "ik.initiator_rx" : "ik.responder_rx", want, 32);
	CHECK_MEM(r->rx, want, 32);
	nv_fixed("ik.handshake_hash", want, 64);
	CHECK_MEM(r->hash, want, 64);
	nv_fixed("ik.holepunch_secret", want, 32);
	CHECK_MEM(r->holepunch_secret, want, 32);
	nv_fixed(initiator ? "ik.responder_static_publicKey" :
	    "ik.initiator_static_publicKey", want, 32);
	CHECK_MEM(r->remote_pk, want, 32);
}

static void
check_trace(const struct noise_ik *hs, int step)
{
	char key[64];
	uint8_t want[64];

	snprintf(key, sizeof(key), "ik.trace.%d.h", step);
	nv_fixed(key, want, 64);
	CHECK_MEM(hs->h, want, 64);
	snprintf(key, sizeof(key), "ik.trace.%d.ck", step);
	nv_fixed(key, want, 64);
	CHECK_MEM(hs->ck, want, 64);
	snprintf(key, sizeof(key), "ik.trace.%d.k", step);
	if (strcmp(nv_str(key), "-") == 0) {
		CHECK(!hs->has_k);
	} else {
		nv_fixed(key, want, 32);
		CHECK(hs->has_k);
		CHECK_MEM(hs->k, want, 32);
	}
}

static void
ik_initiator_vector(void)
{
	struct vec_keys k;
	struct noise_ik hs;
	struct noise_result r;
	uint8_t *p1, *m1, *m2, *p2, out[512], pl[512];
	size_t p1len, m1len, m2len, p2len, n, pn;

	vec_keys(&k);
	p1 = nv_hex("ik.payload1_plaintext", &p1len);
	m1 = nv_hex("ik.message1", &m1len);
	m2 = nv_hex("ik.message2", &m2len);
	p2 = nv_hex("ik.payload2_plaintext", &p2len);
	CHECK_INT(nv_long("ik.trace_count"), 12);

	CHECK_INT(noise_ik_init(&hs, true, &k.is, k.rs.pk), 0);
	check_trace(&hs, 2);		/* after the pre-message */
	noise_ik_set_ephemeral(&hs, &k.ie);
	CHECK_INT(noise_ik_write(&hs, p1, p1len, out, sizeof(out), &n), 0);
	CHECK_UINT(n, m1len);
	CHECK_MEM(out, m1, m1len);
	CHECK_UINT(n, NOISE_MSG1_OVERHEAD + p1len);
	check_trace(&hs, 7);		/* after msg1: payload */
	CHECK(!noise_ik_complete(&hs));
	CHECK_INT(noise_ik_split(&hs, &r), -EINVAL);

	CHECK_INT(noise_ik_read(&hs, m2, m2len, pl, sizeof(pl), &pn), 0);
	CHECK_UINT(pn, p2len);
	CHECK_MEM(pl, p2, p2len);
	CHECK(noise_ik_complete(&hs));
	CHECK_INT(noise_ik_split(&hs, &r), 0);
	check_result(&r, true);
	/* secrets are gone once the keys are split off */
	CHECK(sodium_is_zero(hs.ck, sizeof(hs.ck)));
	CHECK(sodium_is_zero(hs.e_scalar, sizeof(hs.e_scalar)));
	/* no more messages */
	CHECK_INT(noise_ik_write(&hs, p1, p1len, out, sizeof(out), &n), -EINVAL);
	noise_ik_wipe(&hs);
	free(p1), free(m1), free(m2), free(p2);
}

/* The responder role, from a seed key pair or from its scalar alone. */
static void
responder_vector(bool from_scalar)
{
	struct vec_keys k;
	struct keypair srv;
	struct noise_ik hs;
	struct noise_result r;
	uint8_t *p1, *m1, *m2, *p2, out[512], pl[512];
	size_t p1len, m1len, m2len, p2len, n, pn;
	const uint8_t *rs;

	vec_keys(&k);
	if (from_scalar)
		scalar_only(&srv, &k.rs);
	else
		srv = k.rs;
	p1 = nv_hex("ik.payload1_plaintext", &p1len);
	m1 = nv_hex("ik.message1", &m1len);
	m2 = nv_hex("ik.message2", &m2len);
	p2 = nv_hex("ik.payload2_plaintext", &p2len);

	CHECK_INT(noise_ik_init(&hs, false, &srv, NULL), 0);
	CHECK(noise_ik_remote_static(&hs) == NULL);
	CHECK_INT(noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn), 0);
	CHECK_UINT(pn, p1len);
	CHECK_MEM(pl, p1, p1len);
	check_trace(&hs, 7);
	rs = noise_ik_remote_static(&hs);
	CHECK(rs != NULL && memcmp(rs, k.is.pk, 32) == 0);

	noise_ik_set_ephemeral(&hs, &k.re);
	CHECK_INT(noise_ik_write(&hs, p2, p2len, out, sizeof(out), &n), 0);
	CHECK_UINT(n, m2len);
	CHECK_MEM(out, m2, m2len);
	CHECK_INT(noise_ik_split(&hs, &r), 0);
	check_result(&r, false);
	noise_ik_wipe(&hs);
	free(p1), free(m1), free(m2), free(p2);
}

static void
ik_responder_vector(void)
{
	responder_vector(false);
}

static void
ik_responder_vector_scalar_only(void)
{
	responder_vector(true);
}

/* Two C ends with random ephemerals and a keypear-derived server key. */
static void
ik_round_trip_derived_key(void)
{
	struct keypair base, srv, cli;
	struct noise_ik a, b;
	struct noise_result ra, rb;
	uint8_t m1[256], m2[256], pl[256];
	size_t n1, n2, pn;

	CHECK_INT(keys_from_secret(&base, "hyper-nat secret", 16), 0);
	CHECK_INT(keys_derive(&srv, &base, "tunnel", 6), 0);
	CHECK(!srv.has_seed);
	CHECK_INT(keys_generate(&cli), 0);

	CHECK_INT(noise_ik_init(&a, true, &cli, srv.pk), 0);
	CHECK_INT(noise_ik_init(&b, false, &srv, NULL), 0);
	CHECK_INT(noise_ik_write(&a, (const uint8_t *)"hi", 2, m1, sizeof(m1),
	    &n1), 0);
	CHECK_INT(noise_ik_read(&b, m1, n1, pl, sizeof(pl), &pn), 0);
	CHECK(pn == 2 && memcmp(pl, "hi", 2) == 0);
	CHECK_INT(noise_ik_write(&b, NULL, 0, m2, sizeof(m2), &n2), 0);
	CHECK_UINT(n2, NOISE_MSG2_OVERHEAD);
	CHECK_INT(noise_ik_read(&a, m2, n2, pl, sizeof(pl), &pn), 0);
	CHECK_UINT(pn, 0);
	CHECK_INT(noise_ik_split(&a, &ra), 0);
	CHECK_INT(noise_ik_split(&b, &rb), 0);
	CHECK_MEM(ra.tx, rb.rx, 32);
	CHECK_MEM(ra.rx, rb.tx, 32);
	CHECK_MEM(ra.hash, rb.hash, 64);
	CHECK_MEM(ra.remote_pk, srv.pk, 32);
	CHECK_MEM(rb.remote_pk, cli.pk, 32);
	CHECK_MEM(ra.holepunch_secret, rb.holepunch_secret, 32);
	CHECK(memcmp(ra.tx, ra.rx, 32) != 0);
}

/* Every single-byte change and every truncation of message 1 fails. */
static void
ik_tampered_msg1(void)
{
	struct vec_keys k;
	struct noise_ik hs;
	uint8_t *m1, pl[512];
	size_t m1len, pn, i;
	int bad = 0;

	vec_keys(&k);
	m1 = nv_hex("ik.message1", &m1len);
	for (i = 0; i < m1len; i++) {
		m1[i] ^= 0x01;
		noise_ik_init(&hs, false, &k.rs, NULL);
		if (noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn) !=
		    -EBADMSG || hs.state != NOISE_IK_FAILED)
			bad++;
		m1[i] ^= 0x01;
	}
	CHECK_INT(bad, 0);
	for (i = 0; i < m1len; i++) {
		noise_ik_init(&hs, false, &k.rs, NULL);
		if (noise_ik_read(&hs, m1, i, pl, sizeof(pl), &pn) != -EBADMSG)
			bad++;
	}
	CHECK_INT(bad, 0);
	/* a failed handshake stays failed */
	CHECK_INT(noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn), -EINVAL);
	/* the untouched message still works */
	noise_ik_init(&hs, false, &k.rs, NULL);
	CHECK_INT(noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn), 0);
	/* the wrong server key cannot read it */
	noise_ik_init(&hs, false, &k.is, NULL);
	CHECK_INT(noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn), -EBADMSG);
	free(m1);
}

static void
ik_tampered_msg2(void)
{
	struct vec_keys k;
	struct noise_ik hs;
	uint8_t *m2, out[512], pl[512];
	size_t m2len, n, pn, i;
	int bad = 0;

	vec_keys(&k);
	m2 = nv_hex("ik.message2", &m2len);
	for (i = 0; i <= m2len; i++) {
		noise_ik_init(&hs, true, &k.is, k.rs.pk);
		noise_ik_set_ephemeral(&hs, &k.ie);
		noise_ik_write(&hs, NULL, 0, out, sizeof(out), &n);
		if (i < m2len) {
			m2[i] ^= 0x80;
			if (noise_ik_read(&hs, m2, m2len, pl, sizeof(pl), &pn) !=
			    -EBADMSG)
				bad++;
			m2[i] ^= 0x80;
		} else if (noise_ik_read(&hs, m2, 47, pl, sizeof(pl), &pn) !=
		    -EBADMSG) {
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	free(m2);
}

static void
ik_bad_ephemeral_point(void)
{
	struct vec_keys k;
	struct noise_ik hs;
	uint8_t *m1, pl[512];
	size_t m1len, pn;

	vec_keys(&k);
	m1 = nv_hex("ik.message1", &m1len);
	memset(m1, 0, 32);
	m1[0] = 1;	/* identity point as e */
	noise_ik_init(&hs, false, &k.rs, NULL);
	CHECK_INT(noise_ik_read(&hs, m1, m1len, pl, sizeof(pl), &pn), -EBADMSG);
	free(m1);
}

static void
ik_bad_remote_static(void)
{
	struct vec_keys k;
	struct noise_ik hs;
	uint8_t bad[32] = { 1 }, out[256];
	size_t n;

	vec_keys(&k);
	CHECK_INT(noise_ik_init(&hs, true, &k.is, bad), 0);
	CHECK_INT(noise_ik_write(&hs, NULL, 0, out, sizeof(out), &n), -EINVAL);
	CHECK(hs.state == NOISE_IK_FAILED);
	CHECK_INT(noise_ik_init(&hs, true, &k.is, NULL), -EINVAL);
}

static void
ik_wrong_steps_and_space(void)
{
	struct vec_keys k;
	struct noise_ik a, b;
	uint8_t out[256], pl[256];
	size_t n, pn;

	vec_keys(&k);
	noise_ik_init(&a, true, &k.is, k.rs.pk);
	noise_ik_init(&b, false, &k.rs, NULL);
	/* initiator cannot read first, responder cannot write first */
	CHECK_INT(noise_ik_read(&a, out, 200, pl, sizeof(pl), &pn), -EINVAL);
	CHECK_INT(noise_ik_write(&b, NULL, 0, out, sizeof(out), &n), -EINVAL);
	/* too little room leaves the state usable */
	CHECK_INT(noise_ik_write(&a, NULL, 0, out, 95, &n), -ENOSPC);
	CHECK_INT(noise_ik_write(&a, (const uint8_t *)"x", 1, out, sizeof(out),
	    &n), 0);
	CHECK_INT(noise_ik_read(&b, out, n, pl, 0, &pn), -ENOSPC);
	CHECK_INT(noise_ik_read(&b, out, n, pl, 1, &pn), 0);
	CHECK(b.state == NOISE_IK_MSG2);
}

static void
ik_payload_limit(void)
{
	struct vec_keys k;
	struct noise_ik a, b;
	uint8_t *buf, *out, *pl;
	size_t n, pn;

	vec_keys(&k);
	buf = calloc(1, NOISE_PAYLOAD_MAX + 1);
	out = malloc(NOISE_PAYLOAD_MAX + 200);
	pl = malloc(NOISE_PAYLOAD_MAX + 200);
	noise_ik_init(&a, true, &k.is, k.rs.pk);
	CHECK_INT(noise_ik_write(&a, buf, NOISE_PAYLOAD_MAX + 1, out,
	    NOISE_PAYLOAD_MAX + 200, &n), -EMSGSIZE);
	CHECK_INT(noise_ik_write(&a, buf, NOISE_PAYLOAD_MAX, out,
	    NOISE_PAYLOAD_MAX + 200, &n), 0);
	noise_ik_init(&b, false, &k.rs, NULL);
	CHECK_INT(noise_ik_read(&b, out, n, pl, NOISE_PAYLOAD_MAX + 200, &pn),
	    0);
	CHECK_UINT(pn, NOISE_PAYLOAD_MAX);
	/* one byte more ciphertext than noise-handshake accepts */
	noise_ik_init(&b, false, &k.rs, NULL);
	CHECK_INT(noise_ik_read(&b, out, n + 1, pl, NOISE_PAYLOAD_MAX + 200,
	    &pn), -EBADMSG);
	free(buf), free(out), free(pl);
}

static const struct test tests[] = {
	TEST(namespaces),
	TEST(keypair_scalars),
	TEST(dh_vector),
	TEST(dh_rejects_bad_points),
	TEST(ik_initiator_vector),
	TEST(ik_responder_vector),
	TEST(ik_responder_vector_scalar_only),
	TEST(ik_round_trip_derived_key),
	TEST(ik_tampered_msg1),
	TEST(ik_tampered_msg2),
	TEST(ik_bad_ephemeral_point),
	TEST(ik_bad_remote_static),
	TEST(ik_wrong_steps_and_space),
	TEST(ik_payload_limit),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("noise", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
