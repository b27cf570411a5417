/*
 * test_tunnel.c - the tunnels on real loopback sockets and libev, over a
 * FAKE peer-connection layer defined below
 *
 * The fake implements the part of daemon/connect/conn.h the tunnels call,
 * in memory: conn_connect() finds the conn_listen() server with that key
 * among the fake nodes, runs its firewall, and pairs two struct conn;
 * every write, end, datagram and close reaches the other end from the
 * loop, never from inside the call (conn.h's rule).  Raw datagrams above
 * 2028 bytes and secure ones above 2028 - 20 are refused with -EMSGSIZE,
 * as the contract says.  It is a test double for the tunnel logic (local
 * sockets, sessions, framing, counters, policies); the real connection
 * layer is tested in its own suites and, with the tunnels, by
 * tests/interop/hypernat/.  Because this file defines the conn_* symbols,
 * the linker never pulls daemon/connect/ objects into this program.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>
#include <sodium.h>

#include "harness.h"
#include "keys.h"
#include "daemon/config.h"
#include "daemon/connect/conn.h"
#include "daemon/tunnel/tunnel.h"
#include "test_tunnel_echo.h"

#define RAW_MAX		2028
#define SECURE_OVERHEAD	20

/* ------------------------------------------------------------ the fake */

struct conn_node {
	uint32_t	 caps;
	uint8_t		 default_pk[32];
	bool		 used;
};

struct conn_server {
	struct conn_node *node;
	uint8_t		 pk[32];
	conn_firewall_fn *firewall;
	conn_accept_fn	*on_connection;
	void		*arg;
	bool		 live;
};

struct conn {
	struct conn_node *node;
	struct conn	*peer;
	const struct conn_ops *ops;
	void		*arg;
	uint8_t		 remote_pk[32];
	uint32_t	 remote_caps;
	bool		 live, open, ended, peer_ended;
	struct conn_stats st;
};

enum ev_kind { E_ACCEPT, E_OPEN, E_DATA, E_END, E_DGRAM, E_CLOSE };

struct fev {
	enum ev_kind	 kind;
	struct conn	*c;
	struct conn_server *srv;
	uint8_t		*buf;
	size_t		 len;
	bool		 secure;
	int		 err;
	ev_tstamp	 due;
};

#define MAX_FAKE	256
static struct conn_node nodes[4];
static struct conn_server servers[MAX_FAKE];
static struct conn conns[4 * MAX_FAKE];
static size_t nconns;
static struct fev *queue;
static size_t qlen, qcap;
static ev_timer qtimer;
static uint64_t fake_raw_sent, fake_secure_sent, fake_max_raw;
/* Datagrams take this long, everything else no time: an END overtakes. */
static double fake_dgram_delay;

static void
enqueue(enum ev_kind k, struct conn *c, const void *buf, size_t len,
    bool secure, int err)
{
	struct fev *e;

	if (qlen == qcap) {
		qcap = qcap ? 2 * qcap : 256;
		queue = realloc(queue, qcap * sizeof(*queue));
	}
	e = &queue[qlen++];
	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->c = c;
	e->len = len;
	e->secure = secure;
	e->err = err;
	e->due = ev_now(EV_DEFAULT) + (k == E_DGRAM ? fake_dgram_delay : 0);
	if (len) {
		e->buf = malloc(len);
		memcpy(e->buf, buf, len);
	}
	if (!ev_is_active(&qtimer) || k != E_DGRAM || fake_dgram_delay == 0) {
		ev_timer_stop(EV_DEFAULT, &qtimer);
		ev_timer_set(&qtimer, 0, 0);
		ev_timer_start(EV_DEFAULT, &qtimer);
	}
}

static void
fake_close(struct conn *c, int err)
{
	if (!c->live)
		return;
	c->live = false;
	if (c->ops && c->ops->on_close)
		c->ops->on_close(c, err, c->arg);
}

