/*
 * test_holepunch_relay_sim.c - a blind relay between two peers behind
 * symmetric NATs (the sym <-> sym cell, where punching cannot work):
 * relay.c's pairing over in-memory control channels, the relay's UDX
 * streams from relay_udx_cbs(), the peers' UDX streams connected to the
 * relay's address with the ids the relay handed out (spec/connect.md §9)
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "sim/sim.h"
#include "sim/simnat.h"
#include "daemon/connect/relay.h"
#include "daemon/udx/udx.h"

struct node {
	struct sim_host	*h;
	struct udx	*udx;
	int		 sock;
};

struct peer {
	struct node		 n;
	struct relay_client	*rc;
	struct udx_stream	*s;
	uint8_t			 rx[8192];
	size_t			 nrx;
	bool			 paired;
	struct hn_addr		 relay_addr;
};

struct world {
	struct sim		*sim;
	struct simnat		*nat;
	struct node		 r;
	struct relay_udx	 ru;
	struct relay_server	*srv;
	struct relay_session	*sess[2];
	struct peer		 p[2];
};

static void
node_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct node *n = arg;

	udx_socket_input(n->udx, sock, from, buf, len);
}

static void
node_start(struct world *w, struct node *n, const char *ip)
{
	n->h = sim_host_add(w->sim, ip);
	n->udx = udx_new(sim_host_io(n->h));
	n->sock = sim_host_bind(n->h, 0, node_recv, n);
	CHECK(n->udx != NULL && n->sock >= 0);
}

/* The control channels: frames go straight to the other end. */
static struct world *W;

static int
client_send(void *arg, const uint8_t *msg, size_t len)
{
	struct peer *p = arg;
	int i = p == &W->p[0] ? 0 : 1;

	CHECK_INT(relay_session_input(W->sess[i], msg, len), 0);
	return 0;
}

static int
session_send(void *arg, const uint8_t *msg, size_t len)
{
	struct peer *p = arg;

	CHECK_INT(relay_client_input(p->rc, msg, len), 0);
	return 0;
}

static void
on_data(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	if (p->nrx + len <= sizeof(p->rx)) {
		memcpy(p->rx + p->nrx, buf, len);
		p->nrx += len;
	}
}

static void
on_close(struct udx_stream *s, void *arg, int err)
{
	((struct peer *)arg)->s = NULL;
}

static const struct udx_stream_ops peer_ops = {
	.on_data = on_data,
	.on_close = on_close,
};

static void
on_pair(struct relay_client *c, const uint8_t token[32], uint64_t id,
    void *arg)
{
	struct peer *p = arg;

	p->paired = true;
	CHECK_INT(udx_stream_connect(p->s, p->n.sock, (uint32_t)id,
	    &p->relay_addr), 0);
}

static bool
both_got(void *arg)
{
	struct world *w = arg;

	return w->p[0].nrx == 5000 && w->p[1].nrx == 3000;
}

static void
relay_sym_sym_through_blind_relay(void)
{
	struct world w;
	struct relay_server_cbs cbs;
	struct simnat_router *ra, *rb;
	struct sim_link link = { .delay_us = 20000, .jitter_us = 2000,
	    .loss = 0.02 };
	uint8_t token[32], pk[32], a2b[3000], b2a[5000];
	struct relay_server_stats st;

	memset(&w, 0, sizeof(w));
	W = &w;
	w.sim = sim_new(42);
	sim_set_link(w.sim, &link);
	w.nat = simnat_new(w.sim);
	ra = simnat_router_add(w.nat, SIMNAT_SYM, "203.0.113.10");
	rb = simnat_router_add(w.nat, SIMNAT_SYM, "203.0.113.20");
	CHECK(simnat_router_attach(ra, "10.1.0.11") == 0);
	CHECK(simnat_router_attach(rb, "10.2.0.11") == 0);
	node_start(&w, &w.r, "198.51.100.13");
	node_start(&w, &w.p[0].n, "10.1.0.11");
	node_start(&w, &w.p[1].n, "10.2.0.11");
	w.ru.udx = w.r.udx;
	w.ru.io = sim_host_io(w.r.h);
	relay_udx_cbs(&w.ru, &cbs);
	w.srv = relay_server_new(&cbs);
	for (int i = 0; i < 2; i++) {
		struct relay_client_cbs ccbs = {
			.send = client_send,
			.on_pair = on_pair,
			.arg = &w.p[i],
		};

		memset(pk, 0x40 + i, sizeof(pk));
		w.p[i].relay_addr = *sim_host_addr(w.r.h, w.r.sock);
		w.p[i].rc = relay_client_new(pk, &ccbs);
		w.sess[i] = relay_server_accept(w.srv, pk, session_send,
		    &w.p[i]);
		CHECK_INT(udx_stream_new(w.p[i].n.udx, 100 + (uint32_t)i,
		    &peer_ops, &w.p[i], &w.p[i].s), 0);
	}
	memset(token, 0x5a, sizeof(token));
	CHECK_INT(relay_client_pair(w.p[0].rc, true, token, 100), 0);
	CHECK(!w.p[0].paired);
	CHECK_INT(relay_client_pair(w.p[1].rc, false, token, 101), 0);
	CHECK(w.p[0].paired && w.p[1].paired);
	/* both write at once (a SecretStream header does that) */
	for (size_t i = 0; i < sizeof(a2b); i++)
		a2b[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(b2a); i++)
		b2a[i] = (uint8_t)(i * 13 + 1);
	CHECK_INT(udx_stream_write(w.p[0].s, a2b, sizeof(a2b)), 0);
	CHECK_INT(udx_stream_write(w.p[1].s, b2a, sizeof(b2a)), 0);
	CHECK(sim_run(w.sim, both_got, &w, 20000));
	CHECK_UINT(w.p[1].nrx, sizeof(a2b));
	CHECK_MEM(w.p[1].rx, a2b, sizeof(a2b));
	CHECK_UINT(w.p[0].nrx, sizeof(b2a));
	CHECK_MEM(w.p[0].rx, b2a, sizeof(b2a));
	relay_server_get_stats(w.srv, &st);
	CHECK_UINT(st.links_active, 1);
	/* unpair: the relay drops both streams, nothing more gets through */
	CHECK_INT(relay_client_unpair(w.p[0].rc, token), 0);
	relay_server_get_stats(w.srv, &st);
	CHECK_UINT(st.links_active, 0);
	CHECK(w.p[0].s != NULL);
	if (w.p[0].s != NULL)
		CHECK_INT(udx_stream_write(w.p[0].s, a2b, 100), 0);
	sim_run_until(w.sim, sim_now_ms(w.sim) + 3000);
	CHECK_UINT(w.p[1].nrx, sizeof(a2b));
	relay_server_free(w.srv);
	for (int i = 0; i < 2; i++) {
		relay_client_free(w.p[i].rc);
		udx_free(w.p[i].n.udx);
	}
	udx_free(w.r.udx);
	simnat_free(w.nat);
	sim_free(w.sim);
}

static const struct test tests[] = {
	TEST(relay_sym_sym_through_blind_relay),
};

int
main(int argc, char **argv)
{
	return harness_main("test_holepunch_relay_sim", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
