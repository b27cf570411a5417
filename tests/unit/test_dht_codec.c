/*
 * test_dht_codec.c - dht-rpc envelope and HyperDHT payload codecs against
 * vectors/dht.json (through the generated tests/unit/dht_vectors.inc)
 *
 * Every vector decodes to the fields the JS reference decoded and encodes
 * back to the identical bytes; signatures are rebuilt from their signables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "harness.h"
#include "hex.h"
#include "keys.h"
#include "daemon/dht/msg.h"
#include "daemon/dht/wire.h"

#include "dht_vectors.inc"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static uint8_t *
unhex(const char *h, size_t *len)
{
	return harness_unhex(h, len);
}

static bool
check_addr(const struct hn_addr *a, const char *want, const char *what)
{
	char buf[HN_ADDR_STRLEN];

	addr_format(a, buf);
	if (strcmp(buf, want) != 0)
		return harness_fail(__FILE__, __LINE__, "%s: address %s, want %s",
		    what, buf, want);
	return true;
}

/* Compare a comma-separated list of addresses. */
static void
check_addr_list(const struct hn_addr *a, size_t n, const char *csv,
    const char *what)
{
	char *dup, *tok, *save;
	size_t i = 0;

	if (csv == NULL) {
		if (n != 0)
			harness_fail(__FILE__, __LINE__, "%s: %zu addrs, want none",
			    what, n);
		return;
	}
	dup = strdup(csv);
	for (tok = strtok_r(dup, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save), i++) {
		if (i >= n) {
			harness_fail(__FILE__, __LINE__, "%s: too few addrs", what);
			break;
		}
		check_addr(&a[i], tok, what);
	}
	if (i != n)
		harness_fail(__FILE__, __LINE__, "%s: %zu addrs, want %zu", what,
		    n, i);
	free(dup);
}

static void
check_opt_hex(bool has, const uint8_t *p, size_t n, const char *want,
    const char *what)
{
	if (want == NULL) {
		if (has)
			harness_fail(__FILE__, __LINE__, "%s: present, want absent",
			    what);
		return;
	}
	if (!has) {
		harness_fail(__FILE__, __LINE__, "%s: absent, want %s", what, want);
		return;
	}
	if (strlen(want) != 2 * n) {
		harness_fail(__FILE__, __LINE__, "%s: %zu bytes, want %zu", what,
		    n, strlen(want) / 2);
		return;
	}
	CHECK_HEX(p, n, want);
}

