/*
 * test_noise_codec.c - handshake payload, PEER_HANDSHAKE / PEER_HOLEPUNCH
 * values, holepunch payload, secure payload and tokens against
 * connect.json (via tests/unit/noise_vectors.kv), plus malformed input
 *
 * Each decoded value is printed in the canonical text form that
 * noise_vectors_gen.js wrote from the reference's own decoded objects, so a
 * field the C decoder gets wrong shows up as a string mismatch.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"
#include "daemon/noise/payload.h"
#include "harness.h"
#include "keys.h"
#include "noise_vectors.h"

struct sbuf {
	char	s[8192];
	size_t	n;
};

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		b->n += (size_t)r;
	if (b->n >= sizeof(b->s))
		b->n = sizeof(b->s) - 1;
}

static void
sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sb_printf(b, "%02x", p[i]);
}

static void
sb_addr(struct sbuf *b, const struct hn_addr *a)
{
	char s[HN_ADDR_STRLEN];

	sb_printf(b, "%s", addr_format(a, s));
}

static void
sb_addrs(struct sbuf *b, const struct hn_addr *a, size_t n)
{
	size_t i;

	if (n == 0)
		sb_printf(b, "-");
	for (i = 0; i < n; i++) {
		if (i)
			sb_printf(b, ",");
		sb_addr(b, &a[i]);
	}
}

static const char *
canon_payload(struct sbuf *b, const struct noise_payload *p)
{
	size_t i;

	b->n = 0;
	sb_printf(b, "v=%llu;f=%llu;e=%llu;fw=%llu;hp=",
	    (unsigned long long)p->version, (unsigned long long)p->flags,
	    (unsigned long long)p->error, (unsigned long long)p->firewall);
	if (p->has_holepunch) {
		sb_printf(b, "%llu:", (unsigned long long)p->holepunch_id);
		for (i = 0; i < p->nrelays; i++) {
			if (i)
				sb_printf(b, ",");
			sb_addr(b, &p->relays[i].relay);
			sb_printf(b, "/");
			sb_addr(b, &p->relays[i].peer);
		}
	} else {
		sb_printf(b, "-");
	}
	sb_printf(b, ";a4=");
	sb_addrs(b, p->addr4, p->naddr4);
	sb_printf(b, ";a6=");
	if (p->naddr6 == 0)
		sb_printf(b, "-");
	for (i = 0; i < p->naddr6; i++) {
		if (i)
			sb_printf(b, ",");
		sb_hex(b, p->addr6[i].ip, 16);
		sb_printf(b, "@%u", p->addr6[i].port);
	}
	sb_printf(b, ";udx=");
	if (p->has_udx)
		sb_printf(b, "%llu,%d,%llu,%llu",
		    (unsigned long long)p->udx_version, p->udx_reusable ? 1 : 0,
		    (unsigned long long)p->udx_id,
		    (unsigned long long)p->udx_seq);
	else
		sb_printf(b, "-");
	sb_printf(b, ";ss=");
	if (p->has_secret_stream)
		sb_printf(b, "%llu",
		    (unsigned long long)p->secret_stream_version);
	else
		sb_printf(b, "-");
	sb_printf(b, ";rt=");
	if (p->has_relay_through) {
		sb_printf(b, "%llu,",
		    (unsigned long long)p->relay_through_version);
		sb_hex(b, p->relay_through_pk, 32);
		sb_printf(b, ",");
		sb_hex(b, p->relay_through_token, 32);
	} else {
		sb_printf(b, "-");
	}
	sb_printf(b, ";ra=");
	if (p->has_relay_addrs) {
		for (i = 0; i < p->nrelay_addrs; i++) {
			if (i)
				sb_printf(b, ",");
			sb_addr(b, &p->relay_addrs[i]);
		}
	} else {
		sb_printf(b, "-");
	}
	return b->s;
}

static const char *
canon_holepunch(struct sbuf *b, const struct holepunch_payload *p)
{
	b->n = 0;
	sb_printf(b, "e=%llu;fw=%llu;r=%llu;c=%d;p=%d;addrs=",
	    (unsigned long long)p->error, (unsigned long long)p->firewall,
	    (unsigned long long)p->round, p->connected ? 1 : 0,
	    p->punching ? 1 : 0);
	if (p->has_addresses)
		sb_addrs(b, p->addresses, p->naddresses);
	else
		sb_printf(b, "-");
	sb_printf(b, ";ra=");
	if (p->has_remote_address)
		sb_addr(b, &p->remote_address);
	else
		sb_printf(b, "-");
	sb_printf(b, ";tok=");
	if (p->has_token)
		sb_hex(b, p->token, 32);
	else
		sb_printf(b, "-");
	sb_printf(b, ";rtok=");
	if (p->has_remote_token)
		sb_hex(b, p->remote_token, 32);
	else
		sb_printf(b, "-");
	return b->s;
}

/* "SECTION.I.FIELD" */
static const char *
key(const char *section, long i, const char *field)
{
	static char k[128];

	snprintf(k, sizeof(k), "%s.%ld.%s", section, i, field);
	return k;
}