static void
dispatch(struct fev *e)
{
	struct conn *c = e->c;

	if (e->kind == E_ACCEPT) {
		if (e->srv->live && c->live)
			e->srv->on_connection(e->srv, c, e->srv->arg);
		else
			c->live = false;
		return;
	}
	if (!c->live)
		return;
	switch (e->kind) {
	case E_OPEN:
		c->open = true;
		c->ops->on_open(c, c->arg);
		break;
	case E_DATA:
		c->st.bytes_in += e->len;
		c->ops->on_data(c, e->buf, e->len, c->arg);
		break;
	case E_END:
		c->peer_ended = true;
		c->ops->on_end(c, c->arg);
		if (c->live && c->ended && c->peer_ended) {
			enqueue(E_CLOSE, c, NULL, 0, false, 0);
			if (c->peer)
				enqueue(E_CLOSE, c->peer, NULL, 0, false, 0);
		}
		break;
	case E_DGRAM:
		c->st.dgrams_in++;
		c->ops->on_datagram(c, e->buf, e->len, e->secure, c->arg);
		break;
	case E_CLOSE:
		fake_close(c, e->err);
		break;
	case E_ACCEPT:
		break;
	}
}

static void
on_qtimer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fev *snap;
	size_t n = qlen, keep = 0;
	ev_tstamp now = ev_now(loop), next = 0;

	/* take what is due; the rest stays, in order */
	snap = malloc((n ? n : 1) * sizeof(*snap));
	for (size_t i = 0; i < n; i++) {
		if (queue[i].due <= now)
			snap[keep++] = queue[i];
	}
	for (size_t i = 0, j = 0; i < n; i++) {
		if (queue[i].due > now) {
			if (next == 0 || queue[i].due < next)
				next = queue[i].due;
			queue[j++] = queue[i];
		}
	}
	qlen = n - keep;
	for (size_t i = 0; i < keep; i++) {
		dispatch(&snap[i]);
		free(snap[i].buf);
	}
	free(snap);
	if (qlen > 0 && next > 0) {
		ev_timer_stop(loop, w);
		ev_timer_set(w, next - ev_now(loop) > 0 ? next - ev_now(loop) :
		    0, 0);
		ev_timer_start(loop, w);
	}
}

static struct conn *
conn_alloc(struct conn_node *n)
{
	struct conn *c;

	if (nconns == sizeof(conns) / sizeof(conns[0]))
		return NULL;
	c = &conns[nconns++];
	memset(c, 0, sizeof(*c));
	c->node = n;
	c->live = true;
	return c;
}

static struct conn_node *
fake_node(int i, uint32_t caps)
{
	struct conn_node *n = &nodes[i];

	n->caps = caps;
	n->used = true;
	randombytes_buf(n->default_pk, 32);
	return n;
}

const char *
conn_path_name(enum conn_path p)
{
	return "punched";
}

struct conn_server *
conn_listen(struct conn_node *n, const struct keypair *kp,
    conn_firewall_fn *firewall, conn_accept_fn *on_connection, void *arg)
{
	for (size_t i = 0; i < MAX_FAKE; i++) {
		struct conn_server *s = &servers[i];

		if (s->live || s->node)
			continue;
		s->node = n;
		memcpy(s->pk, kp->pk, 32);
		s->firewall = firewall;
		s->on_connection = on_connection;
		s->arg = arg;
		s->live = true;
		return s;
	}
	return NULL;
}

void
conn_server_close(struct conn_server *s)
{
	s->live = false;
}

struct conn *
conn_connect(struct conn_node *n, const struct conn_connect_opts *o,
    const struct conn_ops *ops, void *arg)
{
	struct conn *c = conn_alloc(n), *p;
	struct conn_server *srv = NULL;
	struct hn_addr a = { { 127, 0, 0, 1 }, 1 };
	const uint8_t *mypk = o->kp ? o->kp->pk : n->default_pk;

	if (c == NULL)
		return NULL;
	c->ops = ops;
	c->arg = arg;
	memcpy(c->remote_pk, o->remote_pk, 32);
	for (size_t i = 0; i < MAX_FAKE; i++)
		if (servers[i].live && memcmp(servers[i].pk, o->remote_pk,
		    32) == 0)
			srv = &servers[i];
	if (srv == NULL) {
		enqueue(E_CLOSE, c, NULL, 0, false, -EHOSTUNREACH);
		return c;
	}
	if (srv->firewall && srv->firewall(srv->arg, mypk, &a) != 0) {
		enqueue(E_CLOSE, c, NULL, 0, false, -ECONNREFUSED);
		return c;
	}
	if ((p = conn_alloc(srv->node)) == NULL) {
		enqueue(E_CLOSE, c, NULL, 0, false, -ENOMEM);
		return c;
	}
	memcpy(p->remote_pk, mypk, 32);
	p->remote_caps = n->caps;
	c->remote_caps = srv->node->caps;
	c->peer = p;
	p->peer = c;
	enqueue(E_ACCEPT, p, NULL, 0, false, 0);
	queue[qlen - 1].srv = srv;
	enqueue(E_OPEN, c, NULL, 0, false, 0);
	enqueue(E_OPEN, p, NULL, 0, false, 0);
	return c;
}

