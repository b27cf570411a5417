/*
 * test_dht_sim.c - DHT nodes in the simulated network (tests/sim/sim.h)
 *
 * A seeded world: one bootstrapper and N persistent nodes on distinct
 * IPs, a link with delay, jitter and a little loss.  The tests prove the
 * nodes bootstrap, become persistent and fill their tables; that every
 * announced key (topic records and listening servers) is found from every
 * other node; that tokens expire after two rotations; that records expire
 * with the reference lifetimes unless refreshed; that mutable and
 * immutable values round-trip; that handshakes and holepunches are relayed
 * to a listening server; and that unlisten removes the record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"
#include "sim/sim.h"
#include "daemon/dht/dht.h"
#include "daemon/dht/wire.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define PORT		49737

struct node {
	struct sim_host	*host;
	struct dht	*d;
	int		 ssock, csock;
	struct hn_addr	 addr;
	bool		 ready;
};

struct world {
	struct sim	*sim;
	struct node	*nodes;
	size_t		 n;
};

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct node *nd = arg;

	if (nd->d)
		dht_input(nd->d, sock, from, buf, len);
}

static void
on_ready(struct dht *d, void *arg)
{
	struct node *nd = arg;

	nd->ready = true;
}

static void
node_start(struct world *w, size_t i)
{
	struct node *nd = &w->nodes[i];
	struct dht_config cfg;
	char ip[48];

	snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", 1 + i / 65536,
	    (i / 256) % 256, i % 256);
	nd->host = sim_host_add(w->sim, ip);
	nd->ssock = sim_host_bind(nd->host, PORT, on_recv, nd);
	nd->csock = sim_host_bind(nd->host, 0, on_recv, nd);
	nd->addr = *sim_host_addr(nd->host, nd->ssock);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = nd->ssock;
	cfg.client_sock = nd->csock;
	cfg.server_port = PORT;
	cfg.on_ready = on_ready;
	cfg.arg = nd;
	if (i == 0) {
		cfg.bootstrapper = true;
		cfg.public_addr = nd->addr;
	} else {
		cfg.persistent = true;
		cfg.bootstrap[0] = w->nodes[0].addr;
		cfg.nbootstrap = 1;
	}
	nd->d = dht_new(sim_host_io(nd->host), &cfg);
}

/* A NAT-less but ephemeral client with one socket (hypernatd's shape). */
static void
node_start_single(struct world *w, size_t i)
{
	struct node *nd = &w->nodes[i];
	struct dht_config cfg;

	nd->host = sim_host_add(w->sim, "192.168.7.7");
	nd->ssock = nd->csock = sim_host_bind(nd->host, 0, on_recv, nd);
	nd->addr = *sim_host_addr(nd->host, nd->ssock);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = cfg.client_sock = nd->ssock;
	cfg.server_port = nd->addr.port;
	cfg.no_adaptive = true;
	cfg.bootstrap[0] = w->nodes[0].addr;
	cfg.nbootstrap = 1;
	cfg.on_ready = on_ready;
	cfg.arg = nd;
	nd->d = dht_new(sim_host_io(nd->host), &cfg);
}

static bool
all_ready(void *arg)
{
	struct world *w = arg;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (!w->nodes[i].ready)
			return false;
	return true;
}

static bool
first_ready(void *arg)
{
	struct world *w = arg;

	return w->nodes[0].ready;
}

static void
world_new_ex(struct world *w, size_t n, uint64_t seed, double loss,
    size_t single);

static void
world_new(struct world *w, size_t n, uint64_t seed, double loss)
{
	world_new_ex(w, n, seed, loss, 0);
}

