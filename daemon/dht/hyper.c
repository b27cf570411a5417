/*
 * hyper.c - HyperDHT on top of the node: storage handlers of a persistent
 * node, the handshake / holepunch router and the client operations
 * (spec/dht.md §12, §13)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "cursor.h"
#include "dht_impl.h"
#include "wire.h"

#define HYPER_MAX_SIZE		65536
#define HYPER_MAX_AGE_MS	(20ULL * 60 * 1000)
#define HYPER_LONG_AGE_MS	(48ULL * 60 * 60 * 1000)
#define HYPER_MAX_BUMP_DRIFT	60000
#define HYPER_LOOKUP_MAX	20
#define HYPER_REPLY_MAX		1200

/* ------------------------------------------------------------ storage */

void
dht_hyper_init(struct dht *d)
{
	uint64_t now = hn_now_ms(d->io);
	struct dht_store *s = &d->store;

	dht_cache_init(&s->records, HYPER_MAX_SIZE, HYPER_MAX_AGE_MS, now);
	dht_cache_init(&s->forwards, HYPER_MAX_SIZE, HYPER_MAX_AGE_MS, now);
	dht_cache_init(&s->refreshes, HYPER_MAX_SIZE, HYPER_MAX_AGE_MS, now);
	dht_cache_init(&s->bumps, HYPER_MAX_SIZE, HYPER_MAX_AGE_MS, now);
	dht_cache_init(&s->mutables, HYPER_MAX_SIZE / 2, HYPER_LONG_AGE_MS, now);
	dht_cache_init(&s->immutables, HYPER_MAX_SIZE / 2, HYPER_LONG_AGE_MS,
	    now);
}

void
dht_hyper_free(struct dht *d)
{
	struct dht_store *s = &d->store;

	dht_cache_free(&s->records);
	dht_cache_free(&s->forwards);
	dht_cache_free(&s->refreshes);
	dht_cache_free(&s->bumps);
	dht_cache_free(&s->mutables);
	dht_cache_free(&s->immutables);
}

void
dht_hyper_tick(struct dht *d)
{
	uint64_t now = hn_now_ms(d->io);
	struct dht_store *s = &d->store;

	dht_cache_tick(&s->records, now);
	dht_cache_tick(&s->forwards, now);
	dht_cache_tick(&s->refreshes, now);
	dht_cache_tick(&s->bumps, now);
	dht_cache_tick(&s->mutables, now);
	dht_cache_tick(&s->immutables, now);
}

void
dht_store_stats(const struct dht *d, struct dht_store_stats *st)
{
	const struct dht_store *s = &d->store;

	st->records = s->records.size;
	st->forwards = s->forwards.size;
	st->refreshes = s->refreshes.size;
	st->bumps = s->bumps.size;
	st->mutables = s->mutables.size;
	st->immutables = s->immutables.size;
}

/* Wall-clock milliseconds for bump checks: the io clock is monotonic. */
static uint64_t
wall_ms(struct dht *d)
{
	return d->cfg.wall_ms ? d->cfg.wall_ms(d->cfg.arg) : hn_now_ms(d->io);
}

/* ------------------------------------------------------------ handlers */

static void
reply_plain(struct dht *d, const struct dht_inreq *req)
{
	/* "reply, no token, no closer" (§3.6) */
	dht_send_reply(d, req, 0, NULL, 0, false, false, NULL, -1);
}

static void
reply_default(struct dht *d, const struct dht_inreq *req, const uint8_t *v,
    size_t len)
{
	dht_send_reply(d, req, 0, v, len, true, true, NULL, -1);
}

static struct dht_cache_ent *
forward_get(struct dht *d, const uint8_t target[32])
{
	struct dht_cache_ent *e = dht_cache_get(&d->store.forwards, target,
	    NULL);

	if (e != NULL)
		dht_cache_touch(&d->store.forwards, e);
	return e;
}

static void
on_find_peer(struct dht *d, const struct dht_inreq *req)
{
	struct dht_cache_ent *e;

	if (!req->m->has_target)
		return;
	e = forward_get(d, req->m->target);
	reply_default(d, req, e ? e->val : NULL, e ? e->len : 0);
}