void
conn_set_ops(struct conn *c, const struct conn_ops *ops, void *arg)
{
	c->ops = ops;
	c->arg = arg;
}

int
conn_write(struct conn *c, const void *buf, size_t len)
{
	if (!c->open)
		return -ENOTCONN;
	if (c->ended)
		return -EPIPE;
	c->st.bytes_out += len;
	if (c->peer && c->peer->live)
		enqueue(E_DATA, c->peer, buf, len, false, 0);
	return 0;
}

bool
conn_writable(const struct conn *c)
{
	return true;
}

int
conn_end(struct conn *c)
{
	if (c->ended)
		return 0;
	c->ended = true;
	if (c->peer && c->peer->live)
		enqueue(E_END, c->peer, NULL, 0, false, 0);
	return 0;
}

int
conn_send_raw(struct conn *c, const void *buf, size_t len)
{
	if (len > RAW_MAX)
		return -EMSGSIZE;
	fake_raw_sent++;
	if (len > fake_max_raw)
		fake_max_raw = len;
	c->st.dgrams_out++;
	if (c->peer && c->peer->live)
		enqueue(E_DGRAM, c->peer, buf, len, false, 0);
	return 0;
}

int
conn_send_secure(struct conn *c, const void *buf, size_t len)
{
	if (len > RAW_MAX - SECURE_OVERHEAD)
		return -EMSGSIZE;
	fake_secure_sent++;
	c->st.dgrams_out++;
	if (c->peer && c->peer->live)
		enqueue(E_DGRAM, c->peer, buf, len, true, 0);
	return 0;
}

size_t
conn_max_datagram(const struct conn *c, bool secure)
{
	return secure ? RAW_MAX - SECURE_OVERHEAD : RAW_MAX;
}

void
conn_destroy(struct conn *c)
{
	if (!c->live)
		return;
	if (c->peer && c->peer->live)
		enqueue(E_CLOSE, c->peer, NULL, 0, false, -ECONNRESET);
	fake_close(c, -ECANCELED);
}

const uint8_t *
conn_remote_key(const struct conn *c)
{
	return c->remote_pk;
}

uint32_t
conn_remote_caps(const struct conn *c)
{
	return c->remote_caps;
}

enum conn_path
conn_path(const struct conn *c)
{
	return CONN_PATH_PUNCHED;
}

/* The rest of conn.h, so that no daemon/connect/ object is ever linked
 * in beside the fake. */
uint32_t
conn_rtt_us(const struct conn *c)
{
	return 1000;
}

void
conn_remote_addr(const struct conn *c, struct hn_addr *out)
{
	memset(out, 0, sizeof(*out));
}

void
conn_get_stats(const struct conn *c, struct conn_stats *st)
{
	*st = c->st;
}

struct conn_node *
conn_node_new(const struct conn_node_config *cfg)
{
	return NULL;
}

void
conn_node_free(struct conn_node *n)
{
}

int
conn_node_serve_relay(struct conn_node *n, const struct keypair *kp)
{
	return -EPERM;
}

void
conn_node_addresses_changed(struct conn_node *n, const struct hn_addr *local,
    size_t nlocal)
{
}

/* ------------------------------------------------------------ the world */

struct world {
	struct conn_node	*snode, *cnode;
	struct keypair		 base, client;
	struct tunnel_layer	*exp_l, *imp_l;
	struct tunnel		*exp, *imp;
	uint16_t		 svc_port;
	struct hn_addr		 imp_addr;
};