/* n nodes, the last `single` of them ephemeral one-socket clients. */
static void
world_new_ex(struct world *w, size_t n, uint64_t seed, double loss,
    size_t single)
{
	struct sim_link link = { .delay_us = 10000, .jitter_us = 10000,
	    .loss = loss };
	size_t i;

	w->sim = sim_new(seed);
	sim_set_link(w->sim, &link);
	w->n = n;
	w->nodes = calloc(n, sizeof(*w->nodes));
	node_start(w, 0);
	sim_run(w->sim, first_ready, w, 1000);
	for (i = 1; i < n; i++) {
		if (i >= n - single)
			node_start_single(w, i);
		else
			node_start(w, i);
		/* stagger the joins a little, as a real network would */
		sim_run_until(w->sim, sim_now_ms(w->sim) + 50);
	}
}

static void
world_free(struct world *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		dht_free(w->nodes[i].d);
	sim_free(w->sim);
	free(w->nodes);
}

static void
run_for(struct world *w, uint64_t ms)
{
	sim_run_until(w->sim, sim_now_ms(w->sim) + ms);
}

static size_t
count(struct world *w, bool (*pred)(const struct node *))
{
	size_t i, n = 0;

	for (i = 0; i < w->n; i++)
		n += pred(&w->nodes[i]);
	return n;
}

static bool
is_persistent(const struct node *nd)
{
	return dht_is_persistent(nd->d);
}

static bool
has_full_table(const struct node *nd)
{
	return dht_get_table(nd->d)->size >= DHT_K;
}

/* ------------------------------------------------------------ helpers */

struct done {
	int	 n;
	int	 err;
	int	 fails;
};

static void
done_cb(void *arg, int err)
{
	struct done *dn = arg;

	dn->n++;
	if (err != 0) {
		dn->fails++;
		dn->err = err;
	}
}

struct found {
	uint8_t	 pk[32];
	int	 hits;
	bool	 done;
	struct hn_addr from;
};

static void
found_peer(void *arg, const struct dht_reply *r, const struct cenc_peer *peers,
    size_t n)
{
	struct found *f = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (memcmp(peers[i].publicKey, f->pk, 32) == 0) {
			f->hits++;
			f->from = r->from;
		}
	}
}

static void
found_done(void *arg, int err)
{
	struct found *f = arg;

	f->done = true;
}

static bool
found_all_done(void *arg)
{
	struct found **fs = arg;
	size_t i;

	for (i = 0; fs[i] != NULL; i++)
		if (!fs[i]->done)
			return false;
	return true;
}

static void
topic_of(uint8_t topic[32], unsigned i)
{
	char name[32];

	snprintf(name, sizeof(name), "hypernat test topic %u", i);
	keys_hash(topic, name, strlen(name));
}

static void
keypair_of(struct keypair *kp, unsigned i)
{
	uint8_t seed[32];

	memset(seed, (int)i + 1, sizeof(seed));
	seed[0] = 0xa5;
	keys_from_seed(kp, seed);
}

/* Look `pk` up on `topic` (or findPeer when topic is NULL) from node j. */
static struct found *
find_start(struct world *w, size_t j, const uint8_t *topic, const uint8_t pk[32])
{
	struct found *f = calloc(1, sizeof(*f));

	memcpy(f->pk, pk, 32);
	if (topic)
		CHECK_INT(dht_lookup(w->nodes[j].d, topic, found_peer, found_done,
		    f), 0);
	else
		CHECK_INT(dht_find_peer(w->nodes[j].d, pk, found_peer,
		    found_done, f), 0);
	return f;
}

/* ------------------------------------------------------------ tests */

#define BIG	100
#define TOPICS	20
#define SERVERS	5

