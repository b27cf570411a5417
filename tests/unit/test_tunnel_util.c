/*
 * test_tunnel_util.c - the connection-free parts of the tunnels: capped
 * byte and datagram queues, the reconnect schedule, the state line
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "daemon/tunnel/tunutil.h"

static void
tunq_fifo_and_cap(void)
{
	struct tunq q;
	uint8_t big[10000], out[10000];
	const uint8_t *p;
	size_t n, got = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	tunq_init(&q, 12000);
	CHECK_INT(tunq_push(&q, big, 6000), 0);
	CHECK_INT(tunq_push(&q, big + 6000, 4000), 0);
	/* all or nothing: 2001 more would pass the cap */
	CHECK_INT(tunq_push(&q, big, 2001), -ENOBUFS);
	CHECK_UINT(tunq_len(&q), 10000);
	CHECK_INT(tunq_push(&q, big, 2000), 0);
	CHECK_INT(tunq_push(&q, big, 1), -ENOBUFS);
	/* drain in odd steps, then refill: the bytes stay in order */
	while ((p = tunq_peek(&q, &n)) != NULL && got < 10000) {
		size_t k = n < 777 ? n : 777;

		if (k > 10000 - got)
			k = 10000 - got;
		memcpy(out + got, p, k);
		got += k;
		tunq_consume(&q, k);
	}
	CHECK_MEM(out, big, 10000);
	CHECK_UINT(tunq_len(&q), 2000);
	CHECK_INT(tunq_push(&q, big, 10000), 0);	/* compacts */
	p = tunq_peek(&q, &n);
	CHECK_UINT(n, 12000);
	CHECK_MEM(p, big, 2000);
	CHECK_MEM(p + 2000, big, 10000);
	tunq_consume(&q, 99999);
	CHECK(tunq_peek(&q, &n) == NULL);
	CHECK_UINT(n, 0);
	tunq_free(&q);
	tunq_free(&q);	/* twice is harmless */
}

static void
tunq_datagrams(void)
{
	struct tunq q;
	uint8_t d[3000], out[2048];
	int i;

	memset(d, 0xab, sizeof(d));
	tunq_init(&q, 4000);
	CHECK_INT(tunq_push_dgram(&q, "abc", 3), 0);
	CHECK_INT(tunq_push_dgram(&q, "", 0), 0);	/* empty is a datagram */
	CHECK_INT(tunq_push_dgram(&q, d, 3000), 0);
	CHECK_INT(tunq_push_dgram(&q, d, 1000), -ENOBUFS);	/* 3+2+0+2+3002 used */
	CHECK_INT(tunq_push_dgram(&q, d, 70000), -EMSGSIZE);
	i = tunq_pop_dgram(&q, out, sizeof(out));
	CHECK_INT(i, 3);
	CHECK_MEM(out, "abc", 3);
	CHECK_INT(tunq_pop_dgram(&q, out, sizeof(out)), 0);
	CHECK_UINT(tunq_len(&q), 3002);
	/* too big for the caller: dropped whole, never cut */
	CHECK_INT(tunq_pop_dgram(&q, out, sizeof(out)), -EMSGSIZE);
	CHECK_UINT(tunq_len(&q), 0);
	CHECK_INT(tunq_pop_dgram(&q, out, sizeof(out)), 0);
	tunq_free(&q);
}

static void
backoff_schedule(void)
{
	/* 500 ms doubling to a 30 s cap, no jitter with rnd = 0 */
	static const uint32_t want[] = { 500, 1000, 2000, 4000, 8000, 16000,
	    30000, 30000 };

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_UINT(tun_backoff_ms(i, 0), want[i]);
	CHECK_UINT(tun_backoff_ms(1000, 0), 30000);
	/* jitter stays within a quarter */
	for (uint32_t r = 0; r < 5000; r += 37) {
		uint32_t d = tun_backoff_ms(2, r * 2654435761u);

		CHECK(d >= 2000 && d <= 2500);
	}
	CHECK(tun_backoff_ms(40, 0xffffffffu) <= 37500);
}

static const char *const names[TUN_NPATHS] = {
	"none", "lan", "direct", "punched", "relayed",
};

static void
state_line(void)
{
	struct tunnel_stats s;
	char buf[128], tiny[12];

	memset(&s, 0, sizeof(s));
	CHECK_STR(tun_state_format(buf, sizeof(buf), "listening", &s, names),
	    "listening, 0 connections");
	s.conns_open = 2;
	s.by_path[3] = 1;
	s.by_path[4] = 1;
	CHECK_STR(tun_state_format(buf, sizeof(buf), "listening", &s, names),
	    "listening, 2 connections (punched 1, relayed 1)");
	s.conns_open = 1;
	s.by_path[3] = 0;
	s.drops_too_big = 2;
	s.drops_plaintext = 1;
	CHECK_STR(tun_state_format(buf, sizeof(buf),
	    "listening on 127.0.0.1:8080", &s, names),
	    "listening on 127.0.0.1:8080, 1 connection (relayed 1), 3 drops");
	CHECK_UINT(tunnel_stats_drops(&s), 3);
	/* a short buffer is cut and terminated, never overrun */
	tun_state_format(tiny, sizeof(tiny), "listening", &s, names);
	CHECK_UINT(strlen(tiny), sizeof(tiny) - 1);
	CHECK_STR(tiny, "listening, ");
}

static const struct test tests[] = {
	TEST(tunq_fifo_and_cap), TEST(tunq_datagrams), TEST(backoff_schedule),
	TEST(state_line),
};

int
main(int argc, char **argv)
{
	return harness_main("tunnel_util", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