/* ---------------------------------------------------------- noise payload */

static void
payload_vectors(void)
{
	long n = nv_long("payload.count"), i;
	struct noise_payload p;
	struct sbuf b;

	CHECK_INT(n, 3);
	for (i = 0; i < n; i++) {
		uint8_t *enc, out[2048];
		size_t len, olen;

		enc = nv_hex(key("payload", i, "encoded"), &len);
		CHECK_INT(noise_payload_decode(&p, enc, len), 0);
		CHECK_STR(canon_payload(&b, &p),
		    nv_str(key("payload", i, "decoded")));
		CHECK_INT(noise_payload_encode(&p, out, sizeof(out), &olen), 0);
		CHECK_UINT(olen, len);
		CHECK_MEM(out, enc, len);
		CHECK(olen <= noise_payload_max_size());
		/* too small an output buffer at every size */
		for (size_t cap = 0; cap < len; cap++)
			CHECK_INT(noise_payload_encode(&p, out, cap, &olen),
			    -ENOSPC);
		free(enc);
	}
}

/*
 * [6.5.1] @hyperswarm/dht never sends flags 32/64: the same values without
 * the relay fields encode to its bytes, and its bytes decode to them.
 */
static void
payload_vectors_651(void)
{
	long n = nv_long("payload.count"), i;
	struct noise_payload p, q;
	struct sbuf b1, b2;

	for (i = 0; i < n; i++) {
		uint8_t *enc, *old, out[2048];
		size_t len, olen, oldlen;

		enc = nv_hex(key("payload", i, "encoded"), &len);
		old = nv_hex(key("payload", i, "encoded_651"), &oldlen);
		CHECK_INT(noise_payload_decode(&p, enc, len), 0);
		p.has_relay_through = false;
		p.has_relay_addrs = false;
		p.nrelay_addrs = 0;
		CHECK_INT(noise_payload_encode(&p, out, sizeof(out), &olen), 0);
		CHECK_UINT(olen, oldlen);
		CHECK_MEM(out, old, oldlen);
		CHECK_INT(noise_payload_decode(&q, old, oldlen), 0);
		p.flags &= ~(uint64_t)(NOISE_PAYLOAD_F_RELAY_THROUGH |
		    NOISE_PAYLOAD_F_RELAY_ADDRS);
		CHECK_STR(canon_payload(&b1, &q), canon_payload(&b2, &p));
		free(enc), free(old);
	}
}

static void
payload_version_mismatch(void)
{
	struct noise_payload p;
	uint8_t *enc;
	size_t len;

	enc = nv_hex("payload.version_mismatch", &len);
	CHECK_INT(noise_payload_decode(&p, enc, len), 0);
	CHECK_UINT(p.version, 2);
	CHECK(!p.has_udx && !p.has_secret_stream && p.naddr4 == 0);
	free(enc);
}

