/*
 * announce.c - the server announcer: announce H(publicKey) to the three
 * closest nodes, keep the NAT mappings towards them open, re-announce, and
 * unannounce on close (spec/dht.md §13.3, hyperdht lib/announcer.js)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cenc.h"
#include "cursor.h"
#include "dht_impl.h"
#include "wire.h"

#define ANN_RELAYS		3	/* 6.34; 6.5.1 used 5 */
#define ANN_KEEPALIVE_MS	3000
#define ANN_KEEPALIVES		100
#define ANN_RETRY_MS		5000

struct ann_relay {
	struct hn_addr	 relay;
	struct hn_addr	 peer_addr;	/* us, as that relay sees us */
	uint8_t		 id[32];
};

struct dht_announcer {
	struct dht	*d;
	struct dht_announcer *next, *prev;
	struct keypair	 kp;
	struct dht_server_cbs cbs;
	uint8_t		 target[32];
	uint8_t		 record[33];
	struct ann_relay cur[ANN_RELAYS], old[ANN_RELAYS];
	size_t		 ncur, nold;
	struct hn_addr	 seeds[DHT_K];
	size_t		 nseeds;
	unsigned	 rounds;
	int		 keepalives;
	int		 pings_pending, pings_ok;
	bool		 addr_changed;
	int		 ann_pending;
	struct dht_query *q;
	struct hn_timer	 timer;
	bool		 closing;
	int		 refs;
};

static void	ann_round(struct dht_announcer *a);
static void	ann_unlink(struct dht_announcer *a);

/* Closed announcers stay listed until their last request settled. */
static void
ann_unref(struct dht_announcer *a)
{
	if (--a->refs > 0)
		return;
	ann_unlink(a);
	sodium_memzero(&a->kp, sizeof(a->kp));
	free(a);
}

static void
ann_sign(struct dht_announcer *a, uint8_t ns, const uint8_t id[32],
    const uint8_t token[32], uint8_t *out, size_t cap, int *len)
{
	struct dht_announce v;
	uint8_t signable[64];

	memset(&v, 0, sizeof(v));
	v.has_peer = true;
	memcpy(v.peer.publicKey, a->kp.pk, 32);
	dht_announce_signable(signable, ns, a->target, id, token, a->record,
	    sizeof(a->record), NULL);
	v.has_signature = keys_sign(v.signature, signable, 64, &a->kp) == 0;
	*len = v.has_signature ? dht_announce_encode(&v, out, cap) : -EINVAL;
}

/* ------------------------------------------------------------ unannounce */

struct unann {
	struct dht_announcer *a;
	struct hn_addr	 to;
};

static void
unann_done(void *arg, int err, const struct dht_reply *r)
{
	ann_unref(arg);
}

static void
unann_token(void *arg, int err, const struct dht_reply *r)
{
	struct unann *u = arg;
	struct dht_announcer *a = u->a;
	struct dht_request_opts o;
	uint8_t val[256];
	int n;

	/* §13.3 step 5: needs a fresh token, an id and our record there */
	if (err == 0 && r->has_token && r->has_id && r->value != NULL &&
	    !a->d->destroyed) {
		ann_sign(a, DHT_NS_UNANNOUNCE, r->id, r->token, val, sizeof(val),
		    &n);
		memset(&o, 0, sizeof(o));
		o.to = r->from;
		o.command = DHT_CMD_UNANNOUNCE;
		o.target = a->target;
		o.token = r->token;
		o.value = val;
		o.value_len = n > 0 ? (size_t)n : 0;
		o.retries = -1;
		o.sock = -1;
		a->refs++;
		if (n <= 0 || dht_request(a->d, &o, unann_done, a) != 0)
			a->refs--;
	}
	free(u);
	ann_unref(a);
}

static void
ann_unannounce(struct dht_announcer *a, const struct hn_addr *to)
{
	struct dht_request_opts o;
	struct unann *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return;
	u->a = a;
	u->to = *to;
	memset(&o, 0, sizeof(o));
	o.to = *to;
	o.command = DHT_CMD_FIND_PEER;
	o.target = a->target;
	o.retries = -1;
	o.sock = -1;
	a->refs++;
	if (dht_request(a->d, &o, unann_token, u) != 0) {
		a->refs--;
		free(u);
	}
}

/* ------------------------------------------------------------ keep-alive */

static void	ann_ping_all(struct dht_announcer *a);

static void
ann_timer_cb(struct hn_timer *t)
{
	struct dht_announcer *a = container_of(t, struct dht_announcer, timer);

	if (a->closing)
		return;
	if (a->keepalives < 0)
		ann_round(a);
	else
		ann_ping_all(a);
}