static void
world_init(struct world *w, enum tun_proto proto, uint32_t scaps,
    uint32_t ccaps, int splain, int cplain)
{
	struct tunnel_config tc;
	struct tundef d;

	memset(w, 0, sizeof(w[0]));
	memset(servers, 0, sizeof(servers));
	nconns = 0;
	fake_raw_sent = fake_secure_sent = fake_max_raw = 0;
	tcp_echo_accepted = 0;
	w->snode = fake_node(0, scaps);
	w->cnode = fake_node(1, ccaps);
	keys_from_secret(&w->base, "thisisaseretsecret", 18);
	keys_from_secret(&w->client, "client", 6);
	w->svc_port = echo_start();

	memset(&tc, 0, sizeof(tc));
	tc.loop = EV_DEFAULT;
	tc.node = w->snode;
	tc.base = &w->base;
	tc.secure_dgrams = scaps & CONN_CAP_SECURE_DGRAM;
	tc.plaintext = splain;
	w->exp_l = tunnel_layer_new(&tc);
	tc.node = w->cnode;
	tc.base = NULL;
	tc.client = &w->client;
	tc.secure_dgrams = ccaps & CONN_CAP_SECURE_DGRAM;
	tc.plaintext = cplain;
	tc.udp_idle_ms = 600;
	w->imp_l = tunnel_layer_new(&tc);

	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = proto;
	d.port = w->svc_port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(w->exp_l, &d, NULL, &w->exp), 0);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_IMPORT;
	d.proto = proto;
	d.port = w->svc_port;
	memcpy(d.peer, w->base.pk, 32);
	memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(w->imp_l, &d, NULL, &w->imp), 0);
	CHECK_INT(tunnel_local_addr(w->imp, &w->imp_addr), 0);
	/* both ends computed the same service key (spec §3.2) */
	CHECK_MEM(tunnel_service_key(w->exp), tunnel_service_key(w->imp), 32);
}

static void
world_free(struct world *w)
{
	tunnel_layer_free(w->imp_l);
	tunnel_layer_free(w->exp_l);
	run_for(0.05, NULL, NULL);
	echo_stop();
	keys_wipe(&w->base);
	keys_wipe(&w->client);
}

/* ------------------------------------------------------------ a TCP client */


/* ------------------------------------------------------------ tests */

static bool
no_sessions(void *arg)
{
	struct tunnel_stats a, b;
	struct world *w = arg;

	tunnel_get_stats(w->exp, &a);
	tunnel_get_stats(w->imp, &b);
	return a.sessions == 0 && b.sessions == 0;
}

static void
tcp_pipe_half_close(void)
{
	struct world w;
	struct tunnel_stats st;
	char line[128];

	world_init(&w, TUN_TCP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	/* 1 MiB each way; the echo service answers the client's EOF with
	 * its own only after echoing everything: half-close both ways */
	check_tcp_echo(&w.imp_addr, 1 << 20);
	check_tcp_echo(&w.imp_addr, 1);
	run_for(2, no_sessions, &w);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.bytes_out, (1 << 20) + 1);
	CHECK_UINT(st.bytes_in, (1 << 20) + 1);
	CHECK_UINT(st.conns_total, 2);
	CHECK_UINT(st.conns_open, 0);
	CHECK_UINT(st.sessions, 0);
	CHECK_UINT(tcp_echo_accepted, 2);
	tunnel_get_stats(w.exp, &st);
	CHECK_UINT(st.bytes_in, (1 << 20) + 1);
	tunnel_state(w.exp, line, sizeof(line));
	CHECK_STR(line, "listening, 0 connections");
	world_free(&w);
	tcp_echo_accepted = 0;
}

static void
tcpudp_chunks_and_early_bytes(void)
{
	struct world w;
	struct tunnel_stats st;

	world_init(&w, TUN_TCPUDP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	/* the client writes at once: hyper-nat's server loses these bytes
	 * (spec §6 #4), ours buffers them until its local connect is done */
	check_tcp_echo(&w.imp_addr, 200000);
	CHECK(fake_max_raw > 0 && fake_max_raw <= TUN_TCPUDP_CHUNK);
	CHECK(fake_raw_sent >= 2 * (200000 / TUN_TCPUDP_CHUNK));
	CHECK_UINT(fake_secure_sent, 0);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.bytes_in, 200000);
	CHECK_UINT(tunnel_stats_drops(&st), 0);
	world_free(&w);
}