static void
on_lookup(struct dht *d, const struct dht_inreq *req)
{
	struct dht_cache_ent *ents[256], *fwd, *bump;
	uint8_t out[HYPER_REPLY_MAX];
	size_t n, i, j, nsel;
	struct cur c;

	if (!req->m->has_target)
		return;
	n = dht_cache_list(&d->store.records, req->m->target, ents, 256);
	/* up to 20 random records (record-cache get(k, 20)) */
	for (i = 0; i < n && i < HYPER_LOOKUP_MAX; i++) {
		struct dht_cache_ent *t;

		j = i + (size_t)(dht_random_u64(d) % (n - i));
		t = ents[i], ents[i] = ents[j], ents[j] = t;
	}
	nsel = n < HYPER_LOOKUP_MAX ? n : HYPER_LOOKUP_MAX;
	fwd = forward_get(d, req->m->target);
	bump = dht_cache_get(&d->store.bumps, req->m->target, NULL);
	if (nsel == 0 && fwd == NULL) {
		reply_default(d, req, NULL, 0);
		return;
	}
	cur_init_write(&c, out, sizeof(out));
	cenc_put_array_len(&c, nsel + (fwd && nsel < HYPER_LOOKUP_MAX ? 1 : 0));
	for (i = 0; i < nsel; i++)
		cur_put_bytes(&c, ents[i]->val, ents[i]->len);
	if (fwd && nsel < HYPER_LOOKUP_MAX)
		cur_put_bytes(&c, fwd->val, fwd->len);
	cenc_put_uint(&c, bump ? bump->num : 0);
	if (cur_ok(&c))
		reply_default(d, req, out, c.off);
}

static void
store_forward(struct dht *d, const uint8_t target[32],
    const struct hn_addr *relay, const uint8_t *rec, size_t len)
{
	struct dht_cache_ent *e;

	e = dht_cache_get(&d->store.forwards, target, NULL);
	if (e != NULL && e->retained)
		return;		/* our own server's route stays */
	e = dht_cache_set(&d->store.forwards, target, NULL, rec, len);
	if (e != NULL) {
		e->addr = *relay;
		e->ptr = NULL;
	}
}

static void
store_record(struct dht *d, const uint8_t target[32], const uint8_t pk[32],
    const uint8_t *rec, size_t len)
{
	struct dht_cache_ent *e = dht_cache_get(&d->store.records, target, pk);

	/* record-cache: an entry already in the fresh generation stays */
	if (e != NULL && dht_cache_is_fresh(&d->store.records, e))
		return;
	(void)dht_cache_set(&d->store.records, target, pk, rec, len);
}

static void
on_refresh(struct dht *d, const struct dht_inreq *req, const uint8_t r[32])
{
	struct dht_cache_ent *e;
	uint8_t h[32], *val;
	size_t len;
	bool self;

	keys_hash(h, r, 32);
	if ((e = dht_cache_get(&d->store.refreshes, h, NULL)) == NULL ||
	    e->len < 32 + 33)
		return;
	if ((val = malloc(e->len)) == NULL)
		return;
	memcpy(val, e->val, e->len);
	len = e->len;
	self = e->flag;
	if (self) {
		store_forward(d, val, &req->from, val + 32, len - 32);
		dht_cache_delete(&d->store.records, val, val + 32);
	} else {
		store_record(d, val, val + 32, val + 32, len - 32);
	}
	dht_cache_delete(&d->store.refreshes, h, NULL);
	if ((e = dht_cache_set(&d->store.refreshes, r, NULL, val, len)) != NULL)
		e->flag = self;
	free(val);
	reply_plain(d, req);
}

/* Re-encode a received peer (all its relays) minimally; 0 on failure. */
static size_t
canonical_peer(const uint8_t *raw, size_t len, uint8_t *out, size_t cap)
{
	struct cur r, w;
	size_t n;

	cur_init_read(&r, raw, len);
	cur_skip(&r, 32);
	n = cenc_get_array_len(&r, CENC_ARRAY_MAX, CENC_IPV4_SIZE);
	if (!cur_ok(&r) || cur_left(&r) != n * CENC_IPV4_SIZE)
		return 0;
	cur_init_write(&w, out, cap);
	cur_put_bytes(&w, raw, 32);
	cenc_put_array_len(&w, n);
	cur_put_bytes(&w, raw + r.off, n * CENC_IPV4_SIZE);
	return cur_ok(&w) ? w.off : 0;
}

