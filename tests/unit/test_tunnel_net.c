/*
 * test_tunnel_net.c - the tunnels on the real stack: a private C DHT on
 * 127.0.0.1 (a bootstrapper and persistent nodes), two hypernatd-shaped
 * peers (one UDP socket each carrying DHT and UDX, conn_node, evio on
 * libev), an export on one and an import on the other, real local echo
 * services; bytes and datagrams must come back intact (hashes).
 *
 * Run as `test_tunnel_net hncli ARGS...` it is hypernatd's hyper-nat front
 * end (hncli_main()) on one such peer, bootstrapped from the environment
 * variable HYPERNAT_BOOTSTRAP ("IP:PORT,..."; required: tests never touch
 * the public network); tests/interop/hypernat/ runs it against the real
 * hyper-nat 1.1.3.  hncli_node_up() is what hypernatd's main.c has to
 * provide the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "harness.h"
#include "keys.h"
#include "daemon/config.h"
#include "daemon/connect/conn.h"
#include "daemon/dht/dht.h"
#include "daemon/evio.h"
#include "daemon/tunnel/hncli.h"
#include "daemon/tunnel/tunnel.h"
#include "log.h"
#include "daemon/udx/udx.h"
#include "test_tunnel_echo.h"

#define NDHT	5

struct rnode {
	struct udx		*udx;	/* peers only */
	struct dht		*d;
	struct conn_node	*cn;
	int			 sock;
	struct hn_addr		 addr;
	bool			 ready;
};

static struct evio *E;
static struct rnode dn[NDHT], srv, cli, cli_plain;

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct rnode *n = arg;

	if (n->udx)
		udx_socket_input(n->udx, sock, from, buf, len);
	else if (n->d)
		dht_input(n->d, sock, from, buf, len);
}

static void
on_batch(void *arg)
{
	struct rnode *p[] = { &srv, &cli, &cli_plain };

	for (size_t i = 0; i < 3; i++)
		if (p[i]->udx)
			udx_flush(p[i]->udx);
}

static void
on_ready(struct dht *d, void *arg)
{
	((struct rnode *)arg)->ready = true;
}

static int
node_start(struct rnode *n, int role, uint32_t caps)
{
	struct dht_config cfg;
	struct conn_node_config cc;
	struct hn_addr lo;

	addr_parse("127.0.0.1:0", &lo);
	if ((n->sock = evio_udp_bind(E, &lo, on_recv, n)) < 0 ||
	    evio_udp_local(E, n->sock, &n->addr) != 0)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = cfg.client_sock = n->sock;
	cfg.server_port = n->addr.port;
	cfg.on_ready = on_ready;
	cfg.arg = n;
	if (role == 0) {
		cfg.bootstrapper = true;
		cfg.public_addr = n->addr;
	} else {
		cfg.persistent = role == 1;
		cfg.no_adaptive = role == 2;
		cfg.bootstrap[0] = dn[0].addr;
		cfg.nbootstrap = 1;
	}
	if (role == 2 && (n->udx = udx_new(evio_io(E))) == NULL)
		return -1;
	if ((n->d = dht_new(evio_io(E), &cfg)) == NULL)
		return -1;
	if (role != 2)
		return 0;
	memset(&cc, 0, sizeof(cc));
	cc.io = evio_io(E);
	cc.udx = n->udx;
	cc.dht = n->d;
	cc.sock = n->sock;
	cc.local_addrs[0] = n->addr;
	cc.nlocal_addrs = 1;
	cc.caps = caps;
	return (n->cn = conn_node_new(&cc)) ? 0 : -1;
}

static bool
all_ready(void *arg)
{
	for (size_t i = 0; i < NDHT; i++)
		if (!dn[i].ready)
			return false;
	return srv.ready && cli.ready && cli_plain.ready;
}

static bool world_up;

static bool
on_srv_ready(void *arg)
{
	return srv.ready;
}