static void
converge_and_find(void)
{
	struct world w;
	struct done dn = { 0 };
	struct keypair kp[TOPICS + SERVERS];
	struct dht_announcer *srv[SERVERS];
	struct found *fs[TOPICS * 3 + SERVERS * 3 + 1];
	uint8_t topic[32];
	size_t i, nf = 0, hit = 0;

	world_new(&w, BIG, 1, 0.01);
	CHECK(sim_run(w.sim, all_ready, &w, 120000));
	CHECK_UINT(count(&w, is_persistent), BIG);
	/* let the tables fill through traffic and refreshes */
	run_for(&w, 30000);
	CHECK_UINT(count(&w, has_full_table), BIG);

	for (i = 0; i < TOPICS; i++) {
		keypair_of(&kp[i], (unsigned)i);
		topic_of(topic, (unsigned)i);
		CHECK_INT(dht_announce_topic(w.nodes[1 + i * 3].d, topic, &kp[i],
		    NULL, 0, done_cb, &dn), 0);
	}
	for (i = 0; i < SERVERS; i++) {
		keypair_of(&kp[TOPICS + i], (unsigned)(TOPICS + i));
		srv[i] = dht_listen(w.nodes[70 + i].d, &kp[TOPICS + i], NULL);
		CHECK(srv[i] != NULL);
	}
	run_for(&w, 20000);
	CHECK_INT(dn.n, TOPICS);
	CHECK_INT(dn.fails, 0);
	for (i = 0; i < SERVERS; i++)
		CHECK_UINT(dht_announcer_relays(srv[i], NULL, NULL, 3), 3);

	/* every key from three other nodes */
	for (i = 0; i < TOPICS; i++) {
		topic_of(topic, (unsigned)i);
		fs[nf++] = find_start(&w, (i * 7 + 2) % BIG, topic, kp[i].pk);
		fs[nf++] = find_start(&w, (i * 13 + 50) % BIG, topic, kp[i].pk);
		fs[nf++] = find_start(&w, BIG - 1 - i, topic, kp[i].pk);
	}
	for (i = 0; i < SERVERS; i++) {
		fs[nf++] = find_start(&w, i * 11 + 3, NULL, kp[TOPICS + i].pk);
		fs[nf++] = find_start(&w, (i * 17 + 40) % BIG, NULL, kp[TOPICS + i].pk);
		fs[nf++] = find_start(&w, 99 - i * 3, NULL, kp[TOPICS + i].pk);
	}
	fs[nf] = NULL;
	CHECK(sim_run(w.sim, found_all_done, fs, 60000));
	for (i = 0; i < nf; i++) {
		if (fs[i]->hits > 0)
			hit++;
		else
			harness_fail(__FILE__, __LINE__, "lookup %zu found nothing",
			    i);
		free(fs[i]);
	}
	CHECK_UINT(hit, nf);
	printf("converge: %d nodes, %zu lookups found, %llu datagrams\n", BIG,
	    hit, (unsigned long long)sim_stats(w.sim)->sent);
	for (i = 0; i < SERVERS; i++)
		dht_unlisten(srv[i]);
	run_for(&w, 10000);
	world_free(&w);
}

/* ------------------------------------------------------------ tokens */

struct tokctx {
	int		 n;
	int		 err;
	struct dht_reply r;
	uint8_t		 token[32];
	uint8_t		 id[32];
	bool		 has_token, has_id;
};

static void
tok_cb(void *arg, int err, const struct dht_reply *r)
{
	struct tokctx *t = arg;

	t->n++;
	t->err = err;
	if (err == 0) {
		t->r = *r;
		t->r.value = NULL;
		t->r.closer = NULL;
		if ((t->has_token = r->has_token))
			memcpy(t->token, r->token, 32);
		if ((t->has_id = r->has_id))
			memcpy(t->id, r->id, 32);
	}
}

static bool
tok_done(void *arg)
{
	return ((struct tokctx *)arg)->n > 0;
}