static void
on_announce(struct dht *d, const struct dht_inreq *req, bool unannounce)
{
	const struct dht_msg *m = req->m;
	struct dht_announce a;
	uint8_t signable[64], h[32], rec[33 + 3 * 6], refval[32 + sizeof(rec)];
	uint8_t canon[DHT_MSG_MAX];
	size_t canon_len;
	struct cur c;
	struct dht_cache_ent *e;
	bool self;

	if (!m->has_target || !m->has_token || d->ephemeral)
		return;
	if (m->value == NULL || dht_announce_decode(&a, m->value,
	    m->value_len) != 0)
		return;
	if (!a.has_peer) {
		if (!unannounce && a.has_refresh)
			on_refresh(d, req, a.refresh);
		return;
	}
	if (!a.has_signature)
		return;
	/*
	 * §12.4: refresh (if any) is signed, bump is not.  JS signs
	 * c.encode(peer, decoded peer): the canonical form of every relay
	 * received, which differs from the raw bytes only in a non-minimal
	 * count.
	 */
	if ((canon_len = canonical_peer(a.peer_enc, a.peer_enc_len, canon,
	    sizeof(canon))) == 0)
		return;
	dht_announce_signable(signable, unannounce ? DHT_NS_UNANNOUNCE :
	    DHT_NS_ANNOUNCE, m->target, d->table.id, m->token, canon,
	    canon_len, a.has_refresh ? a.refresh : NULL);
	if (!keys_verify(a.signature, signable, 64, a.peer.publicKey))
		return;
	keys_hash(h, a.peer.publicKey, 32);
	self = memcmp(h, m->target, 32) == 0;
	if (unannounce) {
		e = dht_cache_get(&d->store.forwards, m->target, NULL);
		if (self && e != NULL && !e->retained)
			dht_cache_delete(&d->store.forwards, m->target, NULL);
		dht_cache_delete(&d->store.records, m->target,
		    a.peer.publicKey);
		reply_plain(d, req);
		return;
	}
	/* the record keeps at most 3 relays, truncated after the check */
	cur_init_write(&c, rec, sizeof(rec));
	cenc_put_peer(&c, &a.peer);
	if (!cur_ok(&c))
		return;
	if (self) {
		store_forward(d, m->target, &req->from, rec, c.off);
		dht_cache_delete(&d->store.records, m->target, a.peer.publicKey);
	} else {
		e = dht_cache_get(&d->store.bumps, m->target, NULL);
		if (a.bump > (e ? e->num : 0) &&
		    a.bump <= wall_ms(d) + HYPER_MAX_BUMP_DRIFT) {
			if ((e = dht_cache_set(&d->store.bumps, m->target, NULL,
			    NULL, 0)) != NULL)
				e->num = a.bump;
		}
		store_record(d, m->target, a.peer.publicKey, rec, c.off);
	}
	if (a.has_refresh) {
		memcpy(refval, m->target, 32);
		memcpy(refval + 32, rec, c.off);
		if ((e = dht_cache_set(&d->store.refreshes, a.refresh, NULL,
		    refval, 32 + c.off)) != NULL)
			e->flag = self;
	}
	reply_plain(d, req);
}

static void
on_mutable_put(struct dht *d, const struct dht_inreq *req)
{
	const struct dht_msg *m = req->m;
	struct dht_mutable p, old;
	struct dht_cache_ent *e;
	uint8_t h[32], signable[64], out[DHT_MSG_MAX];
	int n;

	if (!m->has_target || !m->has_token || m->value == NULL)
		return;
	if (dht_mutable_put_decode(&p, m->value, m->value_len) != 0)
		return;
	keys_hash(h, p.public_key, 32);
	if (memcmp(h, m->target, 32) != 0 || p.value == NULL)
		return;
	dht_mutable_signable(signable, p.seq, p.value, p.value_len);
	if (!keys_verify(p.signature, signable, 64, p.public_key))
		return;
	e = dht_cache_get(&d->store.mutables, h, NULL);
	if (e != NULL && dht_mutable_get_decode(&old, e->val, e->len) == 0) {
		if (old.value && old.seq == p.seq && (old.value_len !=
		    p.value_len || memcmp(old.value, p.value, p.value_len))) {
			dht_send_reply(d, req, DHT_ERR_SEQ_REUSED, NULL, 0, false,
			    true, NULL, -1);
			return;
		}
		if (p.seq < old.seq) {
			dht_send_reply(d, req, DHT_ERR_SEQ_TOO_LOW, NULL, 0,
			    false, true, NULL, -1);
			return;
		}
	}
	if ((n = dht_mutable_get_encode(&p, out, sizeof(out))) < 0)
		return;
	if ((e = dht_cache_set(&d->store.mutables, h, NULL, out, (size_t)n)))
		e->num = p.seq;
	reply_default(d, req, NULL, 0);
}

