/*
 * test_dht_table.c - node ids, tokens, XOR order, the routing table and the
 * NAT sampler against vectors/dht.json (nodeIds, tokens, routing,
 * natSampler) plus the table's own rules
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"
#include "daemon/dht/ids.h"
#include "daemon/dht/msg.h"
#include "daemon/dht/natsampler.h"
#include "daemon/dht/table.h"

#include "dht_vectors.inc"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

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
unhex32(const char *h, uint8_t out[32])
{
	size_t len;
	uint8_t *p = harness_unhex(h, &len);

	if (len != 32)
		harness_fail(__FILE__, __LINE__, "want 32 bytes: %s", h);
	memcpy(out, p, len < 32 ? len : 32);
	free(p);
}

static void
node_ids(void)
{
	uint8_t id[32];
	size_t i;

	CHECK_UINT(NELEM(vec_nodeids), 7);
	for (i = 0; i < NELEM(vec_nodeids); i++) {
		struct hn_addr a = addr(vec_nodeids[i].addr);

		dht_node_id(id, &a);
		CHECK_HEX(id, 32, vec_nodeids[i].id);
		CHECK(dht_id_valid(id, &a));
		a.port++;
		CHECK(!dht_id_valid(id, &a));
	}
}

/* Every message with an id: our validation agrees with the vector's. */
static void
id_validation_in_msgs(void)
{
	size_t i, len;
	int checked = 0, invalid = 0;

	for (i = 0; i < NELEM(vec_msgs); i++) {
		const struct vmsg *v = &vec_msgs[i];
		uint8_t *buf;
		struct dht_msg m;
		struct hn_addr src;

		if (v->src == NULL)
			continue;
		buf = harness_unhex(v->hex, &len);
		if (dht_msg_decode(&m, buf, len) == 0 && m.has_id) {
			src = addr(v->src);
			if (v->idv >= 0) {
				CHECK_INT(dht_id_valid(m.id, &src), v->idv);
				checked++;
			} else if (v->kind == 0) {
				/* the NAT-rewritten-port vector: must not validate */
				CHECK(!dht_id_valid(m.id, &src));
				invalid++;
			}
		}
		free(buf);
	}
	CHECK_UINT(checked >= 50, 1);
	CHECK_INT(invalid, 1);
}

static void
tokens(void)
{
	uint8_t secret[32], tok[32], ip[4];
	size_t i;

	CHECK_UINT(NELEM(vec_tokens), 2);
	for (i = 0; i < NELEM(vec_tokens); i++) {
		CHECK_INT(addr_parse_ip(vec_tokens[i].host, ip), 0);
		unhex32(vec_tokens[i].secret, secret);
		dht_token(tok, ip, secret);
		CHECK_HEX(tok, 32, vec_tokens[i].token);
	}
}

static void
token_rotation(void)
{
	struct dht_tokens t;
	uint8_t s0[32], s1[32], tok[32], ip[4], other[4] = { 192, 168, 1, 21 };
	int i;

	CHECK_INT(addr_parse_ip("192.168.1.20", ip), 0);
	unhex32(vec_rotation.s0, s0);
	unhex32(vec_rotation.s1, s1);
	dht_tokens_init(&t, s0, s1);
	dht_tokens_issue(&t, ip, tok);
	CHECK_HEX(tok, 32, vec_rotation.accepted[0]);
	dht_tokens_rotate(&t);
	CHECK_HEX(t.secrets[0], 32, vec_rotation.a0);
	CHECK_HEX(t.secrets[1], 32, vec_rotation.a1);
	dht_tokens_issue(&t, ip, tok);
	CHECK_HEX(tok, 32, vec_rotation.token_after);
	for (i = 0; i < 2; i++) {
		unhex32(vec_rotation.accepted[i], tok);
		CHECK(dht_tokens_check(&t, ip, tok));
		/* the port is not in the token, the host is */
		CHECK(!dht_tokens_check(&t, other, tok));
	}
	/* two more rotations: the first token has expired */
	unhex32(vec_rotation.accepted[0], tok);
	dht_tokens_rotate(&t);
	CHECK(!dht_tokens_check(&t, ip, tok));
	unhex32(vec_rotation.accepted[1], tok);
	CHECK(dht_tokens_check(&t, ip, tok));
	dht_tokens_rotate(&t);
	CHECK(!dht_tokens_check(&t, ip, tok));
}

