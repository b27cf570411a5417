/*
 * test_holepunch_relay.c - the blind relay (daemon/connect/relay.h): the
 * pair/unpair codec against connect.json#blind_relay_pair, the Protomux
 * frames, and a pairing through a relay server between two clients wired
 * back to back in memory.
 *
 * Run as `test_holepunch_relay tool --bootstrap IP:PORT --host IP --seed
 * SEEDHEX` it is a C blind relay for the NAT lab (tests/natlab/): one
 * persistent node (DHT, UDX and conn_node at IP, daemon/evio.c on libev)
 * serving as a blind relay on the key of SEEDHEX: with
 * conn_node_serve_relay() (what the daemon uses), or with --service
 * relay.h's relay_service.  It prints
 * "relay PKHEX", then "up 1" once the DHT node is ready, and runs until
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "harness.h"
#include "hex.h"
#include "keys.h"
#include "daemon/connect/conn.h"
#include "daemon/connect/relay.h"
#include "daemon/dht/dht.h"
#include "daemon/evio.h"
#include "daemon/udx/udx.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* connect.json#blind_relay_pair */
static const char *const pair_hex = "01303132333435363738393a3b3c3d3e3f4041"
    "42434445464748494a4b4c4d4e4ffe0df0ad0b00";

static void
token_fill(uint8_t t[32], uint8_t base)
{
	for (int i = 0; i < 32; i++)
		t[i] = (uint8_t)(base + i);
}

static void
relay_pair_vector(void)
{
	struct relay_pair m = { .is_initiator = true, .id = 195948557 }, d;
	uint8_t out[RELAY_PAIR_MAX_SIZE], tok[32], *want;
	size_t len, wlen;

	token_fill(m.token, 0x30);
	want = harness_unhex(pair_hex, &wlen);
	CHECK_INT(relay_pair_encode(&m, out, sizeof(out), &len), 0);
	CHECK_UINT(len, wlen);
	CHECK_MEM(out, want, wlen);
	CHECK_INT(relay_pair_decode(&d, want, wlen), 0);
	CHECK(d.is_initiator);
	CHECK_UINT(d.id, 195948557);
	CHECK_UINT(d.seq, 0);
	CHECK_MEM(d.token, m.token, 32);
	/* truncated: an error, nothing written */
	CHECK_INT(relay_pair_decode(&d, want, wlen - 1), -EBADMSG);
	CHECK(!d.is_initiator);
	CHECK_INT(relay_pair_encode(&m, out, 10, &len), -ENOSPC);
	/* a bitfield with a 0xfd length prefix: bit 0 of the first byte */
	want[0] = 0xfd;
	{
		uint8_t ext[64];

		ext[0] = 0xfd;
		ext[1] = 0x03;
		ext[2] = 0x00;
		memcpy(ext + 3, want + 1, wlen - 1);
		CHECK_INT(relay_pair_decode(&d, ext, wlen + 2), 0);
		CHECK(d.is_initiator);
		CHECK_UINT(d.id, 195948557);
	}
	/* unpair: flags 0 | token */
	CHECK_INT(relay_unpair_encode(m.token, out, sizeof(out), &len), 0);
	CHECK_UINT(len, 33);
	CHECK_INT(out[0], 0);
	CHECK_INT(relay_unpair_decode(tok, out, len), 0);
	CHECK_MEM(tok, m.token, 32);
	CHECK_INT(relay_unpair_decode(tok, out, 32), -EBADMSG);
	free(want);
}

/* ----------------------------------------------- two clients and a relay */

struct pipe_end {
	struct world	*w;
	int		 side;		/* 0 client a, 1 client b */
	bool		 server;	/* this end is the server's session */
};

struct frame {
	uint8_t		 buf[256];
	size_t		 len;
	int		 to;		/* 0 a, 1 b, 2 relay session of a, 3 of b */
};

struct fake_stream {
	uint64_t	 id;
	uint64_t	 remote_id;
	struct fake_stream *linked;
	bool		 destroyed;
};

struct world {
	struct relay_client	*c[2];
	struct relay_server	*srv;
	struct relay_session	*sess[2];
	struct pipe_end		 ends[4];
	struct frame		 q[64];
	size_t			 nq;
	uint64_t		 paired_id[2];
	int			 paired[2];
	int			 closed[2];
	struct fake_stream	 streams[4];
	size_t			 nstreams;
	int			 links, destroyed;
	uint8_t			 last_sent[4][256];
	size_t			 last_len[4];
};

