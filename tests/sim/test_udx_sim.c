/*
 * test_udx_sim.c - UDX streams between two simulated hosts: bulk transfers
 * under loss, reordering and duplication; END, DESTROY, timeout, messages,
 * zero window, firewall, relay and changeRemote semantics
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/udx/packet.h"
#include "daemon/udx/udx.h"
#include "harness.h"
#include "sim.h"

#define ID_A	0x1001
#define ID_B	0x2002

struct peer {
	struct sim_host		*host;
	struct udx		*udx;
	struct udx_stream	*s;
	int			 sock;
	const struct hn_addr	*addr;
	/* writer */
	uint64_t		 to_write;
	uint64_t		 written;
	bool			 end_after;
	/* reader */
	uint64_t		 got;
	uint64_t		 bad_at;	/* first mismatching offset + 1 */
	bool			 eof;
	bool			 closed;
	int			 close_err;
	int			 messages;
	size_t			 last_msg_len;
	int			 raw;
	int			 fw_calls;
	int			 fw_mode;	/* 0 none, 1 accept+connect, 2 reject */
	int			 remote_changed;
	struct peer		*other;
};

/* The byte at offset `i` of the test stream: cheap, position-dependent. */
static uint8_t
pattern(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56 ^ x >> 29 ^ i);
}

static void
feed(struct peer *p)
{
	uint8_t buf[16384];
	size_t n, k;

	while (p->written < p->to_write && udx_stream_writable(p->s)) {
		n = sizeof(buf);
		if (n > p->to_write - p->written)
			n = (size_t)(p->to_write - p->written);
		for (k = 0; k < n; k++)
			buf[k] = pattern(p->written + k);
		if (udx_stream_write(p->s, buf, n) != 0)
			return;
		p->written += n;
	}
	if (p->written == p->to_write && p->end_after) {
		p->end_after = false;
		udx_stream_end(p->s);
	}
}

static void
on_data(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;
	size_t i;

	for (i = 0; i < len && !p->bad_at; i++)
		if (buf[i] != pattern(p->got + i))
			p->bad_at = p->got + i + 1;
	p->got += len;
}

static void
on_end(struct udx_stream *s, void *arg)
{
	struct peer *p = arg;

	p->eof = true;
}

static void
on_drain(struct udx_stream *s, void *arg)
{
	feed(arg);
}

static void
on_message(struct udx_stream *s, void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	p->messages++;
	p->last_msg_len = len;
}

static void
on_close(struct udx_stream *s, void *arg, int err)
{
	struct peer *p = arg;

	p->closed = true;
	p->close_err = err;
	p->s = NULL;
}

static void
on_remote_changed(struct udx_stream *s, void *arg)
{
	struct peer *p = arg;

	p->remote_changed++;
}

static int
firewall(struct udx_stream *s, void *arg, int sock, const struct hn_addr *from)
{
	struct peer *p = arg;

	p->fw_calls++;
	if (p->fw_mode == 2)
		return 1;
	if (p->fw_mode == 1 && !udx_stream_is_connected(s))
		udx_stream_connect(s, sock, p->other->s ?
		    udx_stream_id(p->other->s) : 0, from);
	return 0;
}

static const struct udx_stream_ops ops = {
	.on_data = on_data,
	.on_end = on_end,
	.on_message = on_message,
	.on_drain = on_drain,
	.on_remote_changed = on_remote_changed,
	.on_close = on_close,
	.firewall = firewall,
};

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct peer *p = arg;

	udx_socket_input(p->udx, sock, from, buf, len);
}

static void
on_raw(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct peer *p = arg;

	p->raw++;
}

struct world {
	struct sim	*sim;
	struct peer	 a, b;
};

