/*
 * test_sim.c - the simulated world itself: time, delivery, loss, queues,
 * reproducibility
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "sim.h"

struct rx {
	int		 count;
	uint64_t	 last_us;
	struct hn_addr	 from;
	uint8_t		 last[64];
	size_t		 last_len;
	struct sim	*sim;
	int		 inversions;	/* 1-byte datagrams below the previous */
};

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct rx *rx = arg;

	if (len == 1 && rx->count && rx->last_len == 1 && buf[0] < rx->last[0])
		rx->inversions++;
	rx->count++;
	rx->last_us = sim_now_us(rx->sim);
	rx->from = *from;
	rx->last_len = len < sizeof(rx->last) ? len : sizeof(rx->last);
	memcpy(rx->last, buf, rx->last_len);
}

static void
sim_delivers_after_delay(void)
{
	struct sim *s = sim_new(1);
	struct sim_link l = { .delay_us = 25000 };
	struct sim_host *a = sim_host_add(s, "10.0.0.1");
	struct sim_host *b = sim_host_add(s, "10.0.0.2");
	struct rx rb = { .sim = s };
	int sa, sb;
	char buf[HN_ADDR_STRLEN];

	CHECK(sim_host_add(s, "10.0.0.1") == NULL);
	sim_set_link(s, &l);
	sa = sim_host_bind(a, 1000, on_recv, NULL);
	sb = sim_host_bind(b, 2000, on_recv, &rb);
	CHECK_INT(sim_host_bind(b, 2000, on_recv, &rb), -EADDRINUSE);
	CHECK_INT(hn_send(sim_host_io(a), sa, sim_host_addr(b, sb),
	    (const uint8_t *)"hello", 5), 0);
	sim_run_until(s, 10);
	CHECK_INT(rb.count, 0);
	sim_run_until(s, 100);
	CHECK_INT(rb.count, 1);
	CHECK_UINT(rb.last_us, 25000);
	CHECK_MEM(rb.last, "hello", 5);
	CHECK_STR(addr_format(&rb.from, buf), "10.0.0.1:1000");
	CHECK_UINT(sim_now_ms(s), 100);
	sim_free(s);
}

struct tick {
	struct hn_timer	 t;
	struct hn_io	*io;
	int		 fired;
	uint64_t	 at_ms;
};

static void
on_tick(struct hn_timer *t)
{
	struct tick *k = container_of(t, struct tick, t);

	k->fired++;
	k->at_ms = hn_now_ms(k->io);
	if (k->fired < 3)
		hn_timer_after(k->io, &k->t, 100);
}

static void
sim_timers_follow_virtual_time(void)
{
	struct sim *s = sim_new(2);
	struct sim_host *a = sim_host_add(s, "10.0.0.1");
	struct tick k = { .io = sim_host_io(a) };

	hn_timer_init(&k.t, on_tick);
	hn_timer_after(k.io, &k.t, 50);
	sim_run_until(s, 49);
	CHECK_INT(k.fired, 0);
	sim_run_until(s, 1000);
	CHECK_INT(k.fired, 3);
	CHECK_UINT(k.at_ms, 250);
	CHECK(!sim_step(s));	/* nothing left */
	sim_free(s);
}

/* Send n datagrams a -> b under link l; return what arrived. */
static int
blast(uint64_t seed, const struct sim_link *l, int n, struct sim_stats *st)
{
	struct sim *s = sim_new(seed);
	struct sim_host *a = sim_host_add(s, "10.0.0.1");
	struct sim_host *b = sim_host_add(s, "10.0.0.2");
	struct rx rb = { .sim = s };
	uint8_t payload[1000] = { 0 };
	int sa, sb, i;

	sim_set_link(s, l);
	sa = sim_host_bind(a, 0, on_recv, NULL);
	sb = sim_host_bind(b, 0, on_recv, &rb);
	for (i = 0; i < n; i++)
		hn_send(sim_host_io(a), sa, sim_host_addr(b, sb), payload,
		    sizeof(payload));
	sim_run_until(s, 60000);
	*st = *sim_stats(s);
	sim_free(s);
	return rb.count;
}