static void
send_announce(struct world *w, size_t from, size_t to, const uint8_t token[32],
    const uint8_t id[32], const struct keypair *kp, struct tokctx *res)
{
	struct dht_request_opts o;
	struct dht_announce a;
	uint8_t target[32], signable[64], val[256];
	int n;

	keys_hash(target, kp->pk, 32);
	memset(&a, 0, sizeof(a));
	a.has_peer = true;
	memcpy(a.peer.publicKey, kp->pk, 32);
	{
		uint8_t pe[33];

		memcpy(pe, kp->pk, 32);
		pe[32] = 0;
		dht_announce_signable(signable, DHT_NS_ANNOUNCE, target, id,
		    token, pe, 33, NULL);
	}
	a.has_signature = true;
	CHECK_INT(keys_sign(a.signature, signable, 64, kp), 0);
	n = dht_announce_encode(&a, val, sizeof(val));
	CHECK(n > 0);
	memset(&o, 0, sizeof(o));
	o.to = w->nodes[to].addr;
	o.command = DHT_CMD_ANNOUNCE;
	o.target = target;
	o.token = token;
	o.value = val;
	o.value_len = (size_t)n;
	o.retries = -1;
	o.sock = -1;
	memset(res, 0, sizeof(*res));
	CHECK_INT(dht_request(w->nodes[from].d, &o, tok_cb, res), 0);
	CHECK(sim_run(w->sim, tok_done, res, 10000));
}

static void
token_expiry(void)
{
	struct world w;
	struct dht_request_opts o;
	struct tokctx t, r;
	struct keypair kp;
	uint8_t target[32];

	world_new(&w, 8, 2, 0);
	CHECK(sim_run(w.sim, all_ready, &w, 60000));
	keypair_of(&kp, 77);
	keys_hash(target, kp.pk, 32);
	memset(&o, 0, sizeof(o));
	o.to = w.nodes[3].addr;
	o.command = DHT_CMD_FIND_PEER;
	o.target = target;
	o.retries = -1;
	o.sock = -1;
	memset(&t, 0, sizeof(t));
	CHECK_INT(dht_request(w.nodes[5].d, &o, tok_cb, &t), 0);
	CHECK(sim_run(w.sim, tok_done, &t, 10000));
	CHECK(t.err == 0 && t.has_token && t.has_id);

	/* fresh token: accepted (empty reply, no error) */
	send_announce(&w, 5, 3, t.token, t.id, &kp, &r);
	CHECK_INT(r.err, 0);
	CHECK_UINT(r.r.error, 0);
	/* still accepted after one rotation (7.5 s) */
	run_for(&w, 7000);
	send_announce(&w, 5, 3, t.token, t.id, &kp, &r);
	CHECK_UINT(r.r.error, 0);
	/* after two rotations (> 15 s): INVALID_TOKEN with a fresh token */
	run_for(&w, 9000);
	send_announce(&w, 5, 3, t.token, t.id, &kp, &r);
	CHECK_INT(r.err, 0);
	CHECK_UINT(r.r.error, DHT_ERR_INVALID_TOKEN);
	CHECK(r.has_token && memcmp(r.token, t.token, 32) != 0);
	/* the fresh one works */
	memcpy(t.token, r.token, 32);
	send_announce(&w, 5, 3, t.token, t.id, &kp, &r);
	CHECK_UINT(r.r.error, 0);
	/* a token is bound to the requester's host */
	send_announce(&w, 6, 3, t.token, t.id, &kp, &r);
	CHECK_UINT(r.r.error, DHT_ERR_INVALID_TOKEN);
	world_free(&w);
}

/* ------------------------------------------------------------ TTLs */

static int
lookup_hits(struct world *w, size_t from, const uint8_t topic[32],
    const uint8_t pk[32])
{
	struct found *fs[2];
	int hits;

	fs[0] = find_start(w, from, topic, pk);
	fs[1] = NULL;
	CHECK(sim_run(w->sim, found_all_done, fs, 30000));
	hits = fs[0]->hits;
	free(fs[0]);
	return hits;
}