static bool
world(void)
{
	if (world_up)
		return true;
	E = evio_new(EV_DEFAULT);
	evio_set_batch_cb(E, on_batch, NULL);
	for (size_t i = 0; i < NDHT; i++) {
		if (node_start(&dn[i], i == 0 ? 0 : 1, 0) != 0)
			return CHECK(!"dht node");
		run_for(0.05, NULL, NULL);
	}
	if (node_start(&srv, 2, CONN_CAP_SECURE_DGRAM) != 0 ||
	    node_start(&cli, 2, CONN_CAP_SECURE_DGRAM) != 0 ||
	    node_start(&cli_plain, 2, 0) != 0)
		return CHECK(!"peer node");
	run_for(30, all_ready, NULL);
	world_up = all_ready(NULL);
	return CHECK(world_up);
}

struct pair {
	struct keypair		 base, client;
	struct tunnel_layer	*exp_l, *imp_l;
	struct tunnel		*exp, *imp;
	struct hn_addr		 imp_addr;
	uint16_t		 svc_port;
};

static bool
pair_start(struct pair *p, enum tun_proto proto, struct rnode *client,
    int splain, bool allow_other_only)
{
	struct tunnel_config tc;
	struct tundef d;

	memset(p, 0, sizeof(*p));
	keys_generate(&p->base);
	keys_generate(&p->client);
	p->svc_port = echo_start();
	tcp_echo_accepted = 0;
	memset(&tc, 0, sizeof(tc));
	tc.loop = EV_DEFAULT;
	tc.node = srv.cn;
	tc.base = &p->base;
	tc.secure_dgrams = true;
	tc.plaintext = splain;
	p->exp_l = tunnel_layer_new(&tc);
	tc.node = client->cn;
	tc.base = NULL;
	tc.client = &p->client;
	tc.secure_dgrams = client == &cli;
	tc.plaintext = PLAINTEXT_ALLOW;
	tc.udp_idle_ms = 30000;
	tc.tcp_attempts = 1;
	p->imp_l = tunnel_layer_new(&tc);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = proto;
	d.port = p->svc_port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	if (allow_other_only) {
		d.nallow = 1;
		memset(d.allow[0], 0x42, 32);
	}
	if (!CHECK(tunnel_start_named(p->exp_l, &d, NULL, &p->exp) == 0))
		return false;
	memset(&d, 0, sizeof(d));
	d.kind = TUN_IMPORT;
	d.proto = proto;
	d.port = p->svc_port;
	memcpy(d.peer, p->base.pk, 32);
	memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	if (!CHECK(tunnel_start_named(p->imp_l, &d, NULL, &p->imp) == 0))
		return false;
	tunnel_local_addr(p->imp, &p->imp_addr);
	run_for(1, NULL, NULL);	/* let the announce land */
	return true;
}

static void
pair_stop(struct pair *p)
{
	tunnel_layer_free(p->imp_l);
	tunnel_layer_free(p->exp_l);
	run_for(0.2, NULL, NULL);
	echo_stop();
}

static void
net_tcp(void)
{
	struct pair p;
	struct tunnel_stats st;

	if (!world() || !pair_start(&p, TUN_TCP, &cli, PLAINTEXT_ALLOW, false))
		return;
	check_tcp_echo(&p.imp_addr, 300000);
	check_tcp_echo(&p.imp_addr, 17);
	tunnel_get_stats(p.imp, &st);
	CHECK_UINT(st.bytes_out, 300017);
	CHECK_UINT(st.bytes_in, 300017);
	CHECK_UINT(st.conns_total, 2);
	pair_stop(&p);
}

static void
net_tcpudp(void)
{
	struct pair p;
	struct tunnel_stats st;

	if (!world() || !pair_start(&p, TUN_TCPUDP, &cli, PLAINTEXT_ALLOW,
	    false))
		return;
	check_tcp_echo(&p.imp_addr, 50000);
	tunnel_get_stats(p.imp, &st);
	CHECK_UINT(st.bytes_in, 50000);
	CHECK_UINT(st.dgrams_out_secure, st.dgrams_out);
	pair_stop(&p);
}