static void
sim_loss_and_duplication(void)
{
	struct sim_link l = { .delay_us = 1000, .loss = 0.3, .dup = 0.1 };
	struct sim_stats st, st2;
	int got = blast(7, &l, 10000, &st), got2 = blast(7, &l, 10000, &st2);

	CHECK(st.lost > 2700 && st.lost < 3300);
	CHECK(st.duplicated > 500 && st.duplicated < 900);
	CHECK_UINT((uint64_t)got, 10000 - st.lost + st.duplicated);
	/* the same seed gives the same run */
	CHECK_INT(got, got2);
	CHECK_UINT(st.lost, st2.lost);
	blast(8, &l, 10000, &st2);
	CHECK(st.lost != st2.lost);
}

static void
sim_bandwidth_and_queue(void)
{
	/* 8 Mbit/s: 1028 bytes on the wire take 1028 µs; a 20 ms queue holds
	 * about 20 of them, the rest of a burst of 100 is tail-dropped */
	struct sim_link l = { .delay_us = 5000, .rate_bps = 8000000,
	    .queue_us = 20000 };
	struct sim_stats st;
	int got = blast(3, &l, 100, &st);

	CHECK(got >= 19 && got <= 22);
	CHECK_UINT(st.queue_drops, (uint64_t)(100 - got));
}

static void
sim_reorders(void)
{
	struct sim *s = sim_new(5);
	struct sim_link l = { .delay_us = 1000, .reorder = 0.2,
	    .reorder_us = 5000 };
	struct sim_host *a = sim_host_add(s, "10.0.0.1");
	struct sim_host *b = sim_host_add(s, "10.0.0.2");
	/* datagram i is sent at i ms; a held-back one arrives after later ones */
	struct rx rb = { .sim = s };
	int sa, sb, i;

	sim_set_link(s, &l);
	sa = sim_host_bind(a, 0, on_recv, NULL);
	sb = sim_host_bind(b, 0, on_recv, &rb);
	for (i = 0; i < 200; i++) {
		uint8_t v = (uint8_t)i;

		hn_send(sim_host_io(a), sa, sim_host_addr(b, sb), &v, 1);
		sim_run_until(s, sim_now_ms(s) + 1);
	}
	sim_run_until(s, sim_now_ms(s) + 100);
	CHECK_INT(rb.count, 200);
	CHECK(rb.inversions > 10 && rb.inversions < 80);
	sim_free(s);
}

struct nat {
	uint16_t	mapped;
};

/* Rewrite the source of 10.0.0.1's datagrams to 1.2.3.4:mapped. */
static bool
nat_filter(void *arg, struct sim_host *sender, struct hn_addr *from,
    struct hn_addr *to, const uint8_t *buf, size_t len)
{
	struct nat *n = arg;

	if (from->ip[3] == 1) {
		from->ip[0] = 1; from->ip[1] = 2; from->ip[2] = 3; from->ip[3] = 4;
		from->port = n->mapped;
	}
	return len != 3;	/* and drop 3-byte datagrams */
}

static void
sim_filter_rewrites_and_drops(void)
{
	struct sim *s = sim_new(9);
	struct nat n = { .mapped = 5555 };
	struct sim_host *a = sim_host_add(s, "10.0.0.1");
	struct sim_host *b = sim_host_add(s, "10.0.0.2");
	struct rx rb = { .sim = s };
	int sa, sb;
	char buf[HN_ADDR_STRLEN];

	sim_set_filter(s, nat_filter, &n);
	sa = sim_host_bind(a, 0, on_recv, NULL);
	sb = sim_host_bind(b, 0, on_recv, &rb);
	hn_send(sim_host_io(a), sa, sim_host_addr(b, sb),
	    (const uint8_t *)"abc", 3);
	hn_send(sim_host_io(a), sa, sim_host_addr(b, sb),
	    (const uint8_t *)"abcd", 4);
	sim_run_until(s, 10);
	CHECK_INT(rb.count, 1);
	CHECK_STR(addr_format(&rb.from, buf), "1.2.3.4:5555");
	CHECK_UINT(sim_stats(s)->filtered, 1);
	sim_host_set_offline(b, true);
	hn_send(sim_host_io(a), sa, sim_host_addr(b, sb),
	    (const uint8_t *)"abcd", 4);
	sim_run_until(s, 20);
	CHECK_INT(rb.count, 1);
	sim_free(s);
}

static const struct test tests[] = {
	TEST(sim_delivers_after_delay), TEST(sim_timers_follow_virtual_time),
	TEST(sim_loss_and_duplication), TEST(sim_bandwidth_and_queue),
	TEST(sim_reorders), TEST(sim_filter_rewrites_and_drops),
};

int
main(int argc, char **argv)
{
	return harness_main("sim", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
