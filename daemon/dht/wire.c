/*
 * wire.c - HyperDHT payload codecs and signables (spec/dht.md §12.3-12.4)
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "cursor.h"
#include "keys.h"
#include "wire.h"

#define NS_BASE_NAME	"hyperswarm/dht"

static int
finish_encode(struct cur *c)
{
	return cur_ok(c) ? (int)c->off : -ENOSPC;
}

int
dht_peer_decode(struct cenc_peer *out, const uint8_t *buf, size_t len)
{
	struct cenc_peer p;
	struct cur c;

	cur_init_read(&c, buf, len);
	cenc_get_peer(&c, &p);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = p;
	return 0;
}

int
dht_peer_encode(const struct cenc_peer *p, uint8_t *buf, size_t cap)
{
	struct cur c;

	if (p->nrelays > CENC_PEER_RELAYS_MAX)
		return -EINVAL;
	cur_init_write(&c, buf, cap);
	cenc_put_peer(&c, p);
	return finish_encode(&c);
}

int
dht_announce_decode(struct dht_announce *out, const uint8_t *buf, size_t len)
{
	struct dht_announce a;
	struct cur c;
	uint64_t flags;
	size_t start;

	memset(&a, 0, sizeof(a));
	cur_init_read(&c, buf, len);
	flags = cenc_get_uint(&c);
	if ((a.has_peer = (flags & DHT_ANN_PEER) != 0)) {
		start = c.off;
		cenc_get_peer(&c, &a.peer);
		a.peer_enc = buf + start;
		a.peer_enc_len = c.off - start;
	}
	if ((a.has_refresh = (flags & DHT_ANN_REFRESH) != 0))
		cenc_get_fixed32(&c, a.refresh);
	if ((a.has_signature = (flags & DHT_ANN_SIGNATURE) != 0))
		cenc_get_fixed64(&c, a.signature);
	if (flags & DHT_ANN_BUMP)
		a.bump = cenc_get_uint(&c);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = a;
	return 0;
}

int
dht_announce_encode(const struct dht_announce *a, uint8_t *buf, size_t cap)
{
	struct cur c;
	unsigned flags = 0;

	if (a->has_peer)
		flags |= DHT_ANN_PEER;
	if (a->has_refresh)
		flags |= DHT_ANN_REFRESH;
	if (a->has_signature)
		flags |= DHT_ANN_SIGNATURE;
	if (a->bump)
		flags |= DHT_ANN_BUMP;
	if (a->has_peer && a->peer.nrelays > CENC_PEER_RELAYS_MAX)
		return -EINVAL;
	cur_init_write(&c, buf, cap);
	cenc_put_uint(&c, flags);
	if (a->has_peer)
		cenc_put_peer(&c, &a->peer);
	if (a->has_refresh)
		cenc_put_fixed32(&c, a->refresh);
	if (a->has_signature)
		cenc_put_fixed64(&c, a->signature);
	if (a->bump)
		cenc_put_uint(&c, a->bump);
	return finish_encode(&c);
}

int
dht_lookup_reply_decode(struct dht_lookup_reply *out, const uint8_t *buf,
    size_t len)
{
	struct dht_lookup_reply r;
	struct cenc_peer skip;
	struct cur c;
	size_t n, i;

	memset(&r, 0, sizeof(r));
	cur_init_read(&c, buf, len);
	n = cenc_get_array_len(&c, CENC_ARRAY_MAX, 33);
	for (i = 0; i < n && cur_ok(&c); i++) {
		if (r.npeers < DHT_LOOKUP_PEERS_MAX)
			cenc_get_peer(&c, &r.peers[r.npeers++]);
		else
			cenc_get_peer(&c, &skip);
	}
	/* §12.3.3: 6.5.1 sends no bump */
	if (cur_left(&c) > 0)
		r.bump = cenc_get_uint(&c);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = r;
	return 0;
}

int
dht_lookup_reply_encode(const struct dht_lookup_reply *r, uint8_t *buf,
    size_t cap)
{
	struct cur c;
	size_t i;

	if (r->npeers > DHT_LOOKUP_PEERS_MAX)
		return -EINVAL;
	cur_init_write(&c, buf, cap);
	cenc_put_array_len(&c, r->npeers);
	for (i = 0; i < r->npeers; i++) {
		if (r->peers[i].nrelays > CENC_PEER_RELAYS_MAX)
			return -EINVAL;
		cenc_put_peer(&c, &r->peers[i]);
	}
	cenc_put_uint(&c, r->bump);
	return finish_encode(&c);
}

int
dht_handshake_decode(struct dht_handshake *out, const uint8_t *buf, size_t len)
{
	struct dht_handshake h;
	struct cur c;
	uint64_t flags;

	memset(&h, 0, sizeof(h));
	cur_init_read(&c, buf, len);
	flags = cenc_get_uint(&c);
	h.mode = cenc_get_uint(&c);
	h.noise = cenc_get_buffer(&c, &h.noise_len);
	if ((h.has_peer_addr = (flags & 1) != 0))
		cenc_get_ipv4(&c, &h.peer_addr);
	if ((h.has_relay_addr = (flags & 2) != 0))
		cenc_get_ipv4(&c, &h.relay_addr);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = h;
	return 0;
}

int
dht_handshake_encode(const struct dht_handshake *h, uint8_t *buf, size_t cap)
{
	struct cur c;

	cur_init_write(&c, buf, cap);
	cenc_put_uint(&c, (h->has_peer_addr ? 1u : 0u) |
	    (h->has_relay_addr ? 2u : 0u));
	cenc_put_uint(&c, h->mode);
	cenc_put_buffer(&c, h->noise, h->noise_len);
	if (h->has_peer_addr)
		cenc_put_ipv4(&c, &h->peer_addr);
	if (h->has_relay_addr)
		cenc_put_ipv4(&c, &h->relay_addr);
	return finish_encode(&c);
}