/* UDP clients on loopback */
static void
run_udp(uint32_t scaps, uint32_t ccaps, bool expect_secure)
{
	struct world w;
	struct udp_wait u[2];
	struct tunnel_stats st, se;
	uint8_t acc[2][32];
	uint8_t big[3000];

	world_init(&w, TUN_UDP, scaps, ccaps, PLAINTEXT_ALLOW,
	    PLAINTEXT_ALLOW);
	memset(u, 0, sizeof(u));
	memset(acc, 0, sizeof(acc));
	u[0].fd = udp_client();
	u[1].fd = udp_client();
	/* two local applications: one peer connection each, replies go back
	 * to the right source (spec §6 #6) */
	udp_burst(&u[0], &w.imp_addr, 40, acc[0], 1500);
	udp_burst(&u[1], &w.imp_addr, 25, acc[1], 1500);
	/* too large for the path: counted, dropped, never cut (§6 #2) */
	memset(big, 7, sizeof(big));
	udp_send(u[0].fd, &w.imp_addr, big, sizeof(big));
	run_for(5, udp_drain2, u);
	CHECK_UINT(u[0].got, 40);
	CHECK_UINT(u[1].got, 25);
	CHECK_MEM(u[0].hash_acc, acc[0], 32);
	CHECK_MEM(u[1].hash_acc, acc[1], 32);
	tunnel_get_stats(w.imp, &st);
	tunnel_get_stats(w.exp, &se);
	CHECK_UINT(st.conns_total, 2);
	CHECK_UINT(se.conns_total, 2);
	CHECK_UINT(st.sessions, 2);
	{
		struct tunnel_peer pe[4];

		CHECK_UINT(tunnel_peers(w.imp, pe, 1), 2);	/* counts all */
		CHECK_UINT(tunnel_peers(w.exp, pe, 4), 2);
		/* the exporter sees the importer's stable client key */
		CHECK_MEM(pe[0].remote_pk, w.client.pk, 32);
		CHECK_INT(pe[0].path, CONN_PATH_PUNCHED);
		CHECK_INT(pe[0].secure, expect_secure);
		CHECK_UINT(pe[0].local.port, w.svc_port);
		CHECK_UINT(tunnel_peers(w.imp, pe, 4), 2);
		CHECK(pe[0].local.port != 0 && pe[1].local.port != 0 &&
		    pe[0].local.port != pe[1].local.port);
		CHECK_UINT(pe[0].dgrams_out + pe[1].dgrams_out, 65);
	}
	CHECK_UINT(st.dgrams_out, 65);
	CHECK_UINT(st.dgrams_in, 65);
	CHECK_UINT(st.drops_too_big, 1);
	if (expect_secure) {
		CHECK_UINT(fake_raw_sent, 0);
		CHECK_UINT(fake_secure_sent, 130);
	} else {
		CHECK_UINT(fake_raw_sent, 130);
		CHECK_UINT(fake_secure_sent, 0);
	}
	if (expect_secure) {
		/* a raw datagram injected into a secure connection (someone on
		 * the path guessing the stream) is dropped and counted */
		struct conn *ec = NULL;

		for (size_t k = 0; k < nconns; k++)
			if (conns[k].live && conns[k].node == w.snode)
				ec = &conns[k];
		if (CHECK(ec != NULL)) {
			CHECK_INT(conn_send_raw(ec, "injected", 8), 0);
			run_for(0.2, NULL, NULL);
			udp_drain(&u[0]);
			udp_drain(&u[1]);
			CHECK_UINT(u[0].got + u[1].got, 65);
			tunnel_get_stats(w.imp, &st);
			CHECK_UINT(st.drops_plaintext, 1);
			CHECK_UINT(st.dgrams_in, 65);
		}
	}
	/* idle: both sessions close after udp_idle_ms (600 ms here) */
	run_for(3, no_sessions, &w);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.sessions, 0);
	close(u[0].fd);
	close(u[1].fd);
	world_free(&w);
}

static void
udp_plaintext_with_hypernat_peer(void)
{
	run_udp(0, CONN_CAP_SECURE_DGRAM, false);
	run_udp(CONN_CAP_SECURE_DGRAM, 0, false);
}