/* Every strict prefix fails; trailing bytes are ignored. */
static void
payload_truncated_and_trailing(void)
{
	long n = nv_long("payload.count"), i;
	struct noise_payload p, q;
	struct sbuf b1, b2;
	int bad = 0;

	for (i = 0; i < n; i++) {
		uint8_t *enc, *ext;
		size_t len, cut;

		enc = nv_hex(key("payload", i, "encoded"), &len);
		for (cut = 0; cut < len; cut++) {
			memset(&p, 0xaa, sizeof(p));
			if (noise_payload_decode(&p, enc, cut) != -EBADMSG)
				bad++;
			else if (p.version != 0 || p.has_udx)
				bad++;	/* output not cleared */
		}
		ext = malloc(len + 5);
		memcpy(ext, enc, len);
		memcpy(ext + len, "\x01\x02\x03\xff\xff", 5);
		CHECK_INT(noise_payload_decode(&p, enc, len), 0);
		CHECK_INT(noise_payload_decode(&q, ext, len + 5), 0);
		CHECK_STR(canon_payload(&b1, &q), canon_payload(&b2, &p));
		free(enc), free(ext);
	}
	CHECK_INT(bad, 0);
}

static void
payload_long_lists(void)
{
	/* 40 addresses4: accepted, the first NOISE_PAYLOAD_ADDR4_MAX kept */
	uint8_t buf[512];
	struct noise_payload p;
	size_t i, n = 0;

	buf[n++] = 1;		/* version */
	buf[n++] = 2;		/* flags: addresses4 */
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 40;
	for (i = 0; i < 40; i++) {
		buf[n++] = 10, buf[n++] = 0, buf[n++] = 0, buf[n++] = (uint8_t)i;
		buf[n++] = 1, buf[n++] = 2;
	}
	CHECK_INT(noise_payload_decode(&p, buf, n), 0);
	CHECK_UINT(p.naddr4, NOISE_PAYLOAD_ADDR4_MAX);
	CHECK_UINT(p.addr4[31].ip[3], 31);
	CHECK_UINT(p.addr4[31].port, 0x0201);
	/* a count that claims more than the bytes hold */
	buf[4] = 41;
	CHECK_INT(noise_payload_decode(&p, buf, n), -EBADMSG);
	/* a count above the JS array limit */
	buf[4] = 0xfe;
	buf[5] = 0x01, buf[6] = 0x00, buf[7] = 0x10, buf[8] = 0x00;
	CHECK_INT(noise_payload_decode(&p, buf, n), -EBADMSG);
}

static void
payload_encoder_rules(void)
{
	struct noise_payload p;
	uint8_t out[256];
	size_t len;

	memset(&p, 0, sizeof(p));
	p.has_relay_addrs = true;		/* present but empty: flag 64 */
	CHECK_INT(noise_payload_encode(&p, out, sizeof(out), &len), 0);
	CHECK_HEX(out, len, "0140000000");
	p.has_relay_addrs = false;
	p.udx_id = 1ULL << 53;			/* not a JS number */
	p.has_udx = true;
	CHECK_INT(noise_payload_encode(&p, out, sizeof(out), &len), -EINVAL);
	p.udx_id = 0;
	p.naddr4 = NOISE_PAYLOAD_ADDR4_MAX + 1;
	CHECK_INT(noise_payload_encode(&p, out, sizeof(out), &len), -EINVAL);
}

/* ---------------------------------------------- PEER_HANDSHAKE/HOLEPUNCH */

static void
handshake_values(void)
{
	long n = nv_long("hsval.count"), i;

	CHECK_INT(n, 6);
	for (i = 0; i < n; i++) {
		struct peer_handshake m;
		uint8_t *enc, out[512];
		size_t len, olen, cut;
		struct sbuf b;
		int bad = 0;

		enc = nv_hex(key("hsval", i, "encoded"), &len);
		CHECK_INT(peer_handshake_decode(&m, enc, len), 0);
		b.n = 0;
		sb_printf(&b, "m=%llu;pa=", (unsigned long long)m.mode);
		if (m.has_peer)
			sb_addr(&b, &m.peer);
		else
			sb_printf(&b, "-");
		sb_printf(&b, ";ra=");
		if (m.has_relay)
			sb_addr(&b, &m.relay);
		else
			sb_printf(&b, "-");
		sb_printf(&b, ";noise=");
		sb_hex(&b, m.noise, m.noise_len);
		CHECK_STR(b.s, nv_str(key("hsval", i, "decoded")));
		CHECK_INT(peer_handshake_encode(&m, out, sizeof(out), &olen), 0);
		CHECK_UINT(olen, len);
		CHECK_MEM(out, enc, len);
		for (cut = 0; cut < len; cut++)
			if (peer_handshake_decode(&m, enc, cut) != -EBADMSG)
				bad++;
		CHECK_INT(bad, 0);
		free(enc);
	}
}

