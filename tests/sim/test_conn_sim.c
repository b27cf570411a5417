/*
 * test_conn_sim.c - C server <-> C client over conn.h on the simulated
 * network (no NAT): a small DHT (bootstrapper + persistent nodes) and two
 * ephemeral one-socket peers, each with udx + dht + conn_node on one
 * socket, as hypernatd runs.
 *
 * Checks: a connection opens (remote keys, path, capabilities), carries
 * 8 MB each way intact, raw and secure datagrams both ways, ends cleanly
 * (on_close 0 on both sides); a client the firewall rejects gets
 * -ECONNREFUSED; a keypear-derived server key works; after
 * conn_server_close() the key is no longer found (-EHOSTUNREACH).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"
#include "sim/sim.h"
#include "daemon/connect/conn.h"
#include "daemon/dht/dht.h"
#include "daemon/udx/udx.h"

#define PORT		49737
#define NDHT		10
#define CHUNK		16384

struct dnode {
	struct sim_host	*host;
	struct dht	*d;
	int		 sock;
	struct hn_addr	 addr;
	bool		 ready;
};

struct peer {
	struct sim_host		*host;
	struct udx		*udx;
	struct dht		*d;
	struct conn_node	*cn;
	int			 sock;
	struct hn_addr		 addr;
	bool			 ready;
};

struct app {
	struct conn	*c;
	bool		 opened, ended, closed;
	int		 close_err;
	uint64_t	 to_write, written, got;
	uint64_t	 bad_at;
	bool		 end_after;
	int		 raw, secure;
	size_t		 last_dgram;
	bool		 dgram_ok;
};

struct world {
	struct sim	*sim;
	struct dnode	 dn[NDHT];
	struct peer	 srv, cli;
	struct app	 sa, ca;
	int		 accepted;
	int		 reject;
};

static uint8_t
pattern(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56 ^ x >> 29 ^ i);
}

static void
dn_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct dnode *nd = arg;

	if (nd->d)
		dht_input(nd->d, sock, from, buf, len);
}

static void
dn_ready(struct dht *d, void *arg)
{
	((struct dnode *)arg)->ready = true;
}

static void
peer_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct peer *p = arg;

	if (p->udx)
		udx_socket_input(p->udx, sock, from, buf, len);
}

static void
peer_ready(struct dht *d, void *arg)
{
	((struct peer *)arg)->ready = true;
}

static void
peer_start(struct world *w, struct peer *p, const char *ip)
{
	struct dht_config cfg;
	struct conn_node_config cc;

	p->host = sim_host_add(w->sim, ip);
	p->sock = sim_host_bind(p->host, 0, peer_recv, p);
	p->addr = *sim_host_addr(p->host, p->sock);
	p->udx = udx_new(sim_host_io(p->host));
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = cfg.client_sock = p->sock;
	cfg.server_port = p->addr.port;
	cfg.no_adaptive = true;
	cfg.bootstrap[0] = w->dn[0].addr;
	cfg.nbootstrap = 1;
	cfg.on_ready = peer_ready;
	cfg.arg = p;
	p->d = dht_new(sim_host_io(p->host), &cfg);
	memset(&cc, 0, sizeof(cc));
	cc.io = sim_host_io(p->host);
	cc.udx = p->udx;
	cc.dht = p->d;
	cc.sock = p->sock;
	cc.local_addrs[0] = p->addr;
	cc.nlocal_addrs = 1;
	cc.caps = CONN_CAP_SECURE_DGRAM;
	p->cn = conn_node_new(&cc);
}

static void
peer_stop(struct peer *p)
{
	conn_node_free(p->cn);
	dht_free(p->d);
	udx_free(p->udx);
}

static bool
all_ready(void *arg)
{
	struct world *w = arg;
	size_t i;

	for (i = 0; i < NDHT; i++)
		if (!w->dn[i].ready)
			return false;
	return w->srv.ready && w->cli.ready;
}

static void
world_new(struct world *w, uint64_t seed)
{
	struct sim_link link = { .delay_us = 5000, .jitter_us = 1000 };
	struct dht_config cfg;
	char ip[32];
	size_t i;

	memset(w, 0, sizeof(*w));
	w->sim = sim_new(seed);
	sim_set_link(w->sim, &link);
	for (i = 0; i < NDHT; i++) {
		struct dnode *nd = &w->dn[i];

		snprintf(ip, sizeof(ip), "10.0.0.%zu", i + 1);
		nd->host = sim_host_add(w->sim, ip);
		nd->sock = sim_host_bind(nd->host, PORT, dn_recv, nd);
		nd->addr = *sim_host_addr(nd->host, nd->sock);
		memset(&cfg, 0, sizeof(cfg));
		cfg.server_sock = cfg.client_sock = nd->sock;
		cfg.server_port = PORT;
		cfg.on_ready = dn_ready;
		cfg.arg = nd;
		if (i == 0) {
			cfg.bootstrapper = true;
			cfg.public_addr = nd->addr;
		} else {
			cfg.persistent = true;
			cfg.bootstrap[0] = w->dn[0].addr;
			cfg.nbootstrap = 1;
		}
		nd->d = dht_new(sim_host_io(nd->host), &cfg);
		sim_run_until(w->sim, sim_now_ms(w->sim) + 50);
	}
	peer_start(w, &w->srv, "10.1.0.2");
	peer_start(w, &w->cli, "10.2.0.2");
	CHECK(sim_run(w->sim, all_ready, w, 60000));
}

static void
world_free(struct world *w)
{
	size_t i;

	peer_stop(&w->srv);
	peer_stop(&w->cli);
	for (i = 0; i < NDHT; i++)
		dht_free(w->dn[i].d);
	sim_free(w->sim);
}

static void
run_for(struct world *w, uint64_t ms)
{
	sim_run_until(w->sim, sim_now_ms(w->sim) + ms);
}

/* ------------------------------------------------------------ app */