/* Two hosts, a stream each; connected both ways unless `connect` is false. */
static void
world_init(struct world *w, uint64_t seed, const struct sim_link *link,
    bool connect)
{
	memset(w, 0, sizeof(*w));
	w->sim = sim_new(seed);
	if (link)
		sim_set_link(w->sim, link);
	w->a.host = sim_host_add(w->sim, "10.0.0.1");
	w->b.host = sim_host_add(w->sim, "10.0.0.2");
	w->a.other = &w->b;
	w->b.other = &w->a;
	for (int i = 0; i < 2; i++) {
		struct peer *p = i ? &w->b : &w->a;

		p->udx = udx_new(sim_host_io(p->host));
		udx_set_raw_handler(p->udx, on_raw, p);
		p->sock = sim_host_bind(p->host, 5000, on_recv, p);
		p->addr = sim_host_addr(p->host, p->sock);
		CHECK_INT(udx_stream_new(p->udx, i ? ID_B : ID_A, &ops, p,
		    &p->s), 0);
	}
	if (connect) {
		CHECK_INT(udx_stream_connect(w->a.s, w->a.sock, ID_B,
		    w->b.addr), 0);
		CHECK_INT(udx_stream_connect(w->b.s, w->b.sock, ID_A,
		    w->a.addr), 0);
	}
}

static void
world_free(struct world *w)
{
	udx_free(w->a.udx);
	udx_free(w->b.udx);
	sim_free(w->sim);
}

static bool
both_closed(void *arg)
{
	struct world *w = arg;

	return w->a.closed && w->b.closed;
}

static bool quiet;

static bool
a_sent_all(void *arg)
{
	struct world *w = arg;

	return w->a.s == NULL || (w->a.written == w->a.to_write &&
	    w->b.got == w->a.to_write);
}

/*
 * A sends `bytes` to B and ends; B ends when it sees EOF... both must
 * close with status 0 and every byte must arrive intact and in order.
 */
static void
transfer(uint64_t seed, const struct sim_link *link, uint64_t bytes,
    uint64_t max_ms)
{
	struct world w;
	struct udx_stream_info ia;
	const struct sim_stats *st;
	bool done;

	world_init(&w, seed, link, true);
	w.a.to_write = bytes;
	w.a.end_after = true;
	w.b.end_after = true;	/* B writes nothing and ends at once */
	feed(&w.a);
	feed(&w.b);
	/* A's stats just before its END is acknowledged */
	done = sim_run(w.sim, a_sent_all, &w, max_ms);
	memset(&ia, 0, sizeof(ia));
	if (w.a.s)
		udx_stream_get_info(w.a.s, &ia);
	done = done && sim_run(w.sim, both_closed, &w, max_ms);
	st = sim_stats(w.sim);
	CHECK(done);
	CHECK_UINT(w.b.got, bytes);
	CHECK_UINT(w.b.bad_at, 0);
	CHECK(w.b.eof);
	CHECK(w.a.eof);
	CHECK_INT(w.a.close_err, 0);
	CHECK_INT(w.b.close_err, 0);
	if (quiet)
		goto out;
	printf("  seed %llu loss %.0f%%: %llu bytes in %.1f s virtual, "
	    "%llu datagrams (%llu lost, %llu dup); rtx %llu, rto %llu, "
	    "tlp %llu, recoveries %llu, mtu %u\n",
	    (unsigned long long)seed, link ? link->loss * 100 : 0.0,
	    (unsigned long long)w.b.got, sim_now_ms(w.sim) / 1000.0,
	    (unsigned long long)st->sent, (unsigned long long)st->lost,
	    (unsigned long long)st->duplicated,
	    (unsigned long long)ia.retransmits,
	    (unsigned long long)ia.rto_count, (unsigned long long)ia.tlp_count,
	    (unsigned long long)ia.recoveries, ia.mtu);
out:
	world_free(&w);
}

#define MB	(1024 * 1024)

static void
transfer_clean(void)
{
	struct sim_link l = { .delay_us = 10000 };

	transfer(1, &l, 10 * MB, 60000);
}

static struct sim_link
lossy(double loss)
{
	struct sim_link l = {
		.delay_us = 10000, .jitter_us = 1000, .loss = loss,
		.dup = 0.01, .reorder = 0.02, .reorder_us = 5000,
	};

	return l;
}

static void
transfer_loss_1(void)
{
	struct sim_link l = lossy(0.01);

	transfer(2, &l, 10 * MB, 300000);
}