static void
handshake_value_empty_noise(void)
{
	static const uint8_t v[] = { 0, 0, 0 };
	struct peer_handshake m;
	uint8_t out[16];
	size_t len;

	/* decodes (6.34 gives an empty buffer) but no Noise message is empty */
	CHECK_INT(peer_handshake_decode(&m, v, sizeof(v)), 0);
	CHECK(m.noise == NULL && m.noise_len == 0);
	CHECK_INT(peer_handshake_encode(&m, out, sizeof(out), &len), -EINVAL);
}

static void
holepunch_values(void)
{
	long n = nv_long("hpval.count"), i;

	CHECK_INT(n, 4);
	for (i = 0; i < n; i++) {
		struct peer_holepunch m;
		uint8_t *enc, out[512];
		size_t len, olen, cut;
		struct sbuf b;
		int bad = 0;

		enc = nv_hex(key("hpval", i, "encoded"), &len);
		CHECK_INT(peer_holepunch_decode(&m, enc, len), 0);
		b.n = 0;
		sb_printf(&b, "m=%llu;id=%llu;pa=", (unsigned long long)m.mode,
		    (unsigned long long)m.id);
		if (m.has_peer)
			sb_addr(&b, &m.peer);
		else
			sb_printf(&b, "-");
		sb_printf(&b, ";payload=");
		sb_hex(&b, m.payload, m.payload_len);
		CHECK_STR(b.s, nv_str(key("hpval", i, "decoded")));
		CHECK_INT(peer_holepunch_encode(&m, out, sizeof(out), &olen), 0);
		CHECK_UINT(olen, len);
		CHECK_MEM(out, enc, len);
		for (cut = 0; cut < len; cut++)
			if (peer_holepunch_decode(&m, enc, cut) != -EBADMSG)
				bad++;
		CHECK_INT(bad, 0);
		free(enc);
	}
}

/* ------------------------------------------------------ holepunch payload */

static void
holepunch_payload_vectors(void)
{
	long n = nv_long("hp.count"), i;
	uint8_t secret[32];

	CHECK_INT(n, 3);
	nv_fixed("hp.secret", secret, 32);
	for (i = 0; i < n; i++) {
		struct holepunch_payload p, q;
		uint8_t *plain, *box, nonce[24], out[512];
		size_t plen, blen, olen, cut;
		struct sbuf b;
		int bad = 0;

		plain = nv_hex(key("hp", i, "plaintext"), &plen);
		box = nv_hex(key("hp", i, "encrypted"), &blen);
		nv_fixed(key("hp", i, "nonce"), nonce, 24);
		CHECK_UINT(plain[0], (uint64_t)nv_long(key("hp", i, "flags")));

		CHECK_INT(holepunch_payload_decode(&p, plain, plen), 0);
		CHECK_STR(canon_holepunch(&b, &p),
		    nv_str(key("hp", i, "decoded")));
		CHECK_INT(holepunch_payload_encode(&p, out, sizeof(out), &olen),
		    0);
		CHECK_UINT(olen, plen);
		CHECK_MEM(out, plain, plen);
		for (cut = 0; cut < plen; cut++)
			if (holepunch_payload_decode(&q, plain, cut) != -EBADMSG)
				bad++;
		CHECK_INT(bad, 0);

		/* secure payload with the vector's fixed nonce */
		CHECK_INT(holepunch_payload_seal(&p, secret, nonce, out,
		    sizeof(out), &olen), 0);
		CHECK_UINT(olen, blen);
		CHECK_MEM(out, box, blen);
		CHECK_INT(holepunch_payload_open(&q, secret, box, blen), 0);
		CHECK_STR(canon_holepunch(&b, &q),
		    nv_str(key("hp", i, "decoded")));
		free(plain), free(box);
	}
}