static void
on_mutable_get(struct dht *d, const struct dht_inreq *req)
{
	const struct dht_msg *m = req->m;
	struct dht_cache_ent *e;
	uint64_t seq;
	struct cur c;

	if (!m->has_target || m->value == NULL)
		return;
	cur_init_read(&c, m->value, m->value_len);
	seq = cenc_get_uint(&c);
	if (!cur_ok(&c))
		return;
	e = dht_cache_get(&d->store.mutables, m->target, NULL);
	if (e != NULL)
		dht_cache_touch(&d->store.mutables, e);
	if (e == NULL || e->num < seq)
		reply_default(d, req, NULL, 0);
	else
		reply_default(d, req, e->val, e->len);
}

static void
on_immutable_put(struct dht *d, const struct dht_inreq *req)
{
	const struct dht_msg *m = req->m;
	uint8_t h[32];

	if (!m->has_target || !m->has_token || m->value == NULL)
		return;
	keys_hash(h, m->value, m->value_len);
	if (memcmp(h, m->target, 32) != 0)
		return;
	(void)dht_cache_set(&d->store.immutables, h, NULL, m->value,
	    m->value_len);
	reply_default(d, req, NULL, 0);
}

static void
on_immutable_get(struct dht *d, const struct dht_inreq *req)
{
	struct dht_cache_ent *e;

	if (!req->m->has_target)
		return;
	e = dht_cache_get(&d->store.immutables, req->m->target, NULL);
	if (e != NULL)
		dht_cache_touch(&d->store.immutables, e);
	reply_default(d, req, e ? e->val : NULL, e ? e->len : 0);
}

/* ------------------------------------------------------------ router */

static struct dht_cache_ent *
route_get(struct dht *d, const struct dht_msg *m)
{
	return m->has_target ? forward_get(d, m->target) : NULL;
}