static void
transfer_loss_5(void)
{
	struct sim_link l = lossy(0.05);

	transfer(3, &l, 10 * MB, 600000);
}

static void
transfer_loss_30(void)
{
	struct sim_link l = lossy(0.30);

	transfer(4, &l, 10 * MB, 3600000);
}

/* Many seeds, 1 MB each, mixed loss: catches rare state-machine bugs. */
static void
transfer_many_seeds(void)
{
	static const double loss[] = { 0.0, 0.01, 0.05, 0.1, 0.3 };
	struct sim_link l;
	int i, before = harness_failures();

	quiet = true;
	for (i = 0; i < 200 && harness_failures() == before; i++) {
		l = lossy(loss[i % 5]);
		l.delay_us = 1000 + 3000 * (i % 7);
		transfer(100 + (uint64_t)i, &l, MB, 3600000);
	}
	quiet = false;
	if (harness_failures() != before)
		printf("  failed at seed %d\n", 100 + i - 1);
}

static bool
b_done(void *arg)
{
	struct world *w = arg;

	return w->b.closed;
}

static bool
a_done(void *arg)
{
	struct world *w = arg;

	return w->a.closed;
}

/* Data both ways; each side ends after writing; EOF each way, close 0. */
static void
half_close_both_ways(void)
{
	struct sim_link l = lossy(0.05);
	struct world w;

	world_init(&w, 11, &l, true);
	w.a.to_write = 300000;
	w.a.end_after = true;
	w.b.to_write = 200000;
	feed(&w.a);
	CHECK(sim_run(w.sim, a_sent_all, &w, 60000));
	/* A has ended; B can still write and A still reads */
	CHECK(w.b.eof);
	CHECK(!w.a.closed);
	CHECK(!w.b.closed);
	w.b.end_after = true;
	feed(&w.b);
	CHECK(sim_run(w.sim, both_closed, &w, 60000));
	CHECK_UINT(w.b.got, 300000);
	CHECK_UINT(w.a.got, 200000);
	CHECK_UINT(w.a.bad_at, 0);
	CHECK_UINT(w.b.bad_at, 0);
	CHECK(w.a.eof);
	CHECK_INT(w.a.close_err, 0);
	CHECK_INT(w.b.close_err, 0);
	world_free(&w);
}

static void
destroy_resets_peer(void)
{
	struct sim_link l = { .delay_us = 5000 };
	struct world w;

	world_init(&w, 12, &l, true);
	w.a.to_write = 50000;
	feed(&w.a);
	sim_run_until(w.sim, 30);
	udx_stream_destroy(w.a.s);
	CHECK(w.a.closed);
	CHECK_INT(w.a.close_err, 0);
	CHECK(sim_run(w.sim, b_done, &w, 5000));
	CHECK_INT(w.b.close_err, -ECONNRESET);
	/* later packets for the closed ids go to the raw handler */
	CHECK_INT(w.a.raw + w.b.raw, 0);
	world_free(&w);
}

/* §13: no ACKs at all -> ETIMEDOUT after ~13 x rto (rto 1 s). */
static void
timeout_gives_up(void)
{
	struct sim_link l = { .delay_us = 5000 };
	struct world w;
	uint64_t t;

	world_init(&w, 13, &l, true);
	sim_host_set_offline(w.b.host, true);
	w.a.to_write = 10;
	feed(&w.a);
	CHECK(sim_run(w.sim, a_done, &w, 60000));
	t = sim_now_ms(w.sim);
	CHECK_INT(w.a.close_err, -ETIMEDOUT);
	if (t < 12500 || t > 14500)
		harness_fail(__FILE__, __LINE__, "gave up after %llu ms",
		    (unsigned long long)t);
	CHECK(!w.b.closed);
	world_free(&w);
}

/* Silence alone never closes a stream (§18). */
static void
idle_stays_open(void)
{
	struct world w;

	world_init(&w, 14, NULL, true);
	sim_host_set_offline(w.b.host, true);
	sim_run_until(w.sim, 120000);
	CHECK(!w.a.closed);
	world_free(&w);
}