static int
pipe_send(void *arg, const uint8_t *msg, size_t len)
{
	struct pipe_end *e = arg;
	struct world *w = e->w;
	struct frame *f;
	int from = e->server ? 2 + e->side : e->side;

	if (w->nq == NELEM(w->q) || len > sizeof(f->buf))
		return -ENOBUFS;
	f = &w->q[w->nq++];
	memcpy(f->buf, msg, len);
	f->len = len;
	f->to = e->server ? e->side : 2 + e->side;
	memcpy(w->last_sent[from], msg, len);
	w->last_len[from] = len;
	return 0;
}

static void
pump(struct world *w)
{
	for (size_t i = 0; i < w->nq; i++) {
		struct frame *f = &w->q[i];
		int err;

		if (f->to < 2)
			err = relay_client_input(w->c[f->to], f->buf, f->len);
		else
			err = relay_session_input(w->sess[f->to - 2], f->buf,
			    f->len);
		CHECK_INT(err, 0);
	}
	w->nq = 0;
}

static void
on_pair(struct relay_client *c, const uint8_t token[32], uint64_t id,
    void *arg)
{
	struct pipe_end *e = arg;

	e->w->paired[e->side]++;
	e->w->paired_id[e->side] = id;
}

static void
on_close(struct relay_client *c, void *arg)
{
	struct pipe_end *e = arg;

	e->w->closed[e->side]++;
}

static int
create_stream(void *arg, struct relay_session *sess, uint64_t remote_id,
    void **stream, uint64_t *local_id)
{
	struct world *w = arg;
	struct fake_stream *s;

	if (w->nstreams == NELEM(w->streams))
		return -ENOMEM;
	s = &w->streams[w->nstreams];
	s->id = 1000 + w->nstreams++;
	s->remote_id = remote_id;
	*stream = s;
	*local_id = s->id;
	return 0;
}

static void
link_streams(void *arg, void *a, void *b)
{
	struct world *w = arg;
	struct fake_stream *x = a, *y = b;

	x->linked = y;
	y->linked = x;
	w->links++;
}

static void
destroy_stream(void *arg, void *stream)
{
	struct world *w = arg;
	struct fake_stream *s = stream;

	s->destroyed = true;
	w->destroyed++;
}

static void
world_init(struct world *w)
{
	struct relay_server_cbs scbs = {
		.create_stream = create_stream,
		.link = link_streams,
		.destroy_stream = destroy_stream,
		.arg = w,
	};
	uint8_t pk[32];

	memset(w, 0, sizeof(*w));
	w->srv = relay_server_new(&scbs);
	for (int i = 0; i < 2; i++) {
		struct relay_client_cbs cbs = {
			.send = pipe_send,
			.on_pair = on_pair,
			.on_close = on_close,
			.arg = &w->ends[i],
		};

		w->ends[i] = (struct pipe_end){ .w = w, .side = i };
		w->ends[2 + i] = (struct pipe_end){ .w = w, .side = i,
		    .server = true };
		memset(pk, 0xa0 + i, sizeof(pk));
		w->c[i] = relay_client_new(pk, &cbs);
		w->sess[i] = relay_server_accept(w->srv, pk, pipe_send,
		    &w->ends[2 + i]);
	}
}

static void
world_fini(struct world *w)
{
	relay_server_free(w->srv);
	relay_client_free(w->c[0]);
	relay_client_free(w->c[1]);
}

static void
relay_pairs_two_clients(void)
{
	struct world w;
	struct relay_server_stats st;
	uint8_t tok[32], open[64];
	size_t n = 0;

	world_init(&w);
	/* the server's open: 00 01 <id 1> <"blind-relay"> <32-byte key> */
	open[n++] = 0;
	open[n++] = 1;
	open[n++] = 1;
	open[n++] = 11;
	memcpy(open + n, "blind-relay", 11);
	n += 11;
	open[n++] = 32;
	memset(open + n, 0xa1, 32);
	n += 32;
	CHECK_UINT(w.last_len[3], n);
	CHECK_MEM(w.last_sent[3], open, n);
	token_fill(tok, 7);
	CHECK_INT(relay_client_pair(w.c[0], true, tok, 11), 0);
	CHECK_INT(relay_client_pair(w.c[0], true, tok, 11), -EALREADY);
	pump(&w);
	CHECK_INT(w.paired[0], 0);	/* half a pairing */
	CHECK_INT(relay_client_pair(w.c[1], false, tok, 22), 0);
	pump(&w);
	pump(&w);
	CHECK_INT(w.paired[0], 1);
	CHECK_INT(w.paired[1], 1);
	CHECK_INT(w.links, 1);
	CHECK_UINT(w.nstreams, 2);
	/* each side gets the id of the relay stream that talks to it */
	for (int i = 0; i < 2; i++) {
		struct fake_stream *s = &w.streams[w.streams[0].remote_id ==
		    (i == 0 ? 11u : 22u) ? 0 : 1];

		CHECK_UINT(w.paired_id[i], s->id);
		CHECK_UINT(s->remote_id, i == 0 ? 11 : 22);
	}
	CHECK(w.streams[0].linked == &w.streams[1]);
	relay_server_get_stats(w.srv, &st);
	CHECK_UINT(st.pairings_matched, 1);
	CHECK_UINT(st.links_active, 1);
	/* unpair tears the link down */
	CHECK_INT(relay_client_unpair(w.c[0], tok), 0);
	pump(&w);
	CHECK_INT(w.destroyed, 2);
	relay_server_get_stats(w.srv, &st);
	CHECK_UINT(st.links_active, 0);
	world_fini(&w);
}

