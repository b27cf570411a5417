/*
 * payload.c - handshake payload, PEER_HANDSHAKE / PEER_HOLEPUNCH values,
 * holepunch payload and its secretbox (spec/connect.md §4, §5.1, §7.1-7.4)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "cursor.h"
#include "payload.h"

#define IPV6_SIZE	18
#define RELAY_INFO_SIZE	12

/* A uint the reference could have produced (JS numbers are exact to 2^53). */
static void
put_uint(struct cur *c, uint64_t v)
{
	if (v > CENC_UINT_MAX)
		cur_fail(c, -EINVAL);
	cenc_put_uint(c, v);
}

static int
finish_encode(struct cur *c, size_t *len)
{
	if (!cur_ok(c))
		return c->err;
	*len = c->off;
	return 0;
}

/*
 * array(ipv4Address) into at most `max` slots; extra entries are read and
 * dropped.  Returns the count stored.
 */
static size_t
get_ipv4_list(struct cur *c, struct hn_addr *out, size_t max)
{
	size_t n = cenc_get_array_len(c, CENC_ARRAY_MAX, CENC_IPV4_SIZE), i;
	struct hn_addr skip;

	for (i = 0; i < n && cur_ok(c); i++)
		cenc_get_ipv4(c, i < max ? &out[i] : &skip);
	return n < max ? n : max;
}

static void
put_ipv6(struct cur *c, const struct noise_ipv6 *a)
{
	cur_put_bytes(c, a->ip, 16);
	cur_put_u16le(c, a->port);
}

static void
get_ipv6(struct cur *c, struct noise_ipv6 *a)
{
	cur_get_bytes(c, a->ip, 16);
	a->port = cur_get_u16le(c);
}

/* ------------------------------------------------------------ noisePayload */

size_t
noise_payload_max_size(void)
{
	return 4 * 9 +
	    9 + 9 + NOISE_PAYLOAD_RELAYS_MAX * RELAY_INFO_SIZE +
	    9 + NOISE_PAYLOAD_ADDR4_MAX * CENC_IPV4_SIZE +
	    9 + NOISE_PAYLOAD_ADDR6_MAX * IPV6_SIZE +
	    4 * 9 + 9 + 2 * 9 + 64 +
	    9 + NOISE_PAYLOAD_RELAY_ADDRS_MAX * CENC_IPV4_SIZE;
}

int
noise_payload_encode(const struct noise_payload *p, uint8_t *out, size_t cap,
    size_t *len)
{
	uint64_t flags = 0;
	struct cur c;
	size_t i;

	if (p->nrelays > NOISE_PAYLOAD_RELAYS_MAX ||
	    p->naddr4 > NOISE_PAYLOAD_ADDR4_MAX ||
	    p->naddr6 > NOISE_PAYLOAD_ADDR6_MAX ||
	    p->nrelay_addrs > NOISE_PAYLOAD_RELAY_ADDRS_MAX)
		return -EINVAL;
	/* §4 encoder rules: lists only when non-empty, except relayAddresses */
	if (p->has_holepunch)
		flags |= NOISE_PAYLOAD_F_HOLEPUNCH;
	if (p->naddr4 > 0)
		flags |= NOISE_PAYLOAD_F_ADDRESSES4;
	if (p->naddr6 > 0)
		flags |= NOISE_PAYLOAD_F_ADDRESSES6;
	if (p->has_udx)
		flags |= NOISE_PAYLOAD_F_UDX;
	if (p->has_secret_stream)
		flags |= NOISE_PAYLOAD_F_SECRET_STREAM;
	if (p->has_relay_through)
		flags |= NOISE_PAYLOAD_F_RELAY_THROUGH;
	if (p->has_relay_addrs)
		flags |= NOISE_PAYLOAD_F_RELAY_ADDRS;

	cur_init_write(&c, out, cap);
	put_uint(&c, 1);
	put_uint(&c, flags);
	put_uint(&c, p->error);
	put_uint(&c, p->firewall);
	if (p->has_holepunch) {
		put_uint(&c, p->holepunch_id);
		cenc_put_array_len(&c, p->nrelays);
		for (i = 0; i < p->nrelays; i++) {
			cenc_put_ipv4(&c, &p->relays[i].relay);
			cenc_put_ipv4(&c, &p->relays[i].peer);
		}
	}
	if (p->naddr4 > 0)
		cenc_put_ipv4_array(&c, p->addr4, p->naddr4);
	if (p->naddr6 > 0) {
		cenc_put_array_len(&c, p->naddr6);
		for (i = 0; i < p->naddr6; i++)
			put_ipv6(&c, &p->addr6[i]);
	}
	if (p->has_udx) {
		put_uint(&c, 1);
		put_uint(&c, p->udx_reusable ? 1 : 0);
		put_uint(&c, p->udx_id);
		put_uint(&c, p->udx_seq);
	}
	if (p->has_secret_stream)
		put_uint(&c, 1);
	if (p->has_relay_through) {
		put_uint(&c, 1);	/* version */
		put_uint(&c, 0);	/* flags */
		cenc_put_fixed32(&c, p->relay_through_pk);
		cenc_put_fixed32(&c, p->relay_through_token);
	}
	if (p->has_relay_addrs)
		cenc_put_ipv4_array(&c, p->relay_addrs, p->nrelay_addrs);
	return finish_encode(&c, len);
}