static void
messages(void)
{
	struct sim_link l = { .delay_us = 1000 };
	uint8_t big[2100] = { 0 };
	struct world w;

	world_init(&w, 15, &l, true);
	CHECK_INT(udx_stream_send(w.a.s, "hi", 2), 0);
	CHECK_INT(udx_stream_send(w.a.s, NULL, 0), 0);
	CHECK_INT(udx_stream_send(w.a.s, big, 2028), 0);
	CHECK_INT(udx_stream_send(w.a.s, big, 2029), -EMSGSIZE);
	CHECK_INT(udx_stream_send(w.b.s, big, 1152), 0);
	sim_run_until(w.sim, 100);
	CHECK_INT(w.b.messages, 3);
	CHECK_UINT(w.b.last_msg_len, 2028);
	CHECK_INT(w.a.messages, 1);
	CHECK_UINT(w.a.last_msg_len, 1152);
	world_free(&w);
}

/* A message on an unconnected stream is refused. */
static void
message_needs_connect(void)
{
	struct world w;

	world_init(&w, 16, NULL, false);
	CHECK_INT(udx_stream_send(w.a.s, "x", 1), -ENOTCONN);
	world_free(&w);
}

/* §22: the hook connects inside, then the packet is processed and acked. */
static void
firewall_accept_connects(void)
{
	struct sim_link l = { .delay_us = 2000 };
	struct world w;
	struct udx_stream_info ia;

	world_init(&w, 17, &l, false);
	CHECK_INT(udx_stream_connect(w.a.s, w.a.sock, ID_B, w.b.addr), 0);
	w.b.fw_mode = 1;
	w.a.to_write = 5000;
	feed(&w.a);
	sim_run_until(w.sim, 200);
	CHECK_INT(w.b.fw_calls, 1);
	CHECK(udx_stream_is_connected(w.b.s));
	CHECK_UINT(w.b.got, 5000);
	udx_stream_get_info(w.a.s, &ia);
	CHECK_UINT(ia.inflight, 0);
	CHECK_UINT(ia.queued, 0);
	world_free(&w);
}

static void
firewall_reject_drops(void)
{
	struct sim_link l = { .delay_us = 2000 };
	struct world w;

	world_init(&w, 18, &l, false);
	CHECK_INT(udx_stream_connect(w.a.s, w.a.sock, ID_B, w.b.addr), 0);
	w.b.fw_mode = 2;
	w.a.to_write = 5000;
	feed(&w.a);
	sim_run_until(w.sim, 3000);
	CHECK(w.b.fw_calls >= 2);	/* first send and the retransmissions */
	CHECK_UINT(w.b.got, 0);
	CHECK_INT(w.b.raw, 0);
	world_free(&w);
}

/* ---- a hand-driven peer: raw socket, packets recorded ---- */

struct tap {
	struct sim_host	*host;
	int		 sock;
	int		 n;
	uint8_t		 types[256];
	uint32_t	 seqs[256];
	uint32_t	 acks[256];
	uint8_t		 doffs[256];
	size_t		 lens[256];
};

static void
tap_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct tap *t = arg;
	struct udx_packet p;

	if (t->n >= 256 || udx_packet_decode(buf, len, &p) != 0)
		return;
	t->types[t->n] = p.type;
	t->seqs[t->n] = p.seq;
	t->acks[t->n] = p.ack;
	t->doffs[t->n] = p.data_offset;
	t->lens[t->n] = p.payload_len;
	t->n++;
}

static void
tap_send(struct tap *t, struct world *w, uint8_t type, uint32_t rwnd,
    uint32_t seq, uint32_t ack, const char *payload)
{
	uint8_t b[256];
	size_t n = payload ? strlen(payload) : 0;

	udx_header_write(b, type, 0, ID_A, rwnd, seq, ack);
	if (n > 0)
		memcpy(b + UDX_HEADER_SIZE, payload, n);
	hn_send(sim_host_io(t->host), t->sock, w->a.addr, b,
	    UDX_HEADER_SIZE + n);
}