static void
buckets(void)
{
	uint8_t own[32], id[32];
	size_t i;

	unhex32(vec_routing_own, own);
	CHECK_UINT(NELEM(vec_buckets), 6);
	for (i = 0; i < NELEM(vec_buckets); i++) {
		unhex32(vec_buckets[i].id, id);
		CHECK_INT(dht_id_bucket(own, id), vec_buckets[i].bucket);
	}
	CHECK_INT(dht_id_bucket(own, own), 255);
}

static void
xor_order(void)
{
	uint8_t target[32], ids[6][32];
	size_t i, j;

	unhex32(vec_order_target, target);
	CHECK_UINT(NELEM(vec_order), 6);
	for (i = 0; i < NELEM(vec_order); i++)
		unhex32(vec_order[i], ids[i]);
	for (i = 0; i < 6; i++) {
		CHECK_INT(dht_id_cmp(target, ids[i], ids[i]), 0);
		for (j = i + 1; j < 6; j++) {
			CHECK(dht_id_cmp(target, ids[i], ids[j]) < 0);
			CHECK(dht_id_cmp(target, ids[j], ids[i]) > 0);
		}
	}
}

static void
nat_sampler(void)
{
	struct dht_natsampler s;
	size_t i;
	int seq = -1, steps = 0;

	for (i = 0; i < NELEM(vec_nat); i++) {
		const struct vnatstep *v = &vec_nat[i];
		struct hn_addr a = addr(v->add);
		uint8_t ip[4];

		if (v->seq != seq) {
			dht_natsampler_init(&s);
			seq = v->seq;
		}
		dht_natsampler_add(&s, a.ip, a.port);
		CHECK_INT(s.size, v->size);
		if (v->host == NULL) {
			CHECK(!s.has_host);
		} else {
			CHECK(s.has_host);
			CHECK_INT(addr_parse_ip(v->host, ip), 0);
			CHECK_MEM(s.ip, ip, 4);
		}
		CHECK_INT(s.port, v->port);
		steps++;
	}
	CHECK_UINT(steps >= 10, 1);
}

/* Past 32 slots the ring wraps; a changed mapping takes over eventually. */
static void
nat_sampler_wrap(void)
{
	struct dht_natsampler s;
	uint8_t a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 6, 7, 8 };
	int i;

	dht_natsampler_init(&s);
	for (i = 0; i < 40; i++)
		dht_natsampler_add(&s, a, 5000);
	CHECK(s.has_host && memcmp(s.ip, a, 4) == 0 && s.port == 5000);
	CHECK_INT(s.size, 16);
	CHECK_INT(s.threshold, 13);
	for (i = 0; i < 40; i++)
		dht_natsampler_add(&s, b, (uint16_t)(6000 + i));
	/* a random port per sample: host known, port not */
	CHECK(s.has_host && memcmp(s.ip, b, 4) == 0);
	CHECK_INT(s.port, 0);
}

static void
make_node(struct dht_node *n, uint32_t i)
{
	memset(n, 0, sizeof(*n));
	n->addr.ip[0] = 10;
	n->addr.ip[1] = (uint8_t)(i >> 16);
	n->addr.ip[2] = (uint8_t)(i >> 8);
	n->addr.ip[3] = (uint8_t)i;
	n->addr.port = 49737;
	dht_node_id(n->id, &n->addr);
}