static void
ann_schedule_round(struct dht_announcer *a, uint64_t delay)
{
	a->keepalives = -1;
	hn_timer_after(a->d->io, &a->timer, delay);
}

struct ann_ping {
	struct dht_announcer *a;
	size_t		 idx;
};

static void
ann_pings_settled(struct dht_announcer *a)
{
	size_t need = a->ncur < 3 ? a->ncur : 3;

	if (a->ncur == 0) {
		ann_schedule_round(a, ANN_RETRY_MS);
		return;
	}
	/* re-announce when relays stop answering or see us elsewhere */
	if ((size_t)a->pings_ok < need || a->addr_changed ||
	    ++a->keepalives >= ANN_KEEPALIVES) {
		ann_schedule_round(a, 0);
		return;
	}
	hn_timer_after(a->d->io, &a->timer, ANN_KEEPALIVE_MS);
}

static void
ann_ping_cb(void *arg, int err, const struct dht_reply *r)
{
	struct ann_ping *p = arg;
	struct dht_announcer *a = p->a;

	if (!a->closing) {
		if (err == 0) {
			a->pings_ok++;
			if (p->idx < a->ncur &&
			    !addr_eq(&r->to, &a->cur[p->idx].peer_addr))
				a->addr_changed = true;
		}
		if (--a->pings_pending == 0)
			ann_pings_settled(a);
	}
	free(p);
	ann_unref(a);
}

static void
ann_ping_all(struct dht_announcer *a)
{
	struct dht_request_opts o;
	struct ann_ping *p;
	size_t i;

	a->pings_pending = 0;
	a->pings_ok = 0;
	a->addr_changed = false;
	for (i = 0; i < a->ncur; i++) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			continue;
		p->a = a;
		p->idx = i;
		memset(&o, 0, sizeof(o));
		o.to = a->cur[i].relay;
		o.internal = true;
		o.command = DHT_CMD_PING;
		o.retries = -1;
		o.sock = -1;
		a->refs++;
		a->pings_pending++;
		if (dht_request(a->d, &o, ann_ping_cb, p) != 0) {
			a->refs--;
			a->pings_pending--;
			free(p);
		}
	}
	if (a->pings_pending == 0)
		ann_pings_settled(a);
}

/* ------------------------------------------------------------ rounds */

static bool
relay_in(const struct ann_relay *set, size_t n, const struct hn_addr *x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_eq(&set[i].relay, x))
			return true;
	return false;
}

static void
ann_announced(struct dht_announcer *a)
{
	size_t i;

	/* unannounce from relays of the previous round that we dropped */
	for (i = 0; i < a->nold; i++)
		if (!relay_in(a->cur, a->ncur, &a->old[i].relay))
			ann_unannounce(a, &a->old[i].relay);
	a->rounds++;
	a->keepalives = 0;
	ann_ping_all(a);
}

struct ann_req {
	struct dht_announcer *a;
	struct ann_relay relay;
};

static void
ann_req_cb(void *arg, int err, const struct dht_reply *r)
{
	struct ann_req *ar = arg;
	struct dht_announcer *a = ar->a;

	if (!a->closing) {
		if (err == 0 && r->error == 0 && a->ncur < ANN_RELAYS)
			a->cur[a->ncur++] = ar->relay;
		if (--a->ann_pending == 0)
			ann_announced(a);
	}
	free(ar);
	ann_unref(a);
}

static void
ann_query_done(struct dht_query *q, int err, void *arg)
{
	struct dht_announcer *a = arg;
	const struct dht_qreply *cl;
	struct dht_request_opts o;
	struct ann_req *ar;
	uint8_t val[256];
	size_t n, i;
	int len;

	a->q = NULL;
	if (a->closing || err == -ECANCELED) {
		ann_unref(a);
		return;
	}
	n = dht_query_closest(q, &cl);
	a->nseeds = 0;
	for (i = 0; i < n; i++)
		a->seeds[a->nseeds++] = cl[i].from;
	a->ann_pending = 0;
	for (i = 0; i < n && i < ANN_RELAYS; i++) {
		if (!cl[i].has_token)
			continue;
		ann_sign(a, DHT_NS_ANNOUNCE, cl[i].id, cl[i].token, val,
		    sizeof(val), &len);
		if (len <= 0 || (ar = calloc(1, sizeof(*ar))) == NULL)
			continue;
		ar->a = a;
		ar->relay.relay = cl[i].from;
		ar->relay.peer_addr = cl[i].to;
		memcpy(ar->relay.id, cl[i].id, 32);
		memset(&o, 0, sizeof(o));
		o.to = cl[i].from;
		o.command = DHT_CMD_ANNOUNCE;
		o.target = a->target;
		o.token = cl[i].token;
		o.value = val;
		o.value_len = (size_t)len;
		o.retries = -1;
		o.sock = -1;
		a->refs++;
		a->ann_pending++;
		if (dht_request(a->d, &o, ann_req_cb, ar) != 0) {
			a->refs--;
			a->ann_pending--;
			free(ar);
		}
	}
	if (a->ann_pending == 0)
		ann_announced(a);
	ann_unref(a);
}