/* A is connected to a tap at 10.0.0.3 instead of B. */
static void
tap_world(struct world *w, struct tap *t, uint64_t seed)
{
	struct sim_link l = { .delay_us = 1000 };

	world_init(w, seed, &l, false);
	memset(t, 0, sizeof(*t));
	t->host = sim_host_add(w->sim, "10.0.0.3");
	t->sock = sim_host_bind(t->host, 7000, tap_recv, t);
	CHECK_INT(udx_stream_connect(w->a.s, w->a.sock, ID_B,
	    sim_host_addr(t->host, t->sock)), 0);
}

static int
tap_count(const struct tap *t, uint8_t type)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++)
		n += t->types[i] == type;
	return n;
}

/* §15: rwnd 0 stops new DATA and starts HEARTBEAT probes; reopening resumes. */
static void
zero_window_probe(void)
{
	struct world w;
	struct tap t;

	tap_world(&w, &t, 21);
	udx_stream_write(w.a.s, "one", 3);
	sim_run_until(w.sim, 10);
	CHECK_INT(t.n, 1);
	CHECK_INT(t.types[0], UDX_TYPE_DATA);
	tap_send(&t, &w, 0, 0, 0, 1, NULL);		/* ACK, window 0 */
	sim_run_until(w.sim, 20);
	udx_stream_write(w.a.s, "two", 3);
	sim_run_until(w.sim, 500);
	CHECK_INT(tap_count(&t, UDX_TYPE_DATA), 1);
	CHECK_INT(tap_count(&t, UDX_TYPE_HEARTBEAT), 1);
	sim_run_until(w.sim, 1600);			/* probe after rto */
	CHECK_INT(tap_count(&t, UDX_TYPE_HEARTBEAT), 2);
	CHECK_INT(tap_count(&t, UDX_TYPE_DATA), 1);
	tap_send(&t, &w, 0, UDX_DEFAULT_RWND, 0, 1, NULL);	/* reopen */
	sim_run_until(w.sim, 1603);	/* before any tail-loss probe */
	CHECK_INT(tap_count(&t, UDX_TYPE_DATA), 2);
	CHECK_UINT(t.seqs[t.n - 1], 1);
	world_free(&w);
}

/* §9/§11: out of order buffered + SACKed, duplicates re-acked, HEARTBEAT
 * answered, bad data offset dropped silently, acks beyond snd.next ignored */
static void
receiver_rules(void)
{
	struct world w;
	struct tap t;
	uint8_t b[64];

	tap_world(&w, &t, 22);
	tap_send(&t, &w, UDX_TYPE_DATA, UDX_DEFAULT_RWND, 1, 0, "bb");
	sim_run_until(w.sim, 10);
	CHECK_INT(t.n, 1);
	CHECK_INT(t.types[0], UDX_TYPE_SACK);
	CHECK_UINT(t.acks[0], 0);
	CHECK_UINT(w.a.got, 0);
	tap_send(&t, &w, UDX_TYPE_DATA, UDX_DEFAULT_RWND, 0, 0, "aa");
	sim_run_until(w.sim, 20);
	CHECK_UINT(w.a.got, 4);
	CHECK_INT(t.n, 2);
	CHECK_INT(t.types[1], 0);
	CHECK_UINT(t.acks[1], 2);
	tap_send(&t, &w, UDX_TYPE_DATA, UDX_DEFAULT_RWND, 0, 0, "aa");
	sim_run_until(w.sim, 30);
	CHECK_INT(t.n, 3);	/* duplicate: re-acked, not delivered */
	CHECK_UINT(w.a.got, 4);
	tap_send(&t, &w, UDX_TYPE_HEARTBEAT, 0, 0, 0, NULL);
	sim_run_until(w.sim, 40);
	CHECK_INT(t.n, 4);
	CHECK_INT(t.types[3], 0);
	/* data offset beyond the datagram: no ACK, nothing delivered */
	udx_header_write(b, UDX_TYPE_DATA, 200, ID_A, UDX_DEFAULT_RWND, 2, 0);
	memcpy(b + 20, "0123456789", 10);
	hn_send(sim_host_io(t.host), t.sock, w.a.addr, b, 30);
	sim_run_until(w.sim, 50);
	CHECK_INT(t.n, 4);
	/* padded DATA (MTU-probe layout) is delivered */
	udx_header_write(b, UDX_TYPE_DATA, 8, ID_A, UDX_DEFAULT_RWND, 2, 0);
	memset(b + 20, 0, 8);
	memcpy(b + 28, "cc", 2);
	hn_send(sim_host_io(t.host), t.sock, w.a.addr, b, 30);
	sim_run_until(w.sim, 60);
	CHECK_UINT(w.a.got, 6);
	CHECK_UINT(t.acks[t.n - 1], 3);
	/* ack 5 acknowledges data A never sent: delivered but not acked */
	tap_send(&t, &w, UDX_TYPE_DATA, UDX_DEFAULT_RWND, 3, 5, "dd");
	sim_run_until(w.sim, 70);
	CHECK_UINT(w.a.got, 8);
	CHECK_INT(t.n, 5);
	/* DESTROY with an old seq is ignored, with the current one it resets */
	tap_send(&t, &w, UDX_TYPE_DESTROY, 0, 1, 0, NULL);
	sim_run_until(w.sim, 80);
	CHECK(!w.a.closed);
	tap_send(&t, &w, UDX_TYPE_DESTROY, 0, 4, 0, NULL);
	sim_run_until(w.sim, 90);
	CHECK(w.a.closed);
	CHECK_INT(w.a.close_err, -ECONNRESET);
	/* the id is gone: the next packet is the DHT's */
	tap_send(&t, &w, UDX_TYPE_DATA, 0, 4, 0, "x");
	sim_run_until(w.sim, 100);
	CHECK_INT(w.a.raw, 1);
	world_free(&w);
}