static void
table_basics(void)
{
	struct dht_table t;
	struct dht_node n, *out[DHT_K];
	uint8_t own[32];
	uint32_t i;
	size_t added = 0, full = 0, k;

	memset(own, 0x55, sizeof(own));
	dht_table_init(&t, own);
	memcpy(n.id, own, 32);
	CHECK_INT(dht_table_add(&t, &n), -EINVAL);
	for (i = 1; i <= 2000; i++) {
		int rc;

		make_node(&n, i);
		rc = dht_table_add(&t, &n);
		if (rc == 0)
			added++;
		else if (rc == -ENOSPC)
			full++;
		else
			harness_fail(__FILE__, __LINE__, "add %d", rc);
	}
	CHECK_UINT(t.size, added);
	/* half of all ids fall in row 0, a quarter in row 1: those fill up */
	CHECK_UINT(t.rows[0].n, DHT_K);
	CHECK_UINT(t.rows[1].n, DHT_K);
	CHECK(full > 1000);
	make_node(&n, 1);
	CHECK_INT(dht_table_add(&t, &n), dht_table_get(&t, n.id) ? -EEXIST :
	    -ENOSPC);
	/* rows stay sorted */
	for (i = 0; i < DHT_TABLE_ROWS; i++) {
		size_t j;

		for (j = 1; j < t.rows[i].n; j++)
			CHECK(memcmp(t.rows[i].nodes[j - 1]->id,
			    t.rows[i].nodes[j]->id, 32) < 0);
	}
	/* closest to our own id: the deepest rows first */
	k = dht_table_closest(&t, own, DHT_K, out);
	CHECK_UINT(k, DHT_K);
	CHECK(dht_id_bucket(own, out[0]->id) >= dht_id_bucket(own,
	    out[k - 1]->id));
	/* removal and the touch order */
	{
		struct dht_node *old = t.oldest, *second = old->next;
		uint8_t id[32];

		memcpy(id, old->id, 32);
		dht_table_touch(&t, old);
		CHECK(t.latest == old && t.oldest == second);
		CHECK(dht_table_remove(&t, id));
		CHECK(!dht_table_remove(&t, id));
		CHECK(dht_table_get(&t, id) == NULL);
		CHECK_UINT(t.size, added - 1);
	}
	dht_table_clear(&t);
	CHECK_UINT(t.size, 0);
}

static void
table_row_oldest(void)
{
	struct dht_table t;
	struct dht_node n, *o;
	uint8_t own[32] = { 0 };
	struct dht_row *row;
	uint32_t i;

	dht_table_init(&t, own);
	for (i = 1; i < 400; i++) {
		make_node(&n, i);
		if ((n.id[0] & 0x80) == 0)
			continue;	/* row 0 only */
		n.pinged = 100 + i;
		n.added = i;
		(void)dht_table_add(&t, &n);
	}
	row = &t.rows[0];
	CHECK_UINT(row->n, DHT_K);
	o = dht_table_row_oldest(row, 1000);
	for (i = 0; i < row->n; i++)
		CHECK(o->pinged <= row->nodes[i]->pinged);
	/* pinged this tick: skipped */
	o->pinged = 1000;
	CHECK(dht_table_row_oldest(row, 1000) != o);
	dht_table_clear(&t);
}

static void
table_rekey(void)
{
	struct dht_table t;
	struct dht_node n;
	uint8_t own[32] = { 0 }, newid[32];
	uint32_t i;
	size_t before;

	dht_table_init(&t, own);
	for (i = 1; i < 200; i++) {
		make_node(&n, i);
		(void)dht_table_add(&t, &n);
	}
	before = t.size;
	make_node(&n, 7);
	memcpy(newid, n.id, 32);	/* one node now has our id */
	dht_table_rekey(&t, newid);
	CHECK(t.size < before);
	CHECK(dht_table_get(&t, newid) == NULL);
	for (i = 0; i < DHT_TABLE_ROWS; i++)
		CHECK(t.rows[i].n <= DHT_K);
	{
		size_t cnt = 0;
		struct dht_node *p;

		for (p = t.oldest; p; p = p->next)
			cnt++;
		CHECK_UINT(cnt, t.size);
	}
	dht_table_clear(&t);
}

static const struct test tests[] = {
	TEST(node_ids),
	TEST(id_validation_in_msgs),
	TEST(tokens),
	TEST(token_rotation),
	TEST(buckets),
	TEST(xor_order),
	TEST(nat_sampler),
	TEST(nat_sampler_wrap),
	TEST(table_basics),
	TEST(table_row_oldest),
	TEST(table_rekey),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("test_dht_table", tests, NELEM(tests), argc, argv);
}
