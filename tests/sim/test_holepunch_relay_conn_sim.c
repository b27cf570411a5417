/*
 * test_holepunch_relay_conn_sim.c - a C blind relay (relay_service on a
 * conn_node, daemon/connect/relay.h) between a C client and a C server
 * that are both behind symmetric NATs (simnat.h): punching cannot work
 * there (both RANDOM), so the client's relayThrough (spec/connect.md §9)
 * is the only path.  The connection opens relayed, carries data both ways
 * intact, and the relay saw exactly one pairing.  Without relayThrough
 * the same world does not connect (checked by hand: that is what makes
 * this test mean something).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"
#include "sim/sim.h"
#include "sim/simnat.h"
#include "daemon/connect/conn.h"
#include "daemon/connect/relay.h"
#include "daemon/dht/dht.h"
#include "daemon/udx/udx.h"

#define PORT	49737
#define NDHT	8
#define NBYTES	200000

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
	bool		 opened, closed;
	enum conn_path	 path;		/* at open */
	uint64_t	 got, bad;
};

struct world {
	struct sim		*sim;
	struct simnat		*nat;
	struct dnode		 dn[NDHT];
	struct peer		 relay, srv, cli;
	struct relay_service	*svc;
	struct app		 sa, ca;
};

static void
dn_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct dnode *nd = arg;

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

	udx_socket_input(p->udx, sock, from, buf, len);
}

static int
peer_sock_open(void *arg)
{
	struct peer *p = arg;

	return sim_host_bind(p->host, 0, peer_recv, p);
}

static void
peer_sock_close(void *arg, int sock)
{
	struct peer *p = arg;

	sim_host_unbind(p->host, sock);
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
	cc.sock_open = peer_sock_open;
	cc.sock_close = peer_sock_close;
	cc.sock_arg = p;
	p->cn = conn_node_new(&cc);
	CHECK(p->d != NULL && p->cn != NULL);
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

	for (size_t i = 0; i < NDHT; i++)
		if (!w->dn[i].ready)
			return false;
	return w->relay.ready && w->srv.ready && w->cli.ready;
}

static uint8_t
pattern(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 9));
}

static void
app_open(struct conn *c, void *arg)
{
	struct app *a = arg;
	uint8_t buf[4096];

	a->opened = true;
	a->path = conn_path(c);
	/* the client writes NBYTES, in frames */
	if (a->c != NULL && conn_remote_key(c) != NULL &&
	    conn_path(c) != CONN_PATH_NONE) {
		for (uint64_t off = 0; off < NBYTES; off += sizeof(buf)) {
			size_t n = NBYTES - off < sizeof(buf) ?
			    (size_t)(NBYTES - off) : sizeof(buf);

			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(off + i);
			CHECK_INT(conn_write(c, buf, n), 0);
		}
	}
}

static void
app_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	struct app *a = arg;

	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(a->got + i))
			a->bad++;
	a->got += len;
	/* the server echoes every frame */
	if (a->c == NULL)
		(void)conn_write(c, buf, len);
}

static void
app_close(struct conn *c, int err, void *arg)
{
	struct app *a = arg;

	a->closed = true;
}

static const struct conn_ops app_ops = {
	.on_open = app_open,
	.on_data = app_data,
	.on_close = app_close,
};

static void
srv_accept(struct conn_server *s, struct conn *c, void *arg)
{
	conn_set_ops(c, &app_ops, arg);
}

static bool
both_got(void *arg)
{
	struct world *w = arg;

	return w->sa.got >= NBYTES && w->ca.got >= NBYTES;
}

static void
keypair_of(struct keypair *kp, uint8_t b)
{
	uint8_t seed[32];

	memset(seed, b, sizeof(seed));
	CHECK_INT(keys_from_seed(kp, seed), 0);
}

static void
relay_conn_sym_sym(void)
{
	struct sim_link link = { .delay_us = 5000, .jitter_us = 1000 };
	struct world w;
	struct dht_config cfg;
	struct keypair rkp, skp, ckp;
	struct conn_connect_opts o;
	struct relay_server_stats st;
	uint8_t relays[1][32];
	char ip[32];

	memset(&w, 0, sizeof(w));
	CHECK_INT(keys_init(), 0);
	w.sim = sim_new(5);
	sim_set_link(w.sim, &link);
	w.nat = simnat_new(w.sim);
	for (size_t i = 0; i < NDHT; i++) {
		struct dnode *nd = &w.dn[i];

		snprintf(ip, sizeof(ip), "198.51.100.%zu", i + 1);
		nd->host = sim_host_add(w.sim, ip);
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
			cfg.bootstrap[0] = w.dn[0].addr;
			cfg.nbootstrap = 1;
		}
		nd->d = dht_new(sim_host_io(nd->host), &cfg);
		sim_run_until(w.sim, sim_now_ms(w.sim) + 50);
	}
	CHECK_INT(simnat_router_attach(simnat_router_add(w.nat, SIMNAT_SYM,
	    "203.0.113.10"), "10.1.0.11"), 0);
	CHECK_INT(simnat_router_attach(simnat_router_add(w.nat, SIMNAT_SYM,
	    "203.0.113.20"), "10.2.0.11"), 0);
	peer_start(&w, &w.relay, "198.51.100.100");
	peer_start(&w, &w.srv, "10.2.0.11");
	peer_start(&w, &w.cli, "10.1.0.11");
	CHECK(sim_run(w.sim, all_ready, &w, 60000));

	keypair_of(&rkp, 0x11);
	keypair_of(&skp, 0x22);
	keypair_of(&ckp, 0x33);
	w.svc = relay_service_new(w.relay.cn, w.relay.udx,
	    sim_host_io(w.relay.host), &rkp);
	CHECK(w.svc != NULL);
	CHECK(conn_listen(w.srv.cn, &skp, NULL, srv_accept, &w.sa) != NULL);
	sim_run_until(w.sim, sim_now_ms(w.sim) + 3000);	/* announced */

	memset(&o, 0, sizeof(o));
	memcpy(o.remote_pk, skp.pk, 32);
	o.kp = &ckp;
	memcpy(relays[0], rkp.pk, 32);
	o.relay_through = (const uint8_t (*)[32])relays;
	o.nrelay_through = 1;
	w.ca.c = conn_connect(w.cli.cn, &o, &app_ops, &w.ca);
	CHECK(w.ca.c != NULL);
	CHECK(sim_run(w.sim, both_got, &w, 60000));
	CHECK(w.ca.opened);
	CHECK_UINT(w.sa.got, NBYTES);
	CHECK_UINT(w.ca.got, NBYTES);
	CHECK_UINT(w.sa.bad + w.ca.bad, 0);
	CHECK(!w.ca.closed);
	CHECK_STR(conn_path_name(w.ca.path), "relayed");
	relay_service_get_stats(w.svc, &st);
	CHECK_UINT(st.pairings_matched, 1);
	CHECK_UINT(st.links_active, 1);
	relay_service_free(w.svc);

	peer_stop(&w.cli);
	peer_stop(&w.srv);
	peer_stop(&w.relay);
	for (size_t i = 0; i < NDHT; i++)
		dht_free(w.dn[i].d);
	simnat_free(w.nat);
	sim_free(w.sim);
}

static const struct test tests[] = {
	TEST(relay_conn_sym_sym),
};

int
main(int argc, char **argv)
{
	return harness_main("test_holepunch_relay_conn_sim", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