static void
run_udp(struct rnode *client, bool secure)
{
	struct pair p;
	struct udp_wait u[2];
	struct tunnel_stats st;
	uint8_t acc[2][32];

	if (!world() || !pair_start(&p, TUN_UDP, client, PLAINTEXT_ALLOW,
	    false))
		return;
	memset(u, 0, sizeof(u));
	memset(acc, 0, sizeof(acc));
	u[0].fd = udp_client();
	u[1].fd = udp_client();
	/* the first datagrams wait in the session while it connects */
	udp_burst(&u[0], &p.imp_addr, 30, acc[0], 1100);
	udp_burst(&u[1], &p.imp_addr, 20, acc[1], 1100);
	run_for(15, udp_drain2, u);
	/* larger than the path takes: counted and dropped, never cut */
	{
		uint8_t big[1400];

		memset(big, 9, sizeof(big));
		udp_send(u[0].fd, &p.imp_addr, big, sizeof(big));
		run_for(0.3, NULL, NULL);
		CHECK(!udp_drain(&u[0]) || u[0].got == 30);
	}
	CHECK_UINT(u[0].got, 30);
	CHECK_UINT(u[1].got, 20);
	CHECK_MEM(u[0].hash_acc, acc[0], 32);
	CHECK_MEM(u[1].hash_acc, acc[1], 32);
	tunnel_get_stats(p.imp, &st);
	CHECK_UINT(st.conns_total, 2);
	CHECK_UINT(st.dgrams_out, 50);
	CHECK_UINT(st.dgrams_out_secure, secure ? 50 : 0);
	CHECK_UINT(st.drops_too_big, 1);
	close(u[0].fd);
	close(u[1].fd);
	pair_stop(&p);
}

static void
net_udp_secure(void)
{
	run_udp(&cli, true);
}

static void
net_udp_plaintext_peer(void)
{
	run_udp(&cli_plain, false);
}

static void
net_refusals(void)
{
	struct pair p;
	struct udp_wait u;
	struct tunnel_stats se, si;
	uint8_t acc[32] = { 0 };

	/* an importer without secure datagrams, an exporter that refuses */
	if (!world() || !pair_start(&p, TUN_UDP, &cli_plain,
	    PLAINTEXT_REFUSE, false))
		return;
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	udp_burst(&u, &p.imp_addr, 3, acc, 1100);
	run_for(3, udp_drain, &u);
	CHECK_UINT(u.got, 0);
	tunnel_get_stats(p.exp, &se);
	CHECK(se.conns_refused >= 1);
	CHECK_UINT(se.dgrams_out + se.dgrams_in, 0);
	close(u.fd);
	pair_stop(&p);
	/* an allow-list without our client key: refused by the firewall */
	if (!pair_start(&p, TUN_TCP, &cli, PLAINTEXT_ALLOW, true))
		return;
	{
		struct tcp_client t;

		tcp_client_start(&t, &p.imp_addr, (const uint8_t *)"hi", 2);
		run_for(15, tc_done, &t);
		CHECK(t.eof);
		CHECK_UINT(t.ngot, 0);
		tcp_client_free(&t);
	}
	tunnel_get_stats(p.exp, &se);
	tunnel_get_stats(p.imp, &si);
	/* the firewall runs once per copy of the handshake it receives */
	CHECK(se.conns_refused >= 1);
	CHECK_UINT(si.conns_refused, 1);
	CHECK_UINT(tcp_echo_accepted, 0);
	pair_stop(&p);
}

/* The exporter stops and starts again: the udp session reconnects and
 * what was sent meanwhile is delivered (queued in the session). */