static void
relay_pending_cancelled_by_close(void)
{
	struct world w;
	struct relay_server_stats st;
	uint8_t tok[32];

	world_init(&w);
	token_fill(tok, 9);
	CHECK_INT(relay_client_pair(w.c[0], false, tok, 5), 0);
	pump(&w);
	pump(&w);
	relay_session_free(w.sess[0]);
	w.sess[0] = NULL;
	relay_server_get_stats(w.srv, &st);
	CHECK_UINT(st.pairings_cancelled, 1);
	/* the other half now starts a fresh pairing, nothing links */
	CHECK_INT(relay_client_pair(w.c[1], true, tok, 6), 0);
	pump(&w);
	pump(&w);
	CHECK_INT(w.links, 0);
	CHECK_INT(w.paired[1], 0);
	world_fini(&w);
}

/* A batch carrying open and pair; a foreign open is rejected; close. */
static void
relay_batch_reject_close(void)
{
	struct world w;
	uint8_t f[128], tok[32];
	size_t n = 0;
	struct relay_pair m = { .is_initiator = true, .id = 3 };
	size_t plen;

	world_init(&w);
	token_fill(tok, 1);
	/* control batch: 00 00 <channel 0> <len><open> 00 <channel 1> <len><pair> */
	f[n++] = 0;
	f[n++] = 0;
	f[n++] = 0;
	f[n++] = 1 + 1 + 12 + 33;
	f[n++] = 1;
	f[n++] = 1;
	f[n++] = 11;
	memcpy(f + n, "blind-relay", 11);
	n += 11;
	f[n++] = 32;
	memset(f + n, 0xa0, 32);
	n += 32;
	f[n++] = 0;
	f[n++] = 1;
	memcpy(m.token, tok, 32);
	CHECK_INT(relay_pair_encode(&m, f + n + 2, sizeof(f) - n - 2, &plen), 0);
	f[n++] = (uint8_t)(plen + 1);
	f[n++] = 0;		/* type pair */
	n += plen;
	CHECK_INT(relay_session_input(w.sess[0], f, n), 0);
	CHECK_INT(relay_client_pair(w.c[1], false, tok, 4), 0);
	pump(&w);
	CHECK_INT(w.links, 1);
	/* an open for another protocol: reject (00 02 <its id>) */
	n = 0;
	f[n++] = 0;
	f[n++] = 1;
	f[n++] = 2;
	f[n++] = 3;
	memcpy(f + n, "foo", 3);
	n += 3;
	f[n++] = 0;
	w.nq = 0;
	CHECK_INT(relay_session_input(w.sess[0], f, n), 0);
	CHECK_UINT(w.nq, 1);
	CHECK_UINT(w.q[0].len, 3);
	CHECK_MEM(w.q[0].buf, "\x00\x02\x02", 3);
	w.nq = 0;
	/* truncated frames are errors */
	CHECK_INT(relay_session_input(w.sess[0], f, 4), -EBADMSG);
	CHECK_INT(relay_session_input(w.sess[0], (const uint8_t *)"\xfd", 1),
	    -EBADMSG);
	CHECK_INT(relay_session_input(w.sess[0], NULL, 0), 0);
	/* the relay closes its channel (00 03 <its id 1>): client learns */
	CHECK_INT(relay_client_input(w.c[1], (const uint8_t *)"\x00\x03\x01",
	    3), 0);
	CHECK_INT(w.closed[1], 1);
	CHECK_INT(relay_client_pair(w.c[1], false, tok, 4), -EPIPE);
	world_fini(&w);
}

static const struct test tests[] = {
	TEST(relay_pair_vector),
	TEST(relay_pairs_two_clients),
	TEST(relay_pending_cancelled_by_close),
	TEST(relay_batch_reject_close),
};

/* ------------------------------------------------- the lab's C relay */

static struct {
	struct ev_loop		*loop;
	struct evio		*e;
	struct udx		*udx;
	struct dht		*d;
	struct conn_node	*cn;
	struct relay_service	*svc;
	struct hn_addr		 addr;
	ev_signal		 term, intr;
	ev_idle			 reap;
	int			 dead[512];	/* sockets to close */
	int			 ndead;
} R;