static void
record_ttl(void)
{
	struct world w;
	struct done dn = { 0 };
	struct keypair kp;
	uint8_t topic[32];
	struct dht_store_stats st;
	size_t i, stored = 0;

	world_new(&w, 24, 3, 0);
	CHECK(sim_run(w.sim, all_ready, &w, 60000));
	keypair_of(&kp, 5);
	topic_of(topic, 999);
	CHECK_INT(dht_announce_topic(w.nodes[4].d, topic, &kp, NULL, 0, done_cb,
	    &dn), 0);
	run_for(&w, 10000);
	CHECK_INT(dn.n, 1);
	CHECK_INT(dn.fails, 0);
	for (i = 0; i < w.n; i++) {
		dht_store_stats(w.nodes[i].d, &st);
		stored += st.records;
	}
	/* every closest reply (all 23 others, fewer than k) got it */
	CHECK(stored >= 15);
	CHECK(lookup_hits(&w, 9, topic, kp.pk) >= 15);
	/* 12 minutes later: still there (lifetime >= 2/3 * 20 min) */
	run_for(&w, 12 * 60 * 1000);
	CHECK(lookup_hits(&w, 11, topic, kp.pk) >= 15);
	/* 27 minutes after the announce: gone (lifetime <= 4/3 * 20 min) */
	run_for(&w, 15 * 60 * 1000);
	CHECK_INT(lookup_hits(&w, 13, topic, kp.pk), 0);
	stored = 0;
	for (i = 0; i < w.n; i++) {
		dht_store_stats(w.nodes[i].d, &st);
		stored += st.records;
	}
	CHECK_UINT(stored, 0);
	/* re-announcing stores it again */
	CHECK_INT(dht_announce_topic(w.nodes[4].d, topic, &kp, NULL, 0, done_cb,
	    &dn), 0);
	run_for(&w, 10000);
	CHECK(lookup_hits(&w, 9, topic, kp.pk) >= 15);
	world_free(&w);
}

/* ------------------------------------------------------------ storage */

struct valctx {
	bool	 done;
	int	 err;
	uint8_t	 buf[256];
	size_t	 len;
	uint64_t seq;
};

static void
val_cb(void *arg, int err, const uint8_t *v, size_t len, uint64_t seq)
{
	struct valctx *c = arg;

	c->done = true;
	c->err = err;
	c->seq = seq;
	c->len = len < sizeof(c->buf) ? len : sizeof(c->buf);
	if (v)
		memcpy(c->buf, v, c->len);
}

static bool
val_done(void *arg)
{
	return ((struct valctx *)arg)->done;
}

static void
mutable_immutable(void)
{
	struct world w;
	struct done dn = { 0 };
	struct valctx c;
	struct keypair kp;
	uint8_t hash[32];
	static const char imm[] = "hello immutable";

	world_new(&w, 24, 4, 0.01);
	CHECK(sim_run(w.sim, all_ready, &w, 60000));
	CHECK_INT(dht_immutable_put(w.nodes[2].d, (const uint8_t *)imm,
	    sizeof(imm) - 1, hash, done_cb, &dn), 0);
	run_for(&w, 10000);
	CHECK_INT(dn.n, 1);
	CHECK_INT(dn.fails, 0);
	memset(&c, 0, sizeof(c));
	CHECK_INT(dht_immutable_get(w.nodes[17].d, hash, val_cb, &c), 0);
	CHECK(sim_run(w.sim, val_done, &c, 30000));
	CHECK_INT(c.err, 0);
	CHECK(c.len == sizeof(imm) - 1 && memcmp(c.buf, imm, c.len) == 0);

	keypair_of(&kp, 42);
	CHECK_INT(dht_mutable_put(w.nodes[3].d, &kp, (const uint8_t *)"v1", 2, 1,
	    done_cb, &dn), 0);
	run_for(&w, 10000);
	CHECK_INT(dn.n, 2);
	CHECK_INT(dn.fails, 0);
	CHECK_INT(dht_mutable_put(w.nodes[3].d, &kp, (const uint8_t *)"v2", 2, 2,
	    done_cb, &dn), 0);
	run_for(&w, 10000);
	CHECK_INT(dn.fails, 0);
	/* a lower seq is refused by every storing node: the put fails */
	CHECK_INT(dht_mutable_put(w.nodes[3].d, &kp, (const uint8_t *)"v0", 2, 0,
	    done_cb, &dn), 0);
	run_for(&w, 10000);
	CHECK_INT(dn.n, 4);
	CHECK_INT(dn.fails, 1);
	memset(&c, 0, sizeof(c));
	CHECK_INT(dht_mutable_get(w.nodes[20].d, kp.pk, 0, val_cb, &c), 0);
	CHECK(sim_run(w.sim, val_done, &c, 30000));
	CHECK_INT(c.err, 0);
	CHECK_UINT(c.seq, 2);
	CHECK(c.len == 2 && memcmp(c.buf, "v2", 2) == 0);
	memset(&c, 0, sizeof(c));
	CHECK_INT(dht_mutable_get(w.nodes[20].d, kp.pk, 3, val_cb, &c), 0);
	CHECK(sim_run(w.sim, val_done, &c, 30000));
	CHECK_INT(c.err, -ENOENT);
	world_free(&w);
}