static void
udp_secure_between_hypernatd(void)
{
	run_udp(CONN_CAP_SECURE_DGRAM, CONN_CAP_SECURE_DGRAM, true);
}

static void
udp_plaintext_refused(void)
{
	struct world w;
	struct udp_wait u;
	struct tunnel_stats se;
	uint8_t acc[32] = { 0 };

	/* the exporter refuses plaintext; the importer cannot offer it */
	world_init(&w, TUN_UDP, CONN_CAP_SECURE_DGRAM, 0, PLAINTEXT_REFUSE,
	    PLAINTEXT_ALLOW);
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	udp_burst(&u, &w.imp_addr, 3, acc, 1500);
	run_for(0.5, udp_drain, &u);
	CHECK_UINT(u.got, 0);
	tunnel_get_stats(w.exp, &se);
	CHECK(se.conns_refused >= 1);
	CHECK_UINT(se.dgrams_out, 0);
	CHECK_UINT(tunnel_stats_drops(&se) + se.dgrams_in, 0);
	close(u.fd);
	world_free(&w);
}

static void
allow_list(void)
{
	struct world w;
	struct tcp_client t;
	struct tundef d;
	struct tunnel_stats se;
	struct tunnel *exp2;

	world_init(&w, TUN_TCP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	/* replace the export by one that allows only someone else */
	tunnel_stop(w.exp);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = TUN_TCP;
	d.port = w.svc_port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	d.nallow = 1;
	memset(d.allow[0], 0x42, 32);
	CHECK_INT(tunnel_start_named(w.exp_l, &d, NULL, &exp2), 0);
	tcp_client_start(&t, &w.imp_addr, (const uint8_t *)"hello", 5);
	run_for(10, tc_done, &t);
	CHECK(t.eof);
	CHECK_UINT(t.ngot, 0);
	tunnel_get_stats(exp2, &se);
	/* refused once: a refusal is not retried for a TCP connection */
	CHECK_UINT(se.conns_refused, 1);
	CHECK_UINT(se.conns_total, 0);
	CHECK_UINT(tcp_echo_accepted, 0);
	tcp_client_free(&t);
	tunnel_stop(exp2);
	/* now allow the importer's client key */
	memcpy(d.allow[1], w.client.pk, 32);
	d.nallow = 2;
	CHECK_INT(tunnel_start_named(w.exp_l, &d, NULL, &w.exp), 0);
	check_tcp_echo(&w.imp_addr, 5000);
	world_free(&w);
	tcp_echo_accepted = 0;
}

static void
udp_reconnect_after_restart(void)
{
	struct world w;
	struct udp_wait u;
	struct tundef d;
	struct tunnel_stats st;
	uint8_t acc[32] = { 0 };

	world_init(&w, TUN_UDP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	udp_burst(&u, &w.imp_addr, 5, acc, 1500);
	run_for(3, udp_drain, &u);
	CHECK_UINT(u.got, 5);
	/* the exporter goes away and comes back */
	tunnel_stop(w.exp);
	run_for(0.1, NULL, NULL);
	udp_burst(&u, &w.imp_addr, 5, acc, 1500);	/* queued while down */
	run_for(0.3, NULL, NULL);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = TUN_UDP;
	d.port = w.svc_port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(w.exp_l, &d, NULL, &w.exp), 0);
	udp_burst(&u, &w.imp_addr, 5, acc, 1500);
	run_for(8, udp_drain, &u);
	CHECK_UINT(u.got, 15);
	CHECK_MEM(u.hash_acc, acc, 32);
	tunnel_get_stats(w.imp, &st);
	CHECK(st.conns_total >= 2);
	CHECK(st.conns_failed >= 1);
	close(u.fd);
	world_free(&w);
}

/* A layer made before its node and keys exist (the daemon's order). */
static void
attach_later(void)
{
	struct tunnel_config tc;
	struct tunnel_layer *el, *il;
	struct tunnel *e, *i;
	struct keypair base, client;
	struct tundef d;
	struct hn_addr ia;
	struct udp_wait u;
	uint8_t acc[32] = { 0 };
	char line[128];
	uint16_t port;

	memset(servers, 0, sizeof(servers));
	keys_from_secret(&base, "later", 5);
	keys_from_secret(&client, "client", 6);
	port = echo_start();
	memset(&tc, 0, sizeof(tc));
	tc.loop = EV_DEFAULT;
	el = tunnel_layer_new(&tc);
	il = tunnel_layer_new(&tc);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = TUN_UDP;
	d.port = port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(el, &d, NULL, &e), 0);
	d.kind = TUN_IMPORT;
	memcpy(d.peer, base.pk, 32);
	memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(il, &d, NULL, &i), 0);
	tunnel_state(e, line, sizeof(line));
	CHECK_STR(line, "waiting for the node, 0 connections");
	CHECK_INT(tunnel_local_addr(i, &ia), 0);
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	udp_burst(&u, &ia, 4, acc, 1000);	/* held in the session */
	run_for(0.3, udp_drain, &u);
	CHECK_UINT(u.got, 0);
	tunnel_layer_attach(el, fake_node(0, 0), &base, NULL);
	tunnel_layer_attach(il, fake_node(1, 0), NULL, &client);
	CHECK_MEM(tunnel_service_key(e), tunnel_service_key(i), 32);
	tunnel_state(e, line, sizeof(line));
	CHECK_STR(line, "listening, 0 connections");
	run_for(3, udp_drain, &u);
	CHECK_UINT(u.got, 4);
	CHECK_MEM(u.hash_acc, acc, 32);
	close(u.fd);
	tunnel_layer_free(il);
	tunnel_layer_free(el);
	run_for(0.05, NULL, NULL);
	echo_stop();
	keys_wipe(&base);
	keys_wipe(&client);
}

