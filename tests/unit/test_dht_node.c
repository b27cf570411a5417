/*
 * test_dht_node.c - a C node answers the vector requests with the vector
 * responses (vectors/dht.json `rpc`)
 *
 * The node under test is what the vectors describe: persistent at
 * 10.0.0.1:49737 (id bbd461e5...), token secrets 00..1f (previous) and
 * 20..3f (current), 10.0.0.2:49737 and 10.0.0.3:49738 in its table.  Every
 * deterministic request is fed in from its sender; the datagram the node
 * sends must be the vector response: same bytes, except that closerNodes
 * are compared as a set (spec/dht.md §6: their order is the table walk's,
 * the vectors list them in a fixed order).  The PEER_HANDSHAKE and
 * PEER_HOLEPUNCH relay chains must come out byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"
#include "timerq.h"
#include "daemon/dht/dht_impl.h"

#include "dht_vectors.inc"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ fake io */

struct sent {
	int		 sock;
	struct hn_addr	 to;
	uint8_t		 buf[DHT_MSG_MAX];
	size_t		 len;
};

static struct timerq Q;
static uint64_t now_ms = 1000;
static struct sent sent[64];
static size_t nsent;
static uint64_t rnd = 42;

static uint64_t
f_now_ms(void *ctx)
{
	return now_ms;
}

static uint64_t
f_now_us(void *ctx)
{
	return now_ms * 1000;
}

static int
f_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	if (nsent < NELEM(sent) && len <= DHT_MSG_MAX) {
		sent[nsent].sock = sock;
		sent[nsent].to = *to;
		memcpy(sent[nsent].buf, buf, len);
		sent[nsent++].len = len;
	}
	return 0;
}

static void
f_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	(void)timerq_arm(&Q, t, due);
}

static void
f_cancel(void *ctx, struct hn_timer *t)
{
	timerq_cancel(&Q, t);
}

static void
f_random(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(rnd >> 56);
	}
}

static const struct hn_io_ops fops = {
	f_now_ms, f_now_us, f_send, f_arm, f_cancel, f_random
};
static struct hn_io fio = { &fops, NULL };

/* ------------------------------------------------------------ helpers */

static struct hn_addr
addr(const char *s)
{
	struct hn_addr a;

	memset(&a, 0, sizeof(a));
	if (addr_parse(s, &a) != 0)
		harness_fail(__FILE__, __LINE__, "bad address %s", s);
	return a;
}

static void
advance(uint64_t ms)
{
	now_ms += ms;
	timerq_run(&Q, now_ms);
}

/* The node of the vectors. */
static struct dht *
vector_node(void)
{
	struct dht_config cfg;
	struct hn_addr a2 = addr("10.0.0.2:49737"), a3 = addr("10.0.0.3:49738");
	uint8_t s0[32], s1[32], id[32];
	struct dht *d;
	int i;

	timerq_init(&Q);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = 0;
	cfg.client_sock = 1;
	cfg.server_port = 49737;
	cfg.bootstrapper = true;
	cfg.public_addr = addr("10.0.0.1:49737");
	d = dht_new(&fio, &cfg);
	advance(0);
	CHECK(dht_is_persistent(d));
	dht_node_id(id, &cfg.public_addr);
	CHECK_MEM(d->table.id, id, 32);
	for (i = 0; i < 32; i++) {
		s0[i] = (uint8_t)i;
		s1[i] = (uint8_t)(0x20 + i);
	}
	dht_tokens_init(&d->tokens, s0, s1);
	dht_add_node(d, &a2);
	dht_add_node(d, &a3);
	CHECK_UINT(d->table.size, 2);
	nsent = 0;
	return d;
}

static void
feed(struct dht *d, const char *hex, const char *from)
{
	size_t len;
	uint8_t *buf = harness_unhex(hex, &len);
	struct hn_addr a = addr(from);

	dht_input(d, 0, &a, buf, len);
	free(buf);
}

static bool
closer_same_set(const struct dht_msg *a, const struct dht_msg *b)
{
	size_t i, j;

	if (a->ncloser != b->ncloser)
		return false;
	for (i = 0; i < a->ncloser; i++) {
		for (j = 0; j < b->ncloser; j++)
			if (addr_eq(&a->closer[i], &b->closer[j]))
				break;
		if (j == b->ncloser)
			return false;
	}
	return true;
}