/* ------------------------------------------------------------ listen/relay */

static int
srv_handshake(void *arg, const uint8_t *noise, size_t len,
    const struct hn_addr *peer, uint8_t *reply, size_t cap)
{
	int *calls = arg;

	(*calls)++;
	if (len + 6 > cap)
		return -1;
	memcpy(reply, "reply:", 6);
	memcpy(reply + 6, noise, len);
	return (int)(len + 6);
}

static int
srv_holepunch(void *arg, uint64_t id, const uint8_t *payload, size_t len,
    const struct hn_addr *peer, uint8_t *reply, size_t cap)
{
	int *calls = arg;

	(*calls)++;
	memcpy(reply, "punch", 5);
	return 5;
}

struct hsctx {
	int		 n;
	int		 err;
	struct hn_addr	 from, to;
	uint8_t		 value[256];
	size_t		 len;
};

static void
hs_cb(void *arg, int err, const struct dht_reply *r)
{
	struct hsctx *h = arg;

	h->n++;
	h->err = err;
	if (err == 0) {
		h->from = r->from;
		h->to = r->to;
		h->len = r->value_len < sizeof(h->value) ? r->value_len : 0;
		if (r->value)
			memcpy(h->value, r->value, h->len);
	}
}

static bool
hs_done(void *arg)
{
	return ((struct hsctx *)arg)->n > 0;
}