int
dht_holepunch_decode(struct dht_holepunch *out, const uint8_t *buf, size_t len)
{
	struct dht_holepunch h;
	struct cur c;
	uint64_t flags;

	memset(&h, 0, sizeof(h));
	cur_init_read(&c, buf, len);
	flags = cenc_get_uint(&c);
	h.mode = cenc_get_uint(&c);
	h.id = cenc_get_uint(&c);
	h.payload = cenc_get_buffer(&c, &h.payload_len);
	if ((h.has_peer_addr = (flags & 1) != 0))
		cenc_get_ipv4(&c, &h.peer_addr);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = h;
	return 0;
}

int
dht_holepunch_encode(const struct dht_holepunch *h, uint8_t *buf, size_t cap)
{
	struct cur c;

	cur_init_write(&c, buf, cap);
	cenc_put_uint(&c, h->has_peer_addr ? 1u : 0u);
	cenc_put_uint(&c, h->mode);
	cenc_put_uint(&c, h->id);
	cenc_put_buffer(&c, h->payload, h->payload_len);
	if (h->has_peer_addr)
		cenc_put_ipv4(&c, &h->peer_addr);
	return finish_encode(&c);
}

static int
mutable_decode(struct dht_mutable *out, const uint8_t *buf, size_t len,
    bool with_key)
{
	struct dht_mutable m;
	struct cur c;

	memset(&m, 0, sizeof(m));
	cur_init_read(&c, buf, len);
	if (with_key)
		cenc_get_fixed32(&c, m.public_key);
	m.seq = cenc_get_uint(&c);
	m.value = cenc_get_buffer(&c, &m.value_len);
	cenc_get_fixed64(&c, m.signature);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = m;
	return 0;
}

static int
mutable_encode(const struct dht_mutable *m, uint8_t *buf, size_t cap,
    bool with_key)
{
	struct cur c;

	cur_init_write(&c, buf, cap);
	if (with_key)
		cenc_put_fixed32(&c, m->public_key);
	cenc_put_uint(&c, m->seq);
	cenc_put_buffer(&c, m->value, m->value_len);
	cenc_put_fixed64(&c, m->signature);
	return finish_encode(&c);
}

int
dht_mutable_put_decode(struct dht_mutable *m, const uint8_t *buf, size_t len)
{
	return mutable_decode(m, buf, len, true);
}

int
dht_mutable_put_encode(const struct dht_mutable *m, uint8_t *buf, size_t cap)
{
	return mutable_encode(m, buf, cap, true);
}

int
dht_mutable_get_decode(struct dht_mutable *m, const uint8_t *buf, size_t len)
{
	return mutable_decode(m, buf, len, false);
}

int
dht_mutable_get_encode(const struct dht_mutable *m, uint8_t *buf, size_t cap)
{
	return mutable_encode(m, buf, cap, false);
}

int
dht_plugin_request_decode(struct dht_plugin_request *out, const uint8_t *buf,
    size_t len)
{
	struct dht_plugin_request p;
	struct cur c;

	memset(&p, 0, sizeof(p));
	cur_init_read(&c, buf, len);
	p.plugin = cenc_get_string(&c, &p.plugin_len);
	p.version = cenc_get_uint(&c);
	p.command = cenc_get_uint(&c);
	if ((p.has_value = (cenc_get_uint(&c) & 1) != 0))
		p.value = cenc_get_buffer(&c, &p.value_len);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = p;
	return 0;
}

int
dht_plugin_request_encode(const struct dht_plugin_request *p, uint8_t *buf,
    size_t cap)
{
	struct cur c;

	cur_init_write(&c, buf, cap);
	cenc_put_string(&c, p->plugin, p->plugin_len);
	cenc_put_uint(&c, p->version);
	cenc_put_uint(&c, p->command);
	cenc_put_uint(&c, p->has_value ? 1 : 0);
	if (p->has_value)
		cenc_put_buffer(&c, p->value, p->value_len);
	return finish_encode(&c);
}

void
dht_ns(uint8_t out[32], uint8_t idx)
{
	keys_namespace(out, NS_BASE_NAME, idx);
}

void
dht_announce_signable(uint8_t out[64], uint8_t ns_idx, const uint8_t target[32],
    const uint8_t node_id[32], const uint8_t token[32], const uint8_t *peer_enc,
    size_t peer_enc_len, const uint8_t *refresh)
{
	crypto_generichash_state st;

	dht_ns(out, ns_idx);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, target, 32);
	crypto_generichash_update(&st, node_id, 32);
	crypto_generichash_update(&st, token, 32);
	crypto_generichash_update(&st, peer_enc, peer_enc_len);
	if (refresh != NULL)
		crypto_generichash_update(&st, refresh, 32);
	crypto_generichash_final(&st, out + 32, 32);
}

void
dht_mutable_signable(uint8_t out[64], uint64_t seq, const uint8_t *value,
    size_t value_len)
{
	crypto_generichash_state st;
	uint8_t hdr[9 + 9];
	struct cur c;

	cur_init_write(&c, hdr, sizeof(hdr));
	cenc_put_uint(&c, seq);
	cenc_put_uint(&c, value_len);
	dht_ns(out, DHT_NS_MUTABLE_PUT);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hdr, c.off);
	if (value_len > 0)
		crypto_generichash_update(&st, value, value_len);
	crypto_generichash_final(&st, out + 32, 32);
}