/* §10: write + end in one tick -> one DATA|END; three writes -> one DATA. */
static void
coalescing_and_end(void)
{
	struct world w;
	struct tap t;

	tap_world(&w, &t, 23);
	udx_stream_write(w.a.s, "a", 1);
	udx_stream_write(w.a.s, "b", 1);
	udx_stream_write(w.a.s, "c", 1);
	sim_run_until(w.sim, 10);
	CHECK_INT(t.n, 1);
	CHECK_UINT(t.lens[0], 3);
	udx_stream_write(w.a.s, "d", 1);
	udx_stream_end(w.a.s);
	CHECK_INT(udx_stream_write(w.a.s, "e", 1), -EPIPE);
	sim_run_until(w.sim, 20);
	CHECK_INT(t.n, 2);
	CHECK_INT(t.types[1], UDX_TYPE_DATA | UDX_TYPE_END);
	CHECK_UINT(t.seqs[1], 1);
	world_free(&w);
}

/* §17: HEARTBEAT every keepalive interval while idle; 0 stops it. */
static void
keepalive(void)
{
	struct world w;
	struct tap t;

	tap_world(&w, &t, 24);
	udx_stream_set_keepalive(w.a.s, 100);
	sim_run_until(w.sim, 450);
	CHECK_INT(tap_count(&t, UDX_TYPE_HEARTBEAT), 4);
	udx_stream_set_keepalive(w.a.s, 0);
	sim_run_until(w.sim, 1000);
	CHECK_INT(tap_count(&t, UDX_TYPE_HEARTBEAT), 4);
	world_free(&w);
}

/* §3: non-UDX, wrong version and unknown ids go to the raw handler. */
static void
demux_raw(void)
{
	struct world w;
	struct tap t;
	uint8_t b[24];

	tap_world(&w, &t, 25);
	hn_send(sim_host_io(t.host), t.sock, w.a.addr,
	    (const uint8_t *)"plain", 5);
	udx_header_write(b, UDX_TYPE_DATA, 0, 0xdead, 0, 0, 0);
	hn_send(sim_host_io(t.host), t.sock, w.a.addr, b, 21);
	b[1] = 2;
	b[4] = ID_A & 0xff;
	b[5] = ID_A >> 8;
	hn_send(sim_host_io(t.host), t.sock, w.a.addr, b, 21);
	sim_run_until(w.sim, 10);
	CHECK_INT(w.a.raw, 3);
	CHECK_UINT(w.a.got, 0);
	world_free(&w);
}