static void
feed(struct app *a)
{
	uint8_t buf[CHUNK];
	uint64_t i;
	size_t n;

	while (a->written < a->to_write && conn_writable(a->c)) {
		n = CHUNK;
		if (a->to_write - a->written < n)
			n = (size_t)(a->to_write - a->written);
		for (i = 0; i < n; i++)
			buf[i] = pattern(a->written + i);
		if (conn_write(a->c, buf, n) != 0)
			return;
		a->written += n;
	}
	if (a->written == a->to_write && a->end_after) {
		a->end_after = false;
		conn_end(a->c);
	}
}

static void
app_open(struct conn *c, void *arg)
{
	struct app *a = arg;

	a->c = c;
	a->opened = true;
	feed(a);
}

static void
app_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	struct app *a = arg;
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pattern(a->got + i) && a->bad_at == 0)
			a->bad_at = a->got + i + 1;
	a->got += len;
}

static void
app_end(struct conn *c, void *arg)
{
	((struct app *)arg)->ended = true;
}

static void
app_dgram(struct conn *c, const uint8_t *buf, size_t len, bool secure,
    void *arg)
{
	struct app *a = arg;
	size_t i;

	if (secure)
		a->secure++;
	else
		a->raw++;
	a->last_dgram = len;
	a->dgram_ok = true;
	for (i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(i * 7 + (secure ? 1 : 0)))
			a->dgram_ok = false;
}

static void
app_drain(struct conn *c, void *arg)
{
	feed(arg);
}

static void
app_close(struct conn *c, int err, void *arg)
{
	struct app *a = arg;

	a->closed = true;
	a->close_err = err;
	a->c = NULL;
}

static const struct conn_ops app_ops = {
	.on_open = app_open,
	.on_data = app_data,
	.on_end = app_end,
	.on_datagram = app_dgram,
	.on_drain = app_drain,
	.on_close = app_close,
};