/* spec §5.3: the END (reliable stream) overtakes the last datagrams; the
 * grace before acting on it keeps the tail of the byte stream. */
static void
tcpudp_end_overtakes_data(void)
{
	struct world w;

	fake_dgram_delay = 0.05;
	world_init(&w, TUN_TCPUDP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	check_tcp_echo(&w.imp_addr, 30000);
	check_tcp_echo(&w.imp_addr, 10);
	world_free(&w);
	fake_dgram_delay = 0;
}

/* The daemon's path: the tunnel table drives the layer through tunnel_ops. */
static void
through_tuntab(void)
{
	struct tunnel_config tc;
	struct tunnel_layer *el, *il;
	struct tuntab te, ti;
	struct keypair base, client;
	struct tundef d;
	struct hn_addr ia;
	char line[128], why[128];
	uint16_t port, lport;
	int fd;

	memset(servers, 0, sizeof(servers));
	keys_from_secret(&base, "table", 5);
	keys_from_secret(&client, "client", 6);
	port = echo_start();
	memset(&tc, 0, sizeof(tc));
	tc.loop = EV_DEFAULT;
	tc.node = fake_node(0, 0);
	tc.base = &base;
	el = tunnel_layer_new(&tc);
	tc.node = fake_node(1, 0);
	tc.base = NULL;
	tc.client = &client;
	il = tunnel_layer_new(&tc);
	tuntab_init(&te, &tunnel_ops, el);
	tuntab_init(&ti, &tunnel_ops, il);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = TUN_TCP;
	d.port = port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	d.origin = TUN_ORIGIN_RUNTIME;
	CHECK_INT(tuntab_add(&te, &d, why, sizeof(why)), 0);
	/* a free local port for the import */
	fd = loopback_socket(SOCK_STREAM, 0);
	lport = bound_port(fd);
	close(fd);
	d.kind = TUN_IMPORT;
	memcpy(d.peer, base.pk, 32);
	memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	d.listen.port = lport;
	CHECK_INT(tuntab_add(&ti, &d, why, sizeof(why)), 0);
	CHECK_INT(ti.v[0].start_err, 0);
	tuntab_state(&te, 0, line, sizeof(line));
	CHECK_STR(line, "listening, 0 connections");
	tuntab_state(&ti, 0, line, sizeof(line));
	ia = d.listen;
	{
		char want[64], a[HN_ADDR_STRLEN];

		snprintf(want, sizeof(want), "listening on %s, 0 connections",
		    addr_format(&ia, a));
		CHECK_STR(line, want);
	}
	check_tcp_echo(&ia, 70000);
	/* the same local port twice: the table refuses it */
	d.port = port + 1;
	CHECK_INT(tuntab_add(&ti, &d, why, sizeof(why)), -EADDRINUSE);
	/* a port someone else holds: the start fails and the table says so */
	fd = loopback_socket(SOCK_STREAM, 0);
	d.listen.port = bound_port(fd);
	CHECK_INT(tuntab_add(&ti, &d, why, sizeof(why)), 0);
	CHECK_INT(ti.v[1].start_err, -EADDRINUSE);
	tuntab_state(&ti, 1, line, sizeof(line));
	CHECK_STR(line, "failed: Address already in use");
	close(fd);
	tuntab_free(&ti);
	tuntab_free(&te);
	tunnel_layer_free(il);
	tunnel_layer_free(el);
	run_for(0.05, NULL, NULL);
	echo_stop();
	keys_wipe(&base);
	keys_wipe(&client);
}

/* A tunnel holds at most max_sessions: more local TCP connections are
 * closed, more UDP sources dropped, more peer connections refused. */
static void
session_limit(void)
{
	struct world w;
	struct tcp_client t[3];
	struct tunnel_stats st;
	unsigned ok = 0;

	world_init(&w, TUN_TCP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	tunnel_layer_free(w.imp_l);
	{
		struct tunnel_config tc;
		struct tundef d;

		memset(&tc, 0, sizeof(tc));
		tc.loop = EV_DEFAULT;
		tc.node = w.cnode;
		tc.client = &w.client;
		tc.max_sessions = 2;
		w.imp_l = tunnel_layer_new(&tc);
		memset(&d, 0, sizeof(d));
		d.kind = TUN_IMPORT;
		d.proto = TUN_TCP;
		d.port = w.svc_port;
		memcpy(d.peer, w.base.pk, 32);
		memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
		CHECK_INT(tunnel_start_named(w.imp_l, &d, NULL, &w.imp), 0);
		tunnel_local_addr(w.imp, &w.imp_addr);
	}
	/* three clients that keep their connections open (no EOF yet) */
	for (int i = 0; i < 3; i++) {
		tcp_client_start(&t[i], &w.imp_addr, (const uint8_t *)"abc", 3);
		t[i].len = 3;
		ev_io_stop(EV_DEFAULT, &t[i].wio);
	}
	run_for(0.2, NULL, NULL);	/* connected (and one closed) */
	for (int i = 0; i < 3; i++)
		send(t[i].fd, "abc", 3, MSG_NOSIGNAL);
	run_for(1, NULL, NULL);
	for (int i = 0; i < 3; i++)
		ok += t[i].ngot == 3 && !t[i].eof;
	CHECK_UINT(ok, 2);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.sessions, 2);
	CHECK_UINT(st.sessions_refused, 1);
	for (int i = 0; i < 3; i++)
		tcp_client_free(&t[i]);
	world_free(&w);
}

/* Traffic keeps a udp session (idle 600 ms here); silence closes it. */
static void
udp_idle_extends(void)
{
	struct world w;
	struct udp_wait u;
	struct tunnel_stats st;
	uint8_t acc[32] = { 0 };

	world_init(&w, TUN_UDP, 0, 0, PLAINTEXT_ALLOW, PLAINTEXT_ALLOW);
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	for (int i = 0; i < 8; i++) {
		udp_burst(&u, &w.imp_addr, 1, acc, 100);
		run_for(0.2, NULL, NULL);
	}
	udp_drain(&u);
	CHECK_UINT(u.got, 8);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.sessions, 1);
	CHECK_UINT(st.conns_total, 1);
	run_for(3, no_sessions, &w);
	tunnel_get_stats(w.imp, &st);
	CHECK_UINT(st.sessions, 0);
	close(u.fd);
	world_free(&w);
}

static const struct test tests[] = {
	TEST(udp_idle_extends),
	TEST(session_limit),
	TEST(through_tuntab),
	TEST(tcpudp_end_overtakes_data),
	TEST(attach_later),
	TEST(tcp_pipe_half_close), TEST(tcpudp_chunks_and_early_bytes),
	TEST(udp_plaintext_with_hypernat_peer),
	TEST(udp_secure_between_hypernatd), TEST(udp_plaintext_refused),
	TEST(allow_list), TEST(udp_reconnect_after_restart),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	ev_timer_init(&qtimer, on_qtimer, 0, 0);
	return harness_main("tunnel", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