static void
get_holepunch_info(struct cur *c, struct noise_payload *p)
{
	size_t n, i;
	struct noise_relay_info skip;

	p->has_holepunch = true;
	p->holepunch_id = cenc_get_uint(c);
	n = cenc_get_array_len(c, CENC_ARRAY_MAX, RELAY_INFO_SIZE);
	for (i = 0; i < n && cur_ok(c); i++) {
		struct noise_relay_info *r =
		    i < NOISE_PAYLOAD_RELAYS_MAX ? &p->relays[i] : &skip;

		cenc_get_ipv4(c, &r->relay);
		cenc_get_ipv4(c, &r->peer);
	}
	p->nrelays = n < NOISE_PAYLOAD_RELAYS_MAX ? n :
	    NOISE_PAYLOAD_RELAYS_MAX;
}

static void
get_addr6_list(struct cur *c, struct noise_payload *p)
{
	size_t n = cenc_get_array_len(c, CENC_ARRAY_MAX, IPV6_SIZE), i;
	struct noise_ipv6 skip;

	for (i = 0; i < n && cur_ok(c); i++)
		get_ipv6(c, i < NOISE_PAYLOAD_ADDR6_MAX ? &p->addr6[i] : &skip);
	p->naddr6 = n < NOISE_PAYLOAD_ADDR6_MAX ? n : NOISE_PAYLOAD_ADDR6_MAX;
}

int
noise_payload_decode(struct noise_payload *out, const uint8_t *in, size_t len)
{
	struct noise_payload scratch, *p = &scratch;
	struct cur c;

	/* decode into scratch so *out is untouched until it all decoded */
	memset(p, 0, sizeof(*p));
	cur_init_read(&c, in, len);
	p->version = cenc_get_uint(&c);
	if (cur_ok(&c) && p->version != 1)
		goto done;	/* §4: report the version only */
	p->flags = cenc_get_uint(&c);
	p->error = cenc_get_uint(&c);
	p->firewall = cenc_get_uint(&c);
	if (p->flags & NOISE_PAYLOAD_F_HOLEPUNCH)
		get_holepunch_info(&c, p);
	if (p->flags & NOISE_PAYLOAD_F_ADDRESSES4)
		p->naddr4 = get_ipv4_list(&c, p->addr4,
		    NOISE_PAYLOAD_ADDR4_MAX);
	if (p->flags & NOISE_PAYLOAD_F_ADDRESSES6)
		get_addr6_list(&c, p);
	if (p->flags & NOISE_PAYLOAD_F_UDX) {
		uint64_t features;

		p->has_udx = true;
		p->udx_version = cenc_get_uint(&c);
		features = cenc_get_uint(&c);
		p->udx_reusable = (features & 1) != 0;
		p->udx_id = cenc_get_uint(&c);
		p->udx_seq = cenc_get_uint(&c);
	}
	if (p->flags & NOISE_PAYLOAD_F_SECRET_STREAM) {
		p->has_secret_stream = true;
		p->secret_stream_version = cenc_get_uint(&c);
	}
	if (p->flags & NOISE_PAYLOAD_F_RELAY_THROUGH) {
		p->has_relay_through = true;
		p->relay_through_version = cenc_get_uint(&c);
		(void)cenc_get_uint(&c);	/* flags, unused */
		cenc_get_fixed32(&c, p->relay_through_pk);
		cenc_get_fixed32(&c, p->relay_through_token);
	}
	if (p->flags & NOISE_PAYLOAD_F_RELAY_ADDRS) {
		p->has_relay_addrs = true;
		p->nrelay_addrs = get_ipv4_list(&c, p->relay_addrs,
		    NOISE_PAYLOAD_RELAY_ADDRS_MAX);
	}
done:
	/* trailing bytes are ignored, as every reference decoder does */
	if (!cur_ok(&c)) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	*out = *p;
	return 0;
}