/* ---- relay and changeRemote: A <-> R(X,Y) <-> B, then direct ---- */

struct relay_world {
	struct world		 w;
	struct sim_host		*rh;
	struct udx		*ru;
	struct udx_stream	*x, *y;
	int			 rsock;
	int			 rclosed;
};

static void
relay_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct relay_world *r = arg;

	udx_socket_input(r->ru, sock, from, buf, len);
}

static void
relay_close(struct udx_stream *s, void *arg, int err)
{
	struct relay_world *r = arg;

	r->rclosed++;
}

static const struct udx_stream_ops relay_ops = { .on_close = relay_close };

static bool
b_got_half(void *arg)
{
	struct world *w = arg;

	return w->b.got >= w->a.to_write / 2;
}

static void
relay_then_change_remote(void)
{
	struct sim_link l = lossy(0.01);
	struct relay_world r;
	struct world *w = &r.w;
	const struct hn_addr *ra;

	world_init(w, 31, &l, false);
	r.rclosed = 0;
	r.rh = sim_host_add(w->sim, "10.0.0.9");
	r.ru = udx_new(sim_host_io(r.rh));
	r.rsock = sim_host_bind(r.rh, 9000, relay_recv, &r);
	ra = sim_host_addr(r.rh, r.rsock);
	CHECK_INT(udx_stream_new(r.ru, 0x3001, &relay_ops, &r, &r.x), 0);
	CHECK_INT(udx_stream_new(r.ru, 0x3002, &relay_ops, &r, &r.y), 0);
	CHECK_INT(udx_stream_connect(r.x, r.rsock, ID_A, w->a.addr), 0);
	CHECK_INT(udx_stream_connect(r.y, r.rsock, ID_B, w->b.addr), 0);
	CHECK_INT(udx_stream_relay_to(r.x, r.y), 0);
	CHECK_INT(udx_stream_relay_to(r.y, r.x), 0);
	CHECK_INT(udx_stream_connect(w->a.s, w->a.sock, 0x3001, ra), 0);
	CHECK_INT(udx_stream_connect(w->b.s, w->b.sock, 0x3002, ra), 0);
	w->a.to_write = 2 * MB;
	w->a.end_after = true;
	feed(&w->a);
	CHECK(sim_run(w->sim, b_got_half, w, 60000));
	/* switch both ends to the direct path with data in flight */
	CHECK_INT(udx_stream_change_remote(w->a.s, w->a.sock, ID_B, w->b.addr),
	    0);
	CHECK_INT(udx_stream_change_remote(w->b.s, w->b.sock, ID_A, w->a.addr),
	    0);
	CHECK_INT(w->a.remote_changed, 0);	/* A had data in flight */
	w->b.end_after = true;
	feed(&w->b);
	CHECK(sim_run(w->sim, both_closed, w, 120000));
	CHECK_INT(w->a.remote_changed, 1);
	CHECK_INT(w->b.remote_changed, 1);
	CHECK_UINT(w->b.got, 2 * MB);
	CHECK_UINT(w->b.bad_at, 0);
	CHECK_INT(w->a.close_err, 0);
	CHECK_INT(w->b.close_err, 0);
	/* destroying a relay stream closes its partner, sending nothing */
	udx_stream_destroy(r.x);
	CHECK_INT(r.rclosed, 2);
	udx_free(r.ru);
	world_free(w);
}

int
main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(transfer_clean),
		TEST(transfer_loss_1),
		TEST(transfer_loss_5),
		TEST(transfer_loss_30),
		TEST(transfer_many_seeds),
		TEST(half_close_both_ways),
		TEST(destroy_resets_peer),
		TEST(timeout_gives_up),
		TEST(idle_stays_open),
		TEST(messages),
		TEST(message_needs_connect),
		TEST(firewall_accept_connects),
		TEST(firewall_reject_drops),
		TEST(zero_window_probe),
		TEST(receiver_rules),
		TEST(coalescing_and_end),
		TEST(keepalive),
		TEST(demux_raw),
		TEST(relay_then_change_remote),
	};

	return harness_main("udx_sim", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