static void
ann_round(struct dht_announcer *a)
{
	struct dht_query_opts qo;

	/* rotate the relay generations */
	memcpy(a->old, a->cur, sizeof(a->cur));
	a->nold = a->ncur;
	a->ncur = 0;
	memset(&qo, 0, sizeof(qo));
	memcpy(qo.target, a->target, 32);
	qo.command = DHT_CMD_FIND_PEER;
	qo.retries = -1;
	qo.nodes = a->nseeds ? a->seeds : NULL;
	qo.nnodes = a->nseeds;
	qo.on_done = ann_query_done;
	qo.arg = a;
	a->refs++;
	if ((a->q = dht_query_start(a->d, &qo)) == NULL) {
		a->refs--;
		ann_schedule_round(a, ANN_RETRY_MS);
	}
}

/* ------------------------------------------------------------ api */

struct dht_announcer *
dht_listen(struct dht *d, const struct keypair *kp,
    const struct dht_server_cbs *cbs)
{
	struct dht_announcer *a;
	struct dht_cache_ent *e;

	if (d->destroyed || (a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->d = d;
	a->kp = *kp;
	if (cbs)
		a->cbs = *cbs;
	keys_hash(a->target, kp->pk, 32);
	memcpy(a->record, kp->pk, 32);
	a->record[32] = 0;	/* relayAddresses = [] (§12.3.1) */
	/* §13.3 step 1: the local route never expires */
	e = dht_cache_retain(&d->store.forwards, a->target, NULL, a->record,
	    sizeof(a->record));
	if (e == NULL) {
		free(a);
		return NULL;
	}
	e->ptr = &a->cbs;
	e->flag = true;
	a->refs = 1;
	hn_timer_init(&a->timer, ann_timer_cb);
	a->next = d->announcers;
	if (d->announcers)
		d->announcers->prev = a;
	d->announcers = a;
	ann_schedule_round(a, 0);
	return a;
}

static void
ann_unlink(struct dht_announcer *a)
{
	struct dht *d = a->d;

	if (a->prev)
		a->prev->next = a->next;
	else
		d->announcers = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->next = a->prev = NULL;
}

void
dht_unlisten(struct dht_announcer *a)
{
	struct dht *d;
	size_t i;

	if (a == NULL || a->closing)
		return;
	d = a->d;
	a->closing = true;
	hn_timer_cancel(d->io, &a->timer);
	if (a->q)
		dht_query_cancel(a->q);
	if (a->q) {
		a->q = NULL;
		a->refs--;	/* its on_done will not run */
	}
	dht_cache_delete(&d->store.forwards, a->target, NULL);
	for (i = 0; i < a->ncur; i++)
		ann_unannounce(a, &a->cur[i].relay);
	ann_unref(a);
}

void
dht_announcers_refresh(struct dht *d)
{
	struct dht_announcer *a;

	/*
	 * Only announcers waiting on their timer: one with a round or pings in
	 * flight sees the new address when they settle (addr_changed).
	 */
	for (a = d->announcers; a; a = a->next)
		if (!a->closing && a->timer.armed)
			ann_schedule_round(a, 0);
}

void
dht_announcers_free(struct dht *d)
{
	struct dht_announcer *a;

	/* requests still pointing at them are freed without callbacks */
	while ((a = d->announcers) != NULL) {
		hn_timer_cancel(d->io, &a->timer);
		ann_unlink(a);
		sodium_memzero(&a->kp, sizeof(a->kp));
		free(a);
	}
}

size_t
dht_announcer_relays(const struct dht_announcer *a, struct hn_addr *relay,
    struct hn_addr *peer_addr, size_t max)
{
	size_t i;

	for (i = 0; i < a->ncur && i < max; i++) {
		if (relay)
			relay[i] = a->cur[i].relay;
		if (peer_addr)
			peer_addr[i] = a->cur[i].peer_addr;
	}
	return i;
}

unsigned
dht_announcer_rounds(const struct dht_announcer *a)
{
	return a->rounds;
}