static void
msg_vectors(void)
{
	uint8_t out[DHT_MSG_MAX];
	size_t i, len;
	int n = 0;

	for (i = 0; i < NELEM(vec_msgs); i++) {
		const struct vmsg *v = &vec_msgs[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_msg m;
		int rc, olen;

		rc = dht_msg_decode(&m, buf, len);
		if (rc != 0) {
			harness_fail(__FILE__, __LINE__, "%s: decode %d", v->what, rc);
			free(buf);
			continue;
		}
		n++;
		if (v->kind == 'q' || v->kind == 'r') {
			CHECK_INT(m.type, v->kind == 'q' ? DHT_MSG_REQUEST :
			    DHT_MSG_RESPONSE);
			CHECK_INT(m.tid, v->tid);
			check_addr(&m.to, v->to, v->what);
			check_opt_hex(m.has_id, m.id, 32, v->id, v->what);
			check_opt_hex(m.has_token, m.token, 32, v->token, v->what);
			if (v->kind == 'q') {
				CHECK_INT(m.internal, v->internal);
				CHECK_INT(m.command, v->command);
				check_opt_hex(m.has_target, m.target, 32, v->target,
				    v->what);
			} else {
				check_addr_list(m.closer, m.ncloser, v->closer,
				    v->what);
				CHECK_INT(m.error, v->error);
			}
			check_opt_hex(m.value != NULL, m.value, m.value_len,
			    v->value, v->what);
			CHECK_INT(buf[1], v->flags);
		}
		olen = dht_msg_encode(&m, out, sizeof(out));
		if (olen != (int)len || memcmp(out, buf, len) != 0)
			harness_fail(__FILE__, __LINE__, "%s: re-encode differs",
			    v->what);
		free(buf);
	}
	/* the fixture must not be empty or truncated */
	CHECK(n >= 100);
}

static void
msg_rejects_truncated(void)
{
	size_t i, len, cut;
	int bad = 0;

	for (i = 0; i < NELEM(vec_msgs); i++) {
		uint8_t *buf = unhex(vec_msgs[i].hex, &len);
		struct dht_msg m;

		/* every strict prefix that ends inside a field must fail */
		for (cut = 0; cut < len; cut++) {
			uint8_t *p = malloc(cut ? cut : 1);

			memcpy(p, buf, cut);
			if (dht_msg_decode(&m, p, cut) == 0) {
				/* only possible when the prefix ends exactly at
				 * a field boundary of a value-less message: never */
				bad++;
			}
			free(p);
		}
		free(buf);
	}
	CHECK_INT(bad, 0);
}

static void
msg_filter(void)
{
	uint8_t one[1] = { 0x03 };
	uint8_t udx[20] = { 0xff, 0x01 };
	uint8_t req[11] = { 0x03, 0x04 };

	CHECK(!dht_msg_is_rpc(one, 1));
	CHECK(!dht_msg_is_rpc(udx, sizeof(udx)));
	CHECK(dht_msg_is_rpc(req, sizeof(req)));
}

static void
msg_trailing_and_nonminimal(void)
{
	/* PING request with a non-minimal flags uint and trailing bytes */
	uint8_t buf[] = { 0x03, 0xfd, 0x04, 0x00, 0x01, 0x02, 10, 0, 0, 1, 0x49,
	    0xc2, 0x00, 0xaa, 0xbb };
	struct dht_msg m;

	CHECK_INT(dht_msg_decode(&m, buf, sizeof(buf)), 0);
	CHECK(m.internal);
	CHECK_INT(m.tid, 0x0201);
	CHECK_INT(m.command, 0);
}

static void
handshake_vectors(void)
{
	uint8_t out[1024];
	size_t i, len;

	CHECK_UINT(NELEM(vec_handshakes) >= 6, 1);
	for (i = 0; i < NELEM(vec_handshakes); i++) {
		const struct vhandshake *v = &vec_handshakes[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_handshake h;
		int olen;

		if (!CHECK(dht_handshake_decode(&h, buf, len) == 0)) {
			free(buf);
			continue;
		}
		CHECK_INT(h.mode, v->mode);
		if (v->flags >= 0)
			CHECK_INT(buf[0], v->flags);
		if (v->noise != NULL)
			check_opt_hex(h.noise != NULL, h.noise, h.noise_len,
			    v->noise, v->what);
		if (v->peer)
			CHECK(h.has_peer_addr && check_addr(&h.peer_addr, v->peer,
			    v->what));
		else
			CHECK(!h.has_peer_addr);
		if (v->relay)
			CHECK(h.has_relay_addr && check_addr(&h.relay_addr,
			    v->relay, v->what));
		else
			CHECK(!h.has_relay_addr);
		olen = dht_handshake_encode(&h, out, sizeof(out));
		CHECK(olen == (int)len && memcmp(out, buf, len) == 0);
		free(buf);
	}
}

static void
holepunch_vectors(void)
{
	uint8_t out[1024];
	size_t i, len;

	CHECK_UINT(NELEM(vec_holepunches) >= 4, 1);
	for (i = 0; i < NELEM(vec_holepunches); i++) {
		const struct vholepunch *v = &vec_holepunches[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_holepunch h;
		int olen;

		if (!CHECK(dht_holepunch_decode(&h, buf, len) == 0)) {
			free(buf);
			continue;
		}
		CHECK_INT(h.mode, v->mode);
		CHECK_INT(h.id, v->id);
		if (v->payload != NULL)
			check_opt_hex(h.payload != NULL, h.payload, h.payload_len,
			    v->payload, v->what);
		if (v->peer)
			CHECK(h.has_peer_addr && check_addr(&h.peer_addr, v->peer,
			    v->what));
		else
			CHECK(!h.has_peer_addr);
		olen = dht_holepunch_encode(&h, out, sizeof(out));
		CHECK(olen == (int)len && memcmp(out, buf, len) == 0);
		free(buf);
	}
}

static void
peer_vectors(void)
{
	uint8_t out[256];
	size_t i, len;

	CHECK_UINT(NELEM(vec_peers) >= 2, 1);
	for (i = 0; i < NELEM(vec_peers); i++) {
		const struct vpeer *v = &vec_peers[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct cenc_peer p;

		CHECK_INT(dht_peer_decode(&p, buf, len), 0);
		CHECK_HEX(p.publicKey, 32, v->pk);
		check_addr_list(p.relays, p.nrelays, v->relays, v->what);
		CHECK_INT(dht_peer_encode(&p, out, sizeof(out)), len);
		CHECK_MEM(out, buf, len);
		free(buf);
	}
}

static void
lookup_vectors(void)
{
	uint8_t out[4096];
	size_t i, len;
	int n_legacy = 0;

	for (i = 0; i < NELEM(vec_lookups); i++) {
		const struct vlookup *v = &vec_lookups[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_lookup_reply r;
		int olen;

		CHECK_INT(dht_lookup_reply_decode(&r, buf, len), 0);
		if (v->npeers >= 0) {
			CHECK_INT(r.npeers, v->npeers);
			CHECK_HEX(r.peers[0].publicKey, 32, v->pk0);
			CHECK_UINT(r.bump, v->bump);
		}
		olen = dht_lookup_reply_encode(&r, out, sizeof(out));
		if (v->canon) {
			CHECK(olen == (int)len && memcmp(out, buf, len) == 0);
		} else {
			/* 6.5.1 form: no bump; we re-encode with bump 0 */
			n_legacy++;
			CHECK_UINT(r.bump, 0);
			CHECK(olen == (int)len + 1 && memcmp(out, buf, len) == 0 &&
			    out[len] == 0);
		}
		free(buf);
	}
	CHECK_INT(n_legacy, 1);
}

static void
announce_vectors(void)
{
	uint8_t out[1024], signable[64];
	size_t i, len, n_sig = 0;

	CHECK_UINT(NELEM(vec_announces) >= 6, 1);
	for (i = 0; i < NELEM(vec_announces); i++) {
		const struct vannounce *v = &vec_announces[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_announce a;
		int olen;

		if (!CHECK(dht_announce_decode(&a, buf, len) == 0)) {
			free(buf);
			continue;
		}
		if (v->has_peer >= 0) {
			CHECK_INT(a.has_peer, v->has_peer);
			if (v->has_peer) {
				CHECK_HEX(a.peer.publicKey, 32, v->pk);
				check_addr_list(a.peer.relays, a.peer.nrelays,
				    v->relays, v->what);
			}
			check_opt_hex(a.has_refresh, a.refresh, 32, v->refresh,
			    v->what);
			check_opt_hex(a.has_signature, a.signature, 64, v->sig,
			    v->what);
			CHECK_UINT(a.bump, v->bump);
		}
		olen = dht_announce_encode(&a, out, sizeof(out));
		CHECK(olen == (int)len && memcmp(out, buf, len) == 0);
		if (v->sigok) {
			/* live traffic: the storing node's id and token */
			uint8_t *t = unhex(v->target, &len);
			uint8_t *nid = unhex(v->node_id, &len);
			uint8_t *tok = unhex(v->token, &len);

			dht_announce_signable(signable, v->cmd == 5 ?
			    DHT_NS_UNANNOUNCE : DHT_NS_ANNOUNCE, t, nid, tok,
			    a.peer_enc, a.peer_enc_len,
			    a.has_refresh ? a.refresh : NULL);
			CHECK(keys_verify(a.signature, signable, 64,
			    a.peer.publicKey));
			/* and the other namespace must not verify */
			signable[0] ^= 1;
			CHECK(!keys_verify(a.signature, signable, 64,
			    a.peer.publicKey));
			n_sig++;
			free(t), free(nid), free(tok);
		}
		free(buf);
	}
	CHECK_UINT(n_sig >= 3, 1);
}

static void
plugin_vectors(void)
{
	uint8_t out[256];
	size_t i, len;

	CHECK_UINT(NELEM(vec_plugins) >= 1, 1);
	for (i = 0; i < NELEM(vec_plugins); i++) {
		const struct vplugin *v = &vec_plugins[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_plugin_request p;

		CHECK_INT(dht_plugin_request_decode(&p, buf, len), 0);
		CHECK(p.plugin_len == strlen(v->plugin) &&
		    memcmp(p.plugin, v->plugin, p.plugin_len) == 0);
		CHECK_INT(p.version, v->version);
		CHECK_INT(p.command, v->command);
		check_opt_hex(p.has_value, p.value, p.value_len, v->value,
		    v->what);
		CHECK_INT(dht_plugin_request_encode(&p, out, sizeof(out)), len);
		CHECK_MEM(out, buf, len);
		free(buf);
	}
}

static void
mutable_vectors(void)
{
	uint8_t out[1024], signable[64], target[32];
	size_t i, len;

	CHECK_UINT(NELEM(vec_mutputs) >= 2, 1);
	for (i = 0; i < NELEM(vec_mutputs); i++) {
		const struct vmutput *v = &vec_mutputs[i];
		uint8_t *buf = unhex(v->hex, &len);
		struct dht_mutable m;

		CHECK_INT(dht_mutable_put_decode(&m, buf, len), 0);
		if (v->pk) {
			CHECK_HEX(m.public_key, 32, v->pk);
			CHECK_INT(m.seq, v->seq);
			check_opt_hex(m.value != NULL, m.value, m.value_len,
			    v->value, v->what);
			CHECK_HEX(m.signature, 64, v->sig);
		}
		dht_mutable_signable(signable, m.seq, m.value, m.value_len);
		CHECK(keys_verify(m.signature, signable, 64, m.public_key));
		keys_hash(target, m.public_key, 32);
		CHECK_INT(dht_mutable_put_encode(&m, out, sizeof(out)), len);
		CHECK_MEM(out, buf, len);
		free(buf);
	}
}

/* MUTABLE_GET response values inside the rpc vectors. */
static void
mutable_get_in_msgs(void)
{
	uint8_t out[1024];
	size_t i, len;
	int n = 0;

	for (i = 0; i < NELEM(vec_msgs); i++) {
		const struct vmsg *v = &vec_msgs[i];
		uint8_t *buf, *val;
		struct dht_mutable m;
		size_t vlen;

		if (v->kind != 'r' || v->value == NULL ||
		    strstr(v->what, "MUTABLE_GET") == NULL ||
		    strstr(v->what, "IMMUTABLE") != NULL)
			continue;
		buf = unhex(v->hex, &len);
		val = unhex(v->value, &vlen);
		CHECK_INT(dht_mutable_get_decode(&m, val, vlen), 0);
		CHECK_INT(dht_mutable_get_encode(&m, out, sizeof(out)), vlen);
		CHECK_MEM(out, val, vlen);
		n++;
		free(buf), free(val);
	}
	CHECK(n >= 1);
}

static void
signature_vectors(void)
{
	uint8_t signable[64], sig[64], peer_enc[64];
	size_t i, len;
	int n_exact = 0;

	CHECK_INT(NELEM(vec_sigs), 5);
	for (i = 0; i < NELEM(vec_sigs); i++) {
		const struct vsig *v = &vec_sigs[i];
		uint8_t *pk = unhex(v->pk, &len);
		uint8_t *want = unhex(v->sig, &len);
		struct keypair kp;

		if (strcmp(v->kind, "mutable") == 0) {
			uint8_t *val = unhex(v->value, &len);

			dht_mutable_signable(signable, (uint64_t)v->seq, val, len);
			free(val);
		} else {
			uint8_t *t = unhex(v->target, &len);
			uint8_t *nid = unhex(v->node_id, &len);
			uint8_t *tok = unhex(v->token, &len);
			uint8_t *pe, *rf = NULL;
			size_t pelen;

			if (v->peer_enc != NULL) {
				pe = unhex(v->peer_enc, &pelen);
			} else {
				/* keypear vector: the server's own record */
				memcpy(peer_enc, pk, 32);
				peer_enc[32] = 0;
				pe = malloc(33);
				memcpy(pe, peer_enc, 33);
				pelen = 33;
			}
			if (v->refresh)
				rf = unhex(v->refresh, &len);
			dht_announce_signable(signable,
			    strcmp(v->kind, "unannounce") == 0 ?
			    DHT_NS_UNANNOUNCE : DHT_NS_ANNOUNCE, t, nid, tok, pe,
			    pelen, rf);
			free(t), free(nid), free(tok), free(pe), free(rf);
		}
		CHECK_HEX(signable, 64, v->signable);
		CHECK(keys_verify(want, signable, 64, pk));
		if (v->seed != NULL) {
			uint8_t *seed = unhex(v->seed, &len);

			/* a seed key pair signs deterministically: same bytes */
			CHECK_INT(keys_from_seed(&kp, seed), 0);
			CHECK_MEM(kp.pk, pk, 32);
			CHECK_INT(keys_sign(sig, signable, 64, &kp), 0);
			CHECK_MEM(sig, want, 64);
			n_exact++;
			free(seed);
		} else {
			/* keypear raw scalar: any valid signature will do */
			uint8_t *scalar = unhex(v->scalar, &len);

			CHECK_INT(keys_sign_scalar(sig, signable, 64, scalar), 0);
			CHECK(keys_verify(sig, signable, 64, pk));
			free(scalar);
		}
		free(pk), free(want);
	}
	CHECK_INT(n_exact, 4);
}

static void
namespace_vectors(void)
{
	static const uint8_t idx[] = { DHT_NS_ANNOUNCE, DHT_NS_UNANNOUNCE,
	    DHT_NS_MUTABLE_PUT, DHT_NS_PEER_HANDSHAKE, DHT_NS_PEER_HOLEPUNCH,
	    DHT_NS_PLUGIN };
	uint8_t ns[32];
	size_t i;

	CHECK_INT(NELEM(vec_ns), NELEM(idx));
	for (i = 0; i < NELEM(vec_ns) && i < NELEM(idx); i++) {
		dht_ns(ns, idx[i]);
		CHECK_HEX(ns, 32, vec_ns[i].hex);
	}
}

static const struct test tests[] = {
	TEST(msg_vectors),
	TEST(msg_rejects_truncated),
	TEST(msg_filter),
	TEST(msg_trailing_and_nonminimal),
	TEST(handshake_vectors),
	TEST(holepunch_vectors),
	TEST(peer_vectors),
	TEST(lookup_vectors),
	TEST(announce_vectors),
	TEST(plugin_vectors),
	TEST(mutable_vectors),
	TEST(mutable_get_in_msgs),
	TEST(signature_vectors),
	TEST(namespace_vectors),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("test_dht_codec", tests, NELEM(tests), argc, argv);
}