static void
listen_relay_unlisten_on(bool single)
{
	struct world w;
	struct keypair kp;
	struct dht_server_cbs cbs;
	struct dht_announcer *a;
	struct dht_request_opts o;
	struct dht_handshake hs;
	struct dht_holepunch hp;
	struct hsctx h;
	struct found *fs[2];
	struct hn_addr relays[3], peers[3], relay;
	uint8_t target[32], val[256];
	int calls = 0, n;
	size_t nr, i;

	size_t s = single ? 24 : 6;

	world_new_ex(&w, single ? 25 : 24, 5, 0, single ? 1 : 0);
	CHECK(sim_run(w.sim, all_ready, &w, 60000));
	if (single) {
		CHECK(!dht_is_persistent(w.nodes[s].d));
		CHECK(dht_is_firewalled(w.nodes[s].d));
	}
	keypair_of(&kp, 9);
	keys_hash(target, kp.pk, 32);
	memset(&cbs, 0, sizeof(cbs));
	cbs.on_handshake = srv_handshake;
	cbs.on_holepunch = srv_holepunch;
	cbs.arg = &calls;
	a = dht_listen(w.nodes[s].d, &kp, &cbs);
	CHECK(a != NULL);
	run_for(&w, 10000);
	nr = dht_announcer_relays(a, relays, peers, 3);
	CHECK_UINT(nr, 3);
	for (i = 0; i < nr; i++)
		CHECK(addr_eq(&peers[i], &w.nodes[s].addr));

	/* a client finds a relay holding the record */
	fs[0] = find_start(&w, 15, NULL, kp.pk);
	fs[1] = NULL;
	CHECK(sim_run(w.sim, found_all_done, fs, 30000));
	CHECK(fs[0]->hits > 0);
	relay = fs[0]->from;
	free(fs[0]);

	/* PEER_HANDSHAKE through it: client -> relay -> server -> relay */
	memset(&hs, 0, sizeof(hs));
	hs.mode = DHT_MODE_FROM_CLIENT;
	hs.noise = (const uint8_t *)"noise1";
	hs.noise_len = 6;
	n = dht_handshake_encode(&hs, val, sizeof(val));
	memset(&o, 0, sizeof(o));
	o.to = relay;
	o.command = DHT_CMD_PEER_HANDSHAKE;
	o.target = target;
	o.value = val;
	o.value_len = (size_t)n;
	o.retries = -1;
	o.sock = -1;
	memset(&h, 0, sizeof(h));
	CHECK_INT(dht_request(w.nodes[15].d, &o, hs_cb, &h), 0);
	CHECK(sim_run(w.sim, hs_done, &h, 10000));
	CHECK_INT(h.err, 0);
	CHECK(addr_eq(&h.from, &relay));
	CHECK(addr_eq(&h.to, &w.nodes[15].addr));
	CHECK_INT(dht_handshake_decode(&hs, h.value, h.len), 0);
	CHECK_UINT(hs.mode, DHT_MODE_REPLY);
	CHECK(hs.noise_len == 12 && memcmp(hs.noise, "reply:noise1", 12) == 0);
	CHECK(hs.has_peer_addr && addr_eq(&hs.peer_addr, &w.nodes[s].addr));
	CHECK_INT(calls, 1);

	/* PEER_HOLEPUNCH the same way, addressed by peerAddress */
	memset(&hp, 0, sizeof(hp));
	hp.mode = DHT_MODE_FROM_CLIENT;
	hp.id = 7;
	hp.payload = (const uint8_t *)"p1";
	hp.payload_len = 2;
	hp.has_peer_addr = true;
	hp.peer_addr = w.nodes[s].addr;
	n = dht_holepunch_encode(&hp, val, sizeof(val));
	o.command = DHT_CMD_PEER_HOLEPUNCH;
	o.value_len = (size_t)n;
	memset(&h, 0, sizeof(h));
	CHECK_INT(dht_request(w.nodes[15].d, &o, hs_cb, &h), 0);
	CHECK(sim_run(w.sim, hs_done, &h, 10000));
	CHECK_INT(h.err, 0);
	CHECK_INT(dht_holepunch_decode(&hp, h.value, h.len), 0);
	CHECK_UINT(hp.mode, DHT_MODE_REPLY);
	CHECK(hp.payload_len == 5 && memcmp(hp.payload, "punch", 5) == 0);
	CHECK_INT(calls, 2);

	/* the keep-alive loop re-announces every ~100 rounds of 3 s */
	run_for(&w, 11 * 60 * 1000);
	CHECK(dht_announcer_rounds(a) >= 3);
	CHECK_UINT(dht_announcer_relays(a, NULL, NULL, 3), 3);

	/* unlisten: every relay drops the record */
	dht_unlisten(a);
	run_for(&w, 10000);
	fs[0] = find_start(&w, 18, NULL, kp.pk);
	CHECK(sim_run(w.sim, found_all_done, fs, 30000));
	CHECK_INT(fs[0]->hits, 0);
	free(fs[0]);
	world_free(&w);
}

static void
listen_relay_unlisten(void)
{
	listen_relay_unlisten_on(false);
}

/* The same from an ephemeral one-socket server, as hypernatd runs. */
static void
listen_ephemeral_one_socket(void)
{
	listen_relay_unlisten_on(true);
}

static const struct test tests[] = {
	TEST(token_expiry),
	TEST(listen_ephemeral_one_socket),
	TEST(mutable_immutable),
	TEST(listen_relay_unlisten),
	TEST(record_ttl),
	TEST(converge_and_find),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("test_dht_sim", tests, NELEM(tests), argc, argv);
}