/* The one datagram sent since the last call equals `want` (hex). */
static void
expect_sent(const char *want, const char *what, bool exact)
{
	struct dht_msg got, exp;
	uint8_t *buf;
	size_t len, i, n = 0;

	/* when a response is expected, look at responses only */
	if (want[0] == '1' && want[1] == '3') {
		for (i = 0; i < nsent; i++)
			if (sent[i].buf[0] == DHT_MSG_RESPONSE)
				sent[n++] = sent[i];
		nsent = n;
	}
	if (nsent != 1) {
		harness_fail(__FILE__, __LINE__, "%s: %zu datagrams sent, want 1",
		    what, nsent);
		nsent = 0;
		return;
	}
	buf = harness_unhex(want, &len);
	if (exact || (len == sent[0].len && memcmp(buf, sent[0].buf, len) == 0)) {
		if (len != sent[0].len || memcmp(buf, sent[0].buf, len) != 0)
			harness_fail(__FILE__, __LINE__, "%s: bytes differ", what);
	} else if (dht_msg_decode(&got, sent[0].buf, sent[0].len) != 0 ||
	    dht_msg_decode(&exp, buf, len) != 0) {
		harness_fail(__FILE__, __LINE__, "%s: undecodable", what);
	} else {
		/* only the closer-node order may differ */
		struct dht_msg g = got, e = exp;

		CHECK(len == sent[0].len);
		if (!closer_same_set(&got, &exp))
			harness_fail(__FILE__, __LINE__, "%s: closer nodes differ",
			    what);
		memcpy(g.closer, e.closer, sizeof(g.closer));
		g.value = e.value;
		CHECK(memcmp(&g, &e, offsetof(struct dht_msg, value)) == 0);
		CHECK(got.value_len == exp.value_len && (got.value_len == 0 ||
		    memcmp(got.value, exp.value, got.value_len) == 0));
	}
	{
		struct dht_msg m;

		/* it went where the vector's `to` says */
		if (dht_msg_decode(&m, buf, len) == 0 && !addr_eq(&m.to,
		    &sent[0].to) && m.type == DHT_MSG_RESPONSE)
			harness_fail(__FILE__, __LINE__, "%s: sent to the wrong "
			    "address", what);
	}
	free(buf);
	nsent = 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ------------------------------------------------------------ tests */

static void
answers_like_the_vectors(void)
{
	struct dht *d = vector_node();
	size_t i, pairs = 0;
	const struct vmsg *ann = NULL;

	/* the ANNOUNCE first: FIND_PEER (hit) needs its record */
	for (i = 0; i + 1 < NELEM(vec_msgs); i++) {
		if (strncmp(vec_msgs[i].what, "ANNOUNCE (user command 4)", 25) ==
		    0) {
			ann = &vec_msgs[i];
			feed(d, ann->hex, ann->src);
			expect_sent(vec_msgs[i + 1].hex, ann->what, false);
			pairs++;
			break;
		}
	}
	CHECK(ann != NULL);
	for (i = 0; i + 1 < NELEM(vec_msgs); i++) {
		const struct vmsg *q = &vec_msgs[i], *r = &vec_msgs[i + 1];

		if (q == ann || strncmp(q->what, "live", 4) == 0)
			continue;
		/* state the vectors do not give: a higher seq; 2 records */
		if (strstr(q->what, "rejected because a higher seq") ||
		    strncmp(q->what, "LOOKUP (user command 3)", 23) == 0)
			continue;
		if (ends_with(q->what, "(request)") && i > 0) {
			/* the response came first in the fixture */
			if (strstr(q->what, "EPHEMERAL"))
				continue;	/* we are persistent */
			feed(d, q->hex, "192.168.1.20:50000");
			expect_sent(vec_msgs[i - 1].hex, q->what, false);
			pairs++;
			continue;
		}
		if (!ends_with(q->what, " - request") || q->kind != 'q' ||
		    r->kind != 'r')
			continue;
		feed(d, q->hex, q->src);
		if (strncmp(q->what, "DOWN_HINT", 9) == 0) {
			struct dht_msg m;
			struct hn_addr down = addr("10.0.0.3:49738");

			/* §7: the hinted node is in our table: we PING it */
			CHECK_UINT(nsent, 2);
			CHECK(dht_msg_decode(&m, sent[0].buf, sent[0].len) == 0 &&
			    m.type == DHT_MSG_REQUEST && m.internal &&
			    m.command == DHT_CMD_PING && addr_eq(&sent[0].to,
			    &down));
		}
		if (strncmp(q->what, "DELAYED_PING", 12) == 0) {
			size_t before = nsent;

			/* no reply before the delay */
			for (size_t k = 0; k < nsent; k++)
				CHECK(sent[k].buf[0] != DHT_MSG_RESPONSE);
			advance(999);
			for (size_t k = 0; k < nsent; k++)
				CHECK(sent[k].buf[0] != DHT_MSG_RESPONSE);
			(void)before;
			advance(1);
		}
		expect_sent(r->hex, q->what, false);
		pairs++;
	}
	CHECK_UINT(pairs, 17);
	dht_free(d);
	timerq_free(&Q);
}

/* Walk a relay chain: feed odd steps, expect the even ones exactly. */
static void
relay_chain(const char *first, const char *client, const char *server)
{
	struct dht *d = vector_node();
	struct dht_cache_ent *e;
	uint8_t target[32], rec[33];
	size_t i, len;
	uint8_t *pk;
	int steps = 0;

	/* the announcer's route: as if 203.0.113.7:41234 had announced */
	pk = harness_unhex("79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7"
	    "e0e3910bad049664", &len);
	keys_hash(target, pk, 32);
	memcpy(rec, pk, 32);
	rec[32] = 0;
	free(pk);
	e = dht_cache_set(&d->store.forwards, target, NULL, rec, sizeof(rec));
	CHECK(e != NULL);
	e->addr = addr(server);
	for (i = 0; i < NELEM(vec_msgs); i++)
		if (strncmp(vec_msgs[i].what, first, strlen(first)) == 0)
			break;
	CHECK(i + 4 <= NELEM(vec_msgs));
	if (i + 4 > NELEM(vec_msgs))
		goto out;
	/* 1: client -> us; 2: us -> server; 3: server -> us; 4: us -> client */
	feed(d, vec_msgs[i].hex, client);
	CHECK(nsent == 1 && addr_eq(&sent[0].to, &(struct hn_addr){ { 203, 0,
	    113, 7 }, 41234 }));
	expect_sent(vec_msgs[i + 1].hex, vec_msgs[i + 1].what, true);
	feed(d, vec_msgs[i + 2].hex, server);
	CHECK(nsent == 1 && addr_eq(&sent[0].to, &(struct hn_addr){ { 192, 168,
	    1, 20 }, 50000 }));
	expect_sent(vec_msgs[i + 3].hex, vec_msgs[i + 3].what, true);
	steps = 4;
out:
	CHECK_INT(steps, 4);
	dht_free(d);
	timerq_free(&Q);
}

static void
handshake_chain(void)
{
	relay_chain("client -> relay node: REQUEST PEER_HANDSHAKE",
	    "192.168.1.20:50000", "203.0.113.7:41234");
}

static void
holepunch_chain(void)
{
	relay_chain("client -> relay: REQUEST PEER_HOLEPUNCH",
	    "192.168.1.20:50000", "203.0.113.7:41234");
}

/*
 * JS verifies an announce over the canonical re-encoding of its peer: a
 * relay count sent as a non-minimal uint (fd 00 00) still verifies.
 */
static void
announce_noncanonical_peer(void)
{
	struct dht *d = vector_node();
	const struct vmsg *q = NULL, *r = NULL;
	struct dht_msg m;
	uint8_t *buf, val[256], out[DHT_MSG_MAX];
	size_t i, len;
	int n;

	for (i = 0; i + 1 < NELEM(vec_msgs); i++) {
		if (strncmp(vec_msgs[i].what, "ANNOUNCE (user command 4)", 25) ==
		    0) {
			q = &vec_msgs[i];
			r = &vec_msgs[i + 1];
			break;
		}
	}
	if (!CHECK(q != NULL))
		return;
	buf = harness_unhex(q->hex, &len);
	CHECK_INT(dht_msg_decode(&m, buf, len), 0);
	/* 05 pk(32) 00 sig(64) -> 05 pk(32) fd 00 00 sig(64) */
	CHECK_UINT(m.value_len, 98);
	memcpy(val, m.value, 33);
	val[33] = 0xfd;
	val[34] = 0;
	val[35] = 0;
	memcpy(val + 36, m.value + 34, 64);
	m.value = val;
	m.value_len = 100;
	n = dht_msg_encode(&m, out, sizeof(out));
	CHECK(n > 0);
	{
		struct hn_addr from = addr("192.168.1.20:50000");

		dht_input(d, 0, &from, out, (size_t)n);
	}
	expect_sent(r->hex, "non-canonical announce", true);
	free(buf);
	dht_free(d);
	timerq_free(&Q);
}

/* An ephemeral node answers storage commands with UNKNOWN_COMMAND. */
static void
ephemeral_unknown_command(void)
{
	struct dht_config cfg;
	struct dht *d;
	size_t i;

	timerq_init(&Q);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = 0;
	cfg.client_sock = 1;
	cfg.server_port = 49737;
	cfg.no_adaptive = true;
	d = dht_new(&fio, &cfg);
	advance(0);
	CHECK(!dht_is_persistent(d));
	nsent = 0;
	for (i = 1; i < NELEM(vec_msgs); i++) {
		if (strstr(vec_msgs[i].what, "EPHEMERAL") &&
		    ends_with(vec_msgs[i].what, "(request)")) {
			feed(d, vec_msgs[i].hex, "192.168.1.20:50000");
			expect_sent(vec_msgs[i - 1].hex, vec_msgs[i].what, true);
			break;
		}
	}
	CHECK(i < NELEM(vec_msgs));
	dht_free(d);
	timerq_free(&Q);
}

static const struct test tests[] = {
	TEST(answers_like_the_vectors),
	TEST(handshake_chain),
	TEST(holepunch_chain),
	TEST(announce_noncanonical_peer),
	TEST(ephemeral_unknown_command),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("test_dht_node", tests, NELEM(tests), argc, argv);
}