static void
r_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	udx_socket_input(R.udx, sock, from, buf, len);
}

static void
r_batch(void *arg)
{
	udx_flush(R.udx);
}

static void
r_ready(struct dht *d, void *arg)
{
	printf("up 1\n");
}

static int
r_sock_open(void *arg)
{
	struct hn_addr a = R.addr;

	a.port = 0;
	return evio_udp_bind(R.e, &a, r_recv, NULL);
}

/*
 * Close from a clean stack frame: conn.c may close a socket from inside
 * that socket's receive callback, and evio_deliver() still walks the
 * socket after the callback returns.
 */
static void
r_reap(struct ev_loop *l, ev_idle *w, int revents)
{
	while (R.ndead > 0)
		evio_udp_close(R.e, R.dead[--R.ndead]);
	ev_idle_stop(l, w);
}

static void
r_sock_close(void *arg, int sock)
{
	if (R.ndead == (int)NELEM(R.dead)) {
		evio_udp_close(R.e, sock);
		return;
	}
	R.dead[R.ndead++] = sock;
	ev_idle_start(R.loop, &R.reap);
}

static void
r_stop(struct ev_loop *l, ev_signal *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

static int
relay_tool(int argc, char **argv)
{
	struct dht_config cfg;
	struct conn_node_config cc;
	struct keypair kp;
	uint8_t seed[32];
	char pk[65];
	const char *host = "127.0.0.1", *seedhex = NULL;
	bool service = false;
	int sock, csock;

	memset(&cfg, 0, sizeof(cfg));
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc &&
		    cfg.nbootstrap < DHT_BOOTSTRAP_MAX) {
			if (addr_parse_bootstrap(argv[++i],
			    &cfg.bootstrap[cfg.nbootstrap++]) != 0)
				return 2;
		} else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			host = argv[++i];
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seedhex = argv[++i];
		} else if (strcmp(argv[i], "--service") == 0) {
			service = true;
		} else {
			fprintf(stderr, "usage: %s tool --bootstrap IP:PORT "
			    "--host IP --seed SEEDHEX [--service]\n", argv[0]);
			return 2;
		}
	}
	if (seedhex == NULL || strlen(seedhex) != 64 ||
	    hex_decode(seed, 32, seedhex) != 32 || keys_init() != 0 ||
	    keys_from_seed(&kp, seed) != 0 || addr_parse_ip(host, R.addr.ip))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	R.loop = ev_default_loop(0);
	ev_idle_init(&R.reap, r_reap);
	R.e = evio_new(R.loop);
	R.udx = udx_new(evio_io(R.e));
	evio_set_batch_cb(R.e, r_batch, NULL);
	if ((sock = evio_udp_bind(R.e, &R.addr, r_recv, NULL)) < 0 ||
	    evio_udp_local(R.e, sock, &R.addr) != 0 ||
	    (csock = r_sock_open(NULL)) < 0)
		return 1;
	/*
	 * A persistent node with a server and a client socket: it learns it
	 * is reachable, so peers see it OPEN and connect straight to it (a
	 * relay that had to be punched to would itself hit the 6.34
	 * one-random-punch-at-a-time throttle with every symmetric peer).
	 */
	cfg.server_sock = sock;
	cfg.client_sock = csock;
	cfg.server_port = R.addr.port;
	cfg.persistent = true;
	cfg.on_ready = r_ready;
	R.d = dht_new(evio_io(R.e), &cfg);
	memset(&cc, 0, sizeof(cc));
	cc.io = evio_io(R.e);
	cc.udx = R.udx;
	cc.dht = R.d;
	cc.sock = sock;
	cc.sock_open = r_sock_open;
	cc.sock_close = r_sock_close;
	cc.local_addrs[0] = R.addr;
	cc.nlocal_addrs = 1;
	cc.serve_relay = !service;
	if (R.d == NULL || (R.cn = conn_node_new(&cc)) == NULL)
		return 1;
	if (service ? (R.svc = relay_service_new(R.cn, R.udx, evio_io(R.e),
	    &kp)) == NULL : conn_node_serve_relay(R.cn, &kp) != 0)
		return 1;
	hex_encode(pk, kp.pk, 32);
	printf("relay %s\n", pk);
	ev_signal_init(&R.term, r_stop, SIGTERM);
	ev_signal_init(&R.intr, r_stop, SIGINT);
	ev_signal_start(R.loop, &R.term);
	ev_signal_start(R.loop, &R.intr);
	ev_run(R.loop, 0);
	relay_service_free(R.svc);
	conn_node_free(R.cn);
	dht_free(R.d);
	udx_free(R.udx);
	evio_free(R.e);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "tool") == 0)
		return relay_tool(argc, argv);
	return harness_main("test_holepunch_relay", tests, NELEM(tests), argc,
	    argv);
}