static void
on_peer_handshake(struct dht *d, const struct dht_inreq *req)
{
	struct dht_handshake hs, out;
	struct dht_cache_ent *route;
	const struct dht_server_cbs *srv = NULL;
	uint8_t reply[HYPER_REPLY_MAX], buf[HYPER_REPLY_MAX];
	int rlen, n, sock;

	if (req->m->value == NULL || dht_handshake_decode(&hs, req->m->value,
	    req->m->value_len) != 0)
		return;
	route = route_get(d, req->m);
	if (route && route->ptr)
		srv = route->ptr;
	memset(&out, 0, sizeof(out));
	if (srv != NULL && srv->on_handshake != NULL) {
		if (hs.noise == NULL)
			return;
		d->server_reply_sock = -1;
		rlen = srv->on_handshake(srv->arg, hs.noise, hs.noise_len,
		    hs.has_peer_addr ? &hs.peer_addr : NULL, reply,
		    sizeof(reply));
		sock = d->server_reply_sock;
		d->server_reply_sock = -1;
		if (rlen <= 0)
			return;
		out.noise = reply;
		out.noise_len = (size_t)rlen;
		out.mode = DHT_MODE_FROM_SERVER;
		out.has_peer_addr = hs.has_peer_addr;
		out.peer_addr = hs.peer_addr;
		switch (hs.mode) {
		case DHT_MODE_FROM_CLIENT:
			out.mode = DHT_MODE_REPLY;
			out.has_peer_addr = false;
			if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
				dht_send_reply(d, req, 0, buf, (size_t)n, false,
				    false, NULL, sock);
			return;
		case DHT_MODE_FROM_RELAY:
			if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
				dht_send_relay(d, req, buf, (size_t)n, &req->from,
				    sock);
			return;
		case DHT_MODE_FROM_SECOND_RELAY:
			if (!hs.has_relay_addr)
				return;
			if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
				dht_send_relay(d, req, buf, (size_t)n,
				    &hs.relay_addr, sock);
			return;
		}
		return;
	}
	out.noise = hs.noise;
	out.noise_len = hs.noise_len;
	switch (hs.mode) {
	case DHT_MODE_FROM_CLIENT:
		if (hs.noise == NULL)
			return;
		if (route == NULL && !hs.has_relay_addr) {
			/* help the client route: closer nodes only */
			dht_send_reply(d, req, 0, NULL, 0, false, true, NULL, -1);
			return;
		}
		out.mode = DHT_MODE_FROM_RELAY;
		out.has_peer_addr = true;
		out.peer_addr = req->from;
		if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_relay(d, req, buf, (size_t)n, hs.has_relay_addr ?
			    &hs.relay_addr : &route->addr, -1);
		return;
	case DHT_MODE_FROM_RELAY:
		if (route == NULL || hs.noise == NULL)
			return;
		out.mode = DHT_MODE_FROM_SECOND_RELAY;
		out.has_peer_addr = hs.has_peer_addr;
		out.peer_addr = hs.peer_addr;
		out.has_relay_addr = true;
		out.relay_addr = req->from;
		if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_relay(d, req, buf, (size_t)n, &route->addr, -1);
		return;
	case DHT_MODE_FROM_SERVER:
		if (!hs.has_peer_addr || hs.noise == NULL)
			return;
		out.mode = DHT_MODE_REPLY;
		out.has_peer_addr = true;
		out.peer_addr = req->from;
		if ((n = dht_handshake_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_reply(d, req, 0, buf, (size_t)n, false, false,
			    &hs.peer_addr, -1);
		return;
	}
}

static void
on_peer_holepunch(struct dht *d, const struct dht_inreq *req)
{
	struct dht_holepunch hp, out;
	struct dht_cache_ent *route;
	const struct dht_server_cbs *srv = NULL;
	uint8_t reply[HYPER_REPLY_MAX], buf[HYPER_REPLY_MAX];
	int rlen, n, sock;

	if (req->m->value == NULL || dht_holepunch_decode(&hp, req->m->value,
	    req->m->value_len) != 0)
		return;
	route = route_get(d, req->m);
	if (route && route->ptr)
		srv = route->ptr;
	out = hp;
	switch (hp.mode) {
	case DHT_MODE_FROM_CLIENT:
		if (!hp.has_peer_addr && route == NULL)
			return;
		out.mode = DHT_MODE_FROM_RELAY;
		out.has_peer_addr = true;
		out.peer_addr = req->from;
		if ((n = dht_holepunch_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_relay(d, req, buf, (size_t)n, hp.has_peer_addr ?
			    &hp.peer_addr : &route->addr, -1);
		return;
	case DHT_MODE_FROM_RELAY:
		if (srv == NULL || srv->on_holepunch == NULL ||
		    !hp.has_peer_addr)
			return;
		d->server_reply_sock = -1;
		rlen = srv->on_holepunch(srv->arg, hp.id, hp.payload,
		    hp.payload_len, &hp.peer_addr, reply, sizeof(reply));
		sock = d->server_reply_sock;
		d->server_reply_sock = -1;
		if (rlen < 0)
			return;
		out.mode = DHT_MODE_FROM_SERVER;
		out.id = 0;
		out.payload = rlen > 0 ? reply : NULL;
		out.payload_len = (size_t)rlen;
		if ((n = dht_holepunch_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_relay(d, req, buf, (size_t)n, &req->from, sock);
		return;
	case DHT_MODE_FROM_SERVER:
		out.mode = DHT_MODE_REPLY;
		out.has_peer_addr = true;
		out.peer_addr = req->from;
		/* JS: reply({to: peerAddress}) falls back to the source */
		if ((n = dht_holepunch_encode(&out, buf, sizeof(buf))) > 0)
			dht_send_reply(d, req, 0, buf, (size_t)n, false, false,
			    hp.has_peer_addr ? &hp.peer_addr : NULL, -1);
		return;
	}
}

bool
dht_hyper_onrequest(struct dht *d, const struct dht_inreq *req)
{
	switch (req->m->command) {
	case DHT_CMD_PEER_HANDSHAKE:
		on_peer_handshake(d, req);
		return true;
	case DHT_CMD_PEER_HOLEPUNCH:
		on_peer_holepunch(d, req);
		return true;
	}
	/* §12.1: ephemeral nodes answer 2-10 with UNKNOWN_COMMAND */
	if (d->ephemeral)
		return false;
	switch (req->m->command) {
	case DHT_CMD_FIND_PEER:
		on_find_peer(d, req);
		return true;
	case DHT_CMD_LOOKUP:
		on_lookup(d, req);
		return true;
	case DHT_CMD_ANNOUNCE:
		on_announce(d, req, false);
		return true;
	case DHT_CMD_UNANNOUNCE:
		on_announce(d, req, true);
		return true;
	case DHT_CMD_MUTABLE_PUT:
		on_mutable_put(d, req);
		return true;
	case DHT_CMD_MUTABLE_GET:
		on_mutable_get(d, req);
		return true;
	case DHT_CMD_IMMUTABLE_PUT:
		on_immutable_put(d, req);
		return true;
	case DHT_CMD_IMMUTABLE_GET:
		on_immutable_get(d, req);
		return true;
	case DHT_CMD_PLUGIN:
		return true;	/* no plugins: silence, as JS */
	}
	return false;
}

/* ------------------------------------------------------------ client ops */

struct op {
	struct dht	*d;
	int		 kind;
	uint8_t		 target[32];
	struct keypair	 kp;
	struct hn_addr	 relays[CENC_PEER_RELAYS_MAX];
	size_t		 nrelays;
	uint8_t		*value;
	size_t		 value_len;
	uint64_t	 seq;
	uint8_t		 sig[64];
	/* results */
	bool		 found;
	uint8_t		*best;
	size_t		 best_len;
	uint64_t	 best_seq;
	dht_peer_fn	*on_peer;
	dht_done_fn	*done;
	dht_value_fn	*on_value;
	void		*arg;
};

enum { OP_FIND_PEER, OP_LOOKUP, OP_ANNOUNCE, OP_UNANNOUNCE, OP_IMM_PUT,
	OP_IMM_GET, OP_MUT_PUT, OP_MUT_GET };

static void
op_free(struct op *o)
{
	sodium_memzero(&o->kp, sizeof(o->kp));
	free(o->value);
	free(o->best);
	free(o);
}

static struct op *
op_new(struct dht *d, int kind, const uint8_t target[32], void *arg)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->d = d;
	o->kind = kind;
	memcpy(o->target, target, 32);
	o->arg = arg;
	return o;
}

static int
op_set_value(struct op *o, const uint8_t *v, size_t len)
{
	if (len == 0)
		return 0;
	if ((o->value = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(o->value, v, len);
	o->value_len = len;
	return 0;
}

static void
op_on_reply(struct dht_query *q, const struct dht_reply *r, void *arg)
{
	struct op *o = arg;
	struct dht_lookup_reply *lr;
	struct cenc_peer p;
	struct dht_mutable m;
	uint8_t h[32], signable[64];

	if (r->value == NULL)
		return;
	switch (o->kind) {
	case OP_FIND_PEER:
		if (dht_peer_decode(&p, r->value, r->value_len) == 0 &&
		    o->on_peer)
			o->on_peer(o->arg, r, &p, 1);
		return;
	case OP_LOOKUP:
		if ((lr = malloc(sizeof(*lr))) == NULL)
			return;
		if (dht_lookup_reply_decode(lr, r->value, r->value_len) == 0 &&
		    o->on_peer)
			o->on_peer(o->arg, r, lr->peers, lr->npeers);
		free(lr);
		return;
	case OP_IMM_GET:
		keys_hash(h, r->value, r->value_len);
		if (o->found || memcmp(h, o->target, 32) != 0)
			return;
		o->found = true;
		if (o->on_value)
			o->on_value(o->arg, 0, r->value, r->value_len, 0);
		o->on_value = NULL;
		dht_query_cancel(q);
		op_free(o);
		return;
	case OP_MUT_GET:
		if (dht_mutable_get_decode(&m, r->value, r->value_len) != 0 ||
		    m.seq < o->seq || (o->found && m.seq <= o->best_seq))
			return;
		dht_mutable_signable(signable, m.seq, m.value, m.value_len);
		if (!keys_verify(m.signature, signable, 64, o->kp.pk))
			return;
		free(o->best);
		o->best = NULL;
		o->best_len = m.value_len;
		if (m.value_len > 0 && (o->best = malloc(m.value_len)) != NULL)
			memcpy(o->best, m.value, m.value_len);
		o->best_seq = m.seq;
		o->found = true;
		return;
	}
}

static void
op_on_done(struct dht_query *q, int err, void *arg)
{
	struct op *o = arg;

	switch (o->kind) {
	case OP_IMM_GET:
		if (o->on_value)
			o->on_value(o->arg, -ENOENT, NULL, 0, 0);
		break;
	case OP_MUT_GET:
		if (o->on_value)
			o->on_value(o->arg, o->found ? 0 : -ENOENT, o->best,
			    o->best_len, o->best_seq);
		break;
	default:
		if (o->done)
			o->done(o->arg, err);
		break;
	}
	op_free(o);
}

static void
commit_cb(void *arg, int err, const struct dht_reply *r)
{
	struct dht_query *q = arg;

	dht_query_commit_done(q, err == 0 && r->error == 0);
}

/* Build and send the write of a commit phase to one closest reply. */
static void
op_commit(struct dht_query *q, const struct dht_qreply *r, void *arg)
{
	struct op *o = arg;
	struct dht_request_opts ro;
	struct dht_announce a;
	struct dht_mutable mp;
	uint8_t val[DHT_MSG_MAX], signable[64], peer_enc[33 + 3 * 6];
	struct cur c;
	int n;

	if (!r->has_token) {
		dht_query_commit_done(q, false);
		return;
	}
	memset(&ro, 0, sizeof(ro));
	ro.to = r->from;
	ro.token = r->token;
	ro.target = o->target;
	ro.retries = -1;
	ro.sock = -1;
	switch (o->kind) {
	case OP_ANNOUNCE:
	case OP_UNANNOUNCE:
		memset(&a, 0, sizeof(a));
		a.has_peer = true;
		memcpy(a.peer.publicKey, o->kp.pk, 32);
		a.peer.nrelays = o->nrelays;
		memcpy(a.peer.relays, o->relays, sizeof(o->relays));
		cur_init_write(&c, peer_enc, sizeof(peer_enc));
		cenc_put_peer(&c, &a.peer);
		/* pitfall 6: signed for this node's id and token */
		dht_announce_signable(signable, o->kind == OP_ANNOUNCE ?
		    DHT_NS_ANNOUNCE : DHT_NS_UNANNOUNCE, o->target, r->id,
		    r->token, peer_enc, c.off, NULL);
		a.has_signature = keys_sign(a.signature, signable, 64,
		    &o->kp) == 0;
		n = dht_announce_encode(&a, val, sizeof(val));
		ro.command = o->kind == OP_ANNOUNCE ? DHT_CMD_ANNOUNCE :
		    DHT_CMD_UNANNOUNCE;
		break;
	case OP_IMM_PUT:
		ro.command = DHT_CMD_IMMUTABLE_PUT;
		ro.value = o->value;
		ro.value_len = o->value_len;
		n = 0;
		break;
	case OP_MUT_PUT:
		memset(&mp, 0, sizeof(mp));
		memcpy(mp.public_key, o->kp.pk, 32);
		mp.seq = o->seq;
		mp.value = o->value;
		mp.value_len = o->value_len;
		memcpy(mp.signature, o->sig, 64);
		n = dht_mutable_put_encode(&mp, val, sizeof(val));
		ro.command = DHT_CMD_MUTABLE_PUT;
		break;
	default:
		n = -EINVAL;
	}
	if (n < 0) {
		dht_query_commit_done(q, false);
		return;
	}
	if (n > 0) {
		ro.value = val;
		ro.value_len = (size_t)n;
	}
	if (dht_request(o->d, &ro, commit_cb, q) != 0)
		dht_query_commit_done(q, false);
}

static int
op_start(struct op *o, uint64_t command, const uint8_t *qvalue, size_t qlen,
    bool commit)
{
	struct dht_query_opts qo;

	memset(&qo, 0, sizeof(qo));
	memcpy(qo.target, o->target, 32);
	qo.command = command;
	qo.value = qvalue;
	qo.value_len = qlen;
	qo.retries = -1;
	qo.on_reply = op_on_reply;
	qo.commit = commit ? op_commit : NULL;
	qo.on_done = op_on_done;
	qo.arg = o;
	if (dht_query_start(o->d, &qo) == NULL) {
		op_free(o);
		return -ENOMEM;
	}
	return 0;
}

int
dht_find_peer(struct dht *d, const uint8_t public_key[32], dht_peer_fn *on_peer,
    dht_done_fn *done, void *arg)
{
	uint8_t target[32];
	struct op *o;

	keys_hash(target, public_key, 32);
	if ((o = op_new(d, OP_FIND_PEER, target, arg)) == NULL)
		return -ENOMEM;
	o->on_peer = on_peer;
	o->done = done;
	return op_start(o, DHT_CMD_FIND_PEER, NULL, 0, false);
}

int
dht_lookup(struct dht *d, const uint8_t topic[32], dht_peer_fn *on_peer,
    dht_done_fn *done, void *arg)
{
	struct op *o;

	if ((o = op_new(d, OP_LOOKUP, topic, arg)) == NULL)
		return -ENOMEM;
	o->on_peer = on_peer;
	o->done = done;
	return op_start(o, DHT_CMD_LOOKUP, NULL, 0, false);
}

static int
announce_common(struct dht *d, int kind, const uint8_t topic[32],
    const struct keypair *kp, const struct hn_addr *relays, size_t nrelays,
    dht_done_fn *done, void *arg)
{
	struct op *o;

	if (nrelays > CENC_PEER_RELAYS_MAX)
		return -EINVAL;
	if ((o = op_new(d, kind, topic, arg)) == NULL)
		return -ENOMEM;
	o->kp = *kp;
	if (nrelays > 0)
		memcpy(o->relays, relays, nrelays * sizeof(*relays));
	o->nrelays = nrelays;
	o->done = done;
	/* §13.2: a LOOKUP query, then (un)announce to every closest reply */
	return op_start(o, DHT_CMD_LOOKUP, NULL, 0, true);
}

int
dht_announce_topic(struct dht *d, const uint8_t topic[32],
    const struct keypair *kp, const struct hn_addr *relays, size_t nrelays,
    dht_done_fn *done, void *arg)
{
	return announce_common(d, OP_ANNOUNCE, topic, kp, relays, nrelays, done,
	    arg);
}

int
dht_unannounce_topic(struct dht *d, const uint8_t topic[32],
    const struct keypair *kp, dht_done_fn *done, void *arg)
{
	return announce_common(d, OP_UNANNOUNCE, topic, kp, NULL, 0, done, arg);
}

int
dht_immutable_put(struct dht *d, const uint8_t *value, size_t len,
    uint8_t hash_out[32], dht_done_fn *done, void *arg)
{
	uint8_t target[32];
	struct op *o;

	if (len == 0)
		return -EINVAL;
	keys_hash(target, value, len);
	if (hash_out)
		memcpy(hash_out, target, 32);
	if ((o = op_new(d, OP_IMM_PUT, target, arg)) == NULL)
		return -ENOMEM;
	o->done = done;
	if (op_set_value(o, value, len) != 0) {
		op_free(o);
		return -ENOMEM;
	}
	return op_start(o, DHT_CMD_IMMUTABLE_GET, NULL, 0, true);
}

int
dht_immutable_get(struct dht *d, const uint8_t hash[32], dht_value_fn *cb,
    void *arg)
{
	struct op *o;

	if ((o = op_new(d, OP_IMM_GET, hash, arg)) == NULL)
		return -ENOMEM;
	o->on_value = cb;
	return op_start(o, DHT_CMD_IMMUTABLE_GET, NULL, 0, false);
}

int
dht_mutable_put(struct dht *d, const struct keypair *kp, const uint8_t *value,
    size_t len, uint64_t seq, dht_done_fn *done, void *arg)
{
	uint8_t target[32], signable[64], zero = 0;
	struct op *o;

	if (len == 0)
		return -EINVAL;
	keys_hash(target, kp->pk, 32);
	if ((o = op_new(d, OP_MUT_PUT, target, arg)) == NULL)
		return -ENOMEM;
	o->kp = *kp;
	o->seq = seq;
	o->done = done;
	if (op_set_value(o, value, len) != 0) {
		op_free(o);
		return -ENOMEM;
	}
	dht_mutable_signable(signable, seq, value, len);
	if (keys_sign(o->sig, signable, 64, kp) != 0) {
		op_free(o);
		return -EINVAL;
	}
	/* §13.6: MUTABLE_GET query with value uint 0, then MUTABLE_PUT */
	return op_start(o, DHT_CMD_MUTABLE_GET, &zero, 1, true);
}

int
dht_mutable_get(struct dht *d, const uint8_t public_key[32], uint64_t min_seq,
    dht_value_fn *cb, void *arg)
{
	uint8_t target[32], v[9];
	struct op *o;
	struct cur c;

	keys_hash(target, public_key, 32);
	if ((o = op_new(d, OP_MUT_GET, target, arg)) == NULL)
		return -ENOMEM;
	memcpy(o->kp.pk, public_key, 32);
	o->seq = min_seq;
	o->on_value = cb;
	cur_init_write(&c, v, sizeof(v));
	cenc_put_uint(&c, min_seq);
	return op_start(o, DHT_CMD_MUTABLE_GET, v, c.off, false);
}

void
dht_server_reply_sock(struct dht *d, int sock)
{
	d->server_reply_sock = sock;
}