static void
net_udp_reconnect(void)
{
	struct pair p;
	struct udp_wait u;
	struct tundef d;
	struct tunnel_stats st;
	uint8_t acc[32] = { 0 };

	if (!world() || !pair_start(&p, TUN_UDP, &cli, PLAINTEXT_ALLOW, false))
		return;
	memset(&u, 0, sizeof(u));
	u.fd = udp_client();
	udp_burst(&u, &p.imp_addr, 5, acc, 1000);
	run_for(10, udp_drain, &u);
	CHECK_UINT(u.got, 5);
	tunnel_stop(p.exp);
	run_for(0.5, NULL, NULL);
	udp_burst(&u, &p.imp_addr, 5, acc, 1000);
	memset(&d, 0, sizeof(d));
	d.kind = TUN_EXPORT;
	d.proto = TUN_UDP;
	d.port = p.svc_port;
	memcpy(d.host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	CHECK_INT(tunnel_start_named(p.exp_l, &d, NULL, &p.exp), 0);
	run_for(20, udp_drain, &u);
	CHECK_UINT(u.got, 10);
	CHECK_MEM(u.hash_acc, acc, 32);
	tunnel_get_stats(p.imp, &st);
	CHECK_UINT(st.conns_total, 2);
	CHECK_UINT(st.conns_open, 1);
	close(u.fd);
	pair_stop(&p);
}

static const struct test tests[] = {
	TEST(net_tcp), TEST(net_tcpudp), TEST(net_udp_secure),
	TEST(net_udp_plaintext_peer), TEST(net_refusals),
	TEST(net_udp_reconnect),
};

/* ------------------------------------------------------------ hncli tool */

static struct conn_node *
hncli_node_up(void *arg, uint32_t caps)
{
	const char *env = getenv("HYPERNAT_BOOTSTRAP");
	char *list, *tok, *save = NULL;
	size_t n = 0;

	if (env == NULL || *env == '\0') {
		fprintf(stderr, "HYPERNAT_BOOTSTRAP is not set\n");
		return NULL;
	}
	E = evio_new(EV_DEFAULT);
	evio_set_batch_cb(E, on_batch, NULL);
	/* dn[0] stands for the bootstrap list: node_start() reads dn[0] */
	list = strdup(env);
	for (tok = strtok_r(list, ",", &save); tok && n < 1;
	    tok = strtok_r(NULL, ",", &save))
		if (addr_parse_bootstrap(tok, &dn[0].addr) == 0)
			n++;
	free(list);
	if (n == 0 || node_start(&srv, 2, caps) != 0) {
		fprintf(stderr, "bad HYPERNAT_BOOTSTRAP or no node\n");
		return NULL;
	}
	run_for(30, on_srv_ready, NULL);
	if (!srv.ready)
		fprintf(stderr, "warning: the DHT node did not bootstrap yet\n");
	return srv.cn;
}

static void
hncli_node_down(void *arg)
{
	conn_node_free(srv.cn);
	dht_free(srv.d);
	udx_free(srv.udx);
	evio_free(E);
}

int
main(int argc, char **argv)
{
	int rc;

	if (keys_init() != 0)
		return 2;
	if (argc > 1 && strcmp(argv[1], "hncli") == 0) {
		struct hncli_env env = {
			.loop = EV_DEFAULT,
			.node_up = hncli_node_up,
			.node_down = hncli_node_down,
		};

		log_init("hypernatd", LOG_LVL_INFO);
		return hncli_main(argc - 1, argv + 1, &env);
	}
	rc = harness_main("tunnel_net", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
	if (world_up) {
		struct rnode *p[] = { &srv, &cli, &cli_plain };

		for (size_t i = 0; i < 3; i++) {
			conn_node_free(p[i]->cn);
			dht_free(p[i]->d);
			udx_free(p[i]->udx);
		}
		for (size_t i = 0; i < NDHT; i++)
			dht_free(dn[i].d);
	}
	evio_free(E);
	return rc;
}