static int
srv_firewall(void *arg, const uint8_t remote_pk[32],
    const struct hn_addr *remote)
{
	struct world *w = arg;

	return w->reject;
}

static void
srv_accept(struct conn_server *s, struct conn *c, void *arg)
{
	struct world *w = arg;

	w->accepted++;
	w->sa.c = c;
	conn_set_ops(c, &app_ops, &w->sa);
}

static bool
both_open(void *arg)
{
	struct world *w = arg;

	return (w->sa.opened && w->ca.opened) || w->ca.closed;
}

static bool
cli_closed(void *arg)
{
	return ((struct world *)arg)->ca.closed;
}

static bool
transfer_done(void *arg)
{
	struct world *w = arg;

	return w->sa.closed && w->ca.closed;
}

static void
keypair_of(struct keypair *kp, unsigned i)
{
	uint8_t seed[32];

	memset(seed, (int)i + 1, sizeof(seed));
	seed[0] = 0x5a;
	keys_from_seed(kp, seed);
}

static struct conn *
connect_to(struct world *w, const uint8_t pk[32], const struct keypair *ckp)
{
	struct conn_connect_opts o;

	memset(&o, 0, sizeof(o));
	memcpy(o.remote_pk, pk, 32);
	o.kp = ckp;
	return conn_connect(w->cli.cn, &o, &app_ops, &w->ca);
}

static void
send_dgrams(struct conn *c, bool secure, size_t len)
{
	uint8_t buf[2048];
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + (secure ? 1 : 0));
	CHECK_INT(secure ? conn_send_secure(c, buf, len) :
	    conn_send_raw(c, buf, len), 0);
}

/* ------------------------------------------------------------ tests */

static void
open_transfer_close(void)
{
	struct world w;
	struct keypair skp, ckp;
	struct conn_server *s;
	struct hn_addr ra;
	struct conn_stats st;
	uint8_t big[2100];

	world_new(&w, 11);
	keypair_of(&skp, 1);
	keypair_of(&ckp, 2);
	s = conn_listen(w.srv.cn, &skp, srv_firewall, srv_accept, &w);
	CHECK(s != NULL);
	run_for(&w, 5000);
	w.sa.to_write = w.ca.to_write = 8u << 20;
	w.sa.end_after = w.ca.end_after = true;
	/* writes wait for the open: the server app starts in on_open too */
	w.ca.c = connect_to(&w, skp.pk, &ckp);
	CHECK(w.ca.c != NULL);
	CHECK(sim_run(w.sim, both_open, &w, 30000));
	CHECK(w.sa.opened && w.ca.opened);
	CHECK_INT(w.accepted, 1);
	if (!w.sa.opened || !w.ca.opened)
		goto out;
	CHECK_MEM(conn_remote_key(w.sa.c), ckp.pk, 32);
	CHECK_MEM(conn_remote_key(w.ca.c), skp.pk, 32);
	CHECK_UINT(conn_remote_caps(w.sa.c), CONN_CAP_SECURE_DGRAM);
	CHECK_UINT(conn_remote_caps(w.ca.c), CONN_CAP_SECURE_DGRAM);
	CHECK(conn_path(w.ca.c) != CONN_PATH_NONE);
	conn_remote_addr(w.ca.c, &ra);
	CHECK(addr_eq(&ra, &w.srv.addr));
	conn_remote_addr(w.sa.c, &ra);
	CHECK(addr_eq(&ra, &w.cli.addr));

	/* datagrams, raw and secure, both ways */
	send_dgrams(w.ca.c, false, 1000);
	send_dgrams(w.sa.c, false, 1000);
	run_for(&w, 200);
	CHECK_INT(w.sa.raw, 1);
	CHECK_INT(w.ca.raw, 1);
	CHECK(w.sa.dgram_ok && w.ca.dgram_ok);
	CHECK_UINT(w.sa.last_dgram, 1000);
	send_dgrams(w.ca.c, true, 900);
	send_dgrams(w.sa.c, true, 900);
	run_for(&w, 200);
	CHECK_INT(w.sa.secure, 1);
	CHECK_INT(w.ca.secure, 1);
	CHECK(w.sa.dgram_ok && w.ca.dgram_ok);
	CHECK_UINT(w.ca.last_dgram, 900);
	memset(big, 0, sizeof(big));
	CHECK_INT(conn_send_raw(w.ca.c, big, sizeof(big)), -EMSGSIZE);
	CHECK(conn_max_datagram(w.ca.c, true) + 24 ==
	    conn_max_datagram(w.ca.c, false));

	CHECK(sim_run(w.sim, transfer_done, &w, 120000));
	CHECK(w.sa.ended && w.ca.ended);
	CHECK_UINT(w.sa.got, 8u << 20);
	CHECK_UINT(w.ca.got, 8u << 20);
	CHECK_UINT(w.sa.bad_at, 0);
	CHECK_UINT(w.ca.bad_at, 0);
	CHECK_INT(w.sa.close_err, 0);
	CHECK_INT(w.ca.close_err, 0);
	printf("# 8 MiB each way: sim %llu ms, got %llu/%llu\n", (unsigned long long)sim_now_ms(w.sim), (unsigned long long)w.sa.got, (unsigned long long)w.ca.got);
	(void)st;
out:
	conn_server_close(s);
	world_free(&w);
}

