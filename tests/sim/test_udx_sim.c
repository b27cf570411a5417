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

int
main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(transfer_clean),
		TEST(transfer_loss_1),
		TEST(transfer_loss_5),
		TEST(transfer_loss_30),
	};

	return harness_main("udx_sim", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