static void
holepunch_open_rejects(void)
{
	struct holepunch_payload p;
	uint8_t secret[32], other[32], *box;
	size_t blen, i;
	int bad = 0;

	nv_fixed("hp.secret", secret, 32);
	box = nv_hex("hp.2.encrypted", &blen);	/* abort: 4-byte plaintext */
	CHECK_UINT(blen, 44);
	for (i = 0; i < blen; i++) {
		box[i] ^= 0x10;
		if (holepunch_payload_open(&p, secret, box, blen) != -EBADMSG)
			bad++;
		box[i] ^= 0x10;
	}
	CHECK_INT(bad, 0);
	for (i = 0; i <= 40; i++)
		CHECK_INT(holepunch_payload_open(&p, secret, box, i), -EBADMSG);
	memcpy(other, secret, 32);
	other[0] ^= 1;
	CHECK_INT(holepunch_payload_open(&p, other, box, blen), -EBADMSG);
	CHECK_INT(holepunch_payload_open(&p, secret, box, blen), 0);
	CHECK_UINT(p.error, 1);
	free(box);
}

static void
holepunch_open_undecodable(void)
{
	/* authentic box whose plaintext does not decode: dropped */
	uint8_t secret[32], nonce[24] = { 0 }, box[64];
	static const uint8_t plain[] = { 0x10, 0, 0, 0 };	/* token missing */
	struct holepunch_payload p;

	nv_fixed("hp.secret", secret, 32);
	memcpy(box, nonce, 24);
	crypto_secretbox_easy(box + 24, plain, sizeof(plain), nonce, secret);
	CHECK_INT(holepunch_payload_open(&p, secret, box, 24 + 16 + 4),
	    -EBADMSG);
}

static void
holepunch_seal_random_nonce(void)
{
	struct holepunch_payload p, q;
	uint8_t secret[32], a[256], b[256];
	size_t alen, blen;

	nv_fixed("hp.secret", secret, 32);
	memset(&p, 0, sizeof(p));
	p.firewall = 3;
	p.has_addresses = true;
	p.naddresses = 1;
	p.addresses[0].ip[0] = 198;
	CHECK_INT(holepunch_payload_seal(&p, secret, NULL, a, sizeof(a), &alen),
	    0);
	CHECK_INT(holepunch_payload_seal(&p, secret, NULL, b, sizeof(b), &blen),
	    0);
	CHECK(alen == blen && memcmp(a, b, 24) != 0);
	CHECK_INT(holepunch_payload_open(&q, secret, b, blen), 0);
	CHECK(q.firewall == 3 && q.naddresses == 1 && q.addresses[0].ip[0] == 198);
	CHECK_INT(holepunch_payload_seal(&p, secret, NULL, a, alen - 1, &alen),
	    -ENOSPC);
}

static void
holepunch_token_vector(void)
{
	uint8_t secret[32], want[32], out[32], ip[4];

	nv_fixed("hp.token.local_secret", secret, 32);
	nv_fixed("hp.token.token", want, 32);
	CHECK_INT(addr_parse_ip(nv_str("hp.token.host"), ip), 0);
	holepunch_token(out, secret, ip);
	CHECK_MEM(out, want, 32);
	ip[3]++;
	holepunch_token(out, secret, ip);
	CHECK(memcmp(out, want, 32) != 0);
}

static const struct test tests[] = {
	TEST(payload_vectors),
	TEST(payload_vectors_651),
	TEST(payload_version_mismatch),
	TEST(payload_truncated_and_trailing),
	TEST(payload_long_lists),
	TEST(payload_encoder_rules),
	TEST(handshake_values),
	TEST(handshake_value_empty_noise),
	TEST(holepunch_values),
	TEST(holepunch_payload_vectors),
	TEST(holepunch_open_rejects),
	TEST(holepunch_open_undecodable),
	TEST(holepunch_seal_random_nonce),
	TEST(holepunch_token_vector),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("noise_codec", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