static void
rejected_client(void)
{
	struct world w;
	struct keypair skp;
	struct conn_server *s;

	world_new(&w, 12);
	keypair_of(&skp, 3);
	w.reject = 1;
	s = conn_listen(w.srv.cn, &skp, srv_firewall, srv_accept, &w);
	run_for(&w, 5000);
	w.ca.c = connect_to(&w, skp.pk, NULL);
	CHECK(sim_run(w.sim, cli_closed, &w, 60000));
	CHECK_INT(w.ca.close_err, -ECONNREFUSED);
	CHECK_INT(w.accepted, 0);
	conn_server_close(s);
	world_free(&w);
}

static void
keypear_server_and_close(void)
{
	struct world w;
	struct keypair base, skp;
	struct conn_server *s;
	uint8_t pk[32];

	world_new(&w, 13);
	keypair_of(&base, 4);
	CHECK_INT(keys_derive(&skp, &base, "udp7913", 7), 0);
	CHECK(!skp.has_seed);
	CHECK_INT(keys_derive_public(pk, base.pk, "udp7913", 7), 0);
	CHECK_MEM(pk, skp.pk, 32);
	s = conn_listen(w.srv.cn, &skp, NULL, srv_accept, &w);
	CHECK(s != NULL);
	run_for(&w, 5000);
	w.ca.c = connect_to(&w, pk, NULL);
	CHECK(sim_run(w.sim, both_open, &w, 30000));
	CHECK(w.sa.opened && w.ca.opened);
	if (w.ca.c != NULL) {
		/* an abort reaches the peer */
		conn_destroy(w.ca.c);
		CHECK(w.ca.closed);
		CHECK_INT(w.ca.close_err, -ECANCELED);
	}
	run_for(&w, 2000);
	CHECK(w.sa.closed);
	CHECK_INT(w.sa.close_err, -ECONNRESET);

	/* unannounced: nobody has the record any more */
	conn_server_close(s);
	run_for(&w, 5000);
	memset(&w.ca, 0, sizeof(w.ca));
	w.ca.c = connect_to(&w, pk, NULL);
	CHECK(sim_run(w.sim, cli_closed, &w, 60000));
	CHECK_INT(w.ca.close_err, -EHOSTUNREACH);
	world_free(&w);
}

static const struct test tests[] = {
	TEST(open_transfer_close),
	TEST(rejected_client),
	TEST(keypear_server_and_close),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("test_conn_sim", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