/* ----------------------------------------------------- PEER_HANDSHAKE value */

int
peer_handshake_encode(const struct peer_handshake *m, uint8_t *out,
    size_t cap, size_t *len)
{
	struct cur c;

	if (m->noise_len == 0)
		return -EINVAL;	/* §1: never send an empty buffer */
	cur_init_write(&c, out, cap);
	put_uint(&c, (m->has_peer ? 1 : 0) | (m->has_relay ? 2 : 0));
	put_uint(&c, m->mode);
	cenc_put_buffer(&c, m->noise, m->noise_len);
	if (m->has_peer)
		cenc_put_ipv4(&c, &m->peer);
	if (m->has_relay)
		cenc_put_ipv4(&c, &m->relay);
	return finish_encode(&c, len);
}

int
peer_handshake_decode(struct peer_handshake *m, const uint8_t *in, size_t len)
{
	struct peer_handshake v;
	uint64_t flags;
	struct cur c;

	memset(&v, 0, sizeof(v));
	cur_init_read(&c, in, len);
	flags = cenc_get_uint(&c);
	v.mode = cenc_get_uint(&c);
	v.noise = cenc_get_buffer(&c, &v.noise_len);
	if ((v.has_peer = (flags & 1) != 0))
		cenc_get_ipv4(&c, &v.peer);
	if ((v.has_relay = (flags & 2) != 0))
		cenc_get_ipv4(&c, &v.relay);
	if (!cur_ok(&c)) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	*m = v;
	return 0;
}

/* ----------------------------------------------------- PEER_HOLEPUNCH value */

int
peer_holepunch_encode(const struct peer_holepunch *m, uint8_t *out,
    size_t cap, size_t *len)
{
	struct cur c;

	if (m->payload_len == 0)
		return -EINVAL;
	cur_init_write(&c, out, cap);
	put_uint(&c, m->has_peer ? 1 : 0);
	put_uint(&c, m->mode);
	put_uint(&c, m->id);
	cenc_put_buffer(&c, m->payload, m->payload_len);
	if (m->has_peer)
		cenc_put_ipv4(&c, &m->peer);
	return finish_encode(&c, len);
}

int
peer_holepunch_decode(struct peer_holepunch *m, const uint8_t *in, size_t len)
{
	struct peer_holepunch v;
	uint64_t flags;
	struct cur c;

	memset(&v, 0, sizeof(v));
	cur_init_read(&c, in, len);
	flags = cenc_get_uint(&c);
	v.mode = cenc_get_uint(&c);
	v.id = cenc_get_uint(&c);
	v.payload = cenc_get_buffer(&c, &v.payload_len);
	if ((v.has_peer = (flags & 1) != 0))
		cenc_get_ipv4(&c, &v.peer);
	if (!cur_ok(&c)) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	*m = v;
	return 0;
}

/* -------------------------------------------------------- holepunch payload */

size_t
holepunch_payload_max_size(void)
{
	return HOLEPUNCH_PAYLOAD_MAX_SIZE;
}

int
holepunch_payload_encode(const struct holepunch_payload *p, uint8_t *out,
    size_t cap, size_t *len)
{
	uint64_t flags;
	struct cur c;

	if (p->has_addresses && p->naddresses > HOLEPUNCH_ADDRS_MAX)
		return -EINVAL;
	flags = (p->connected ? HOLEPUNCH_F_CONNECTED : 0) |
	    (p->punching ? HOLEPUNCH_F_PUNCHING : 0) |
	    (p->has_addresses ? HOLEPUNCH_F_ADDRESSES : 0) |
	    (p->has_remote_address ? HOLEPUNCH_F_REMOTE_ADDRESS : 0) |
	    (p->has_token ? HOLEPUNCH_F_TOKEN : 0) |
	    (p->has_remote_token ? HOLEPUNCH_F_REMOTE_TOKEN : 0);
	cur_init_write(&c, out, cap);
	put_uint(&c, flags);
	put_uint(&c, p->error);
	put_uint(&c, p->firewall);
	put_uint(&c, p->round);
	if (p->has_addresses)
		cenc_put_ipv4_array(&c, p->addresses, p->naddresses);
	if (p->has_remote_address)
		cenc_put_ipv4(&c, &p->remote_address);
	if (p->has_token)
		cenc_put_fixed32(&c, p->token);
	if (p->has_remote_token)
		cenc_put_fixed32(&c, p->remote_token);
	return finish_encode(&c, len);
}

int
holepunch_payload_decode(struct holepunch_payload *out, const uint8_t *in,
    size_t len)
{
	struct holepunch_payload p;
	uint64_t flags;
	struct cur c;

	memset(&p, 0, sizeof(p));
	cur_init_read(&c, in, len);
	flags = cenc_get_uint(&c);
	p.error = cenc_get_uint(&c);
	p.firewall = cenc_get_uint(&c);
	p.round = cenc_get_uint(&c);
	p.connected = (flags & HOLEPUNCH_F_CONNECTED) != 0;
	p.punching = (flags & HOLEPUNCH_F_PUNCHING) != 0;
	if ((p.has_addresses = (flags & HOLEPUNCH_F_ADDRESSES) != 0))
		p.naddresses = get_ipv4_list(&c, p.addresses,
		    HOLEPUNCH_ADDRS_MAX);
	if ((p.has_remote_address = (flags & HOLEPUNCH_F_REMOTE_ADDRESS) != 0))
		cenc_get_ipv4(&c, &p.remote_address);
	if ((p.has_token = (flags & HOLEPUNCH_F_TOKEN) != 0))
		cenc_get_fixed32(&c, p.token);
	if ((p.has_remote_token = (flags & HOLEPUNCH_F_REMOTE_TOKEN) != 0))
		cenc_get_fixed32(&c, p.remote_token);
	if (!cur_ok(&c)) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

int
holepunch_payload_seal(const struct holepunch_payload *p,
    const uint8_t key[32], const uint8_t *nonce, uint8_t *out, size_t cap,
    size_t *len)
{
	uint8_t plain[HOLEPUNCH_PAYLOAD_MAX_SIZE];
	size_t plen;
	int err;

	if ((err = holepunch_payload_encode(p, plain, sizeof(plain), &plen)))
		return err;
	if (cap < plen + HOLEPUNCH_BOX_OVERHEAD) {
		sodium_memzero(plain, sizeof(plain));
		return -ENOSPC;
	}
	if (nonce != NULL)
		memcpy(out, nonce, HOLEPUNCH_NONCE_LEN);
	else
		randombytes_buf(out, HOLEPUNCH_NONCE_LEN);
	crypto_secretbox_easy(out + HOLEPUNCH_NONCE_LEN, plain, plen, out, key);
	*len = plen + HOLEPUNCH_BOX_OVERHEAD;
	sodium_memzero(plain, sizeof(plain));
	return 0;
}

int
holepunch_payload_open(struct holepunch_payload *p, const uint8_t key[32],
    const uint8_t *in, size_t len)
{
	uint8_t *plain;
	size_t plen;
	int err;

	memset(p, 0, sizeof(*p));
	/* secure-payload.js: end (len - 16) must lie beyond start (24) */
	if (len <= HOLEPUNCH_BOX_OVERHEAD)
		return -EBADMSG;
	plen = len - HOLEPUNCH_BOX_OVERHEAD;
	if ((plain = malloc(plen)) == NULL)
		return -ENOMEM;
	if (crypto_secretbox_open_easy(plain, in + HOLEPUNCH_NONCE_LEN,
	    len - HOLEPUNCH_NONCE_LEN, in, key) != 0)
		err = -EBADMSG;
	else
		err = holepunch_payload_decode(p, plain, plen);
	sodium_memzero(plain, plen);
	free(plain);
	return err;
}

void
holepunch_token(uint8_t out[32], const uint8_t local_secret[32],
    const uint8_t ip[4])
{
	char host[16];
	int n = addr_format_ip(ip, host);

	crypto_generichash(out, 32, (const uint8_t *)host, (size_t)n,
	    local_secret, 32);
}
