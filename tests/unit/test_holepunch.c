/*
 * test_holepunch.c - NAT classification (spec/connect.md §8.1, lib/nat.js)
 * and the puncher's bookkeeping: tokens, verified addresses, the strategy
 * table of §8.3, the payload it fills
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "sim/sim.h"
#include "daemon/connect/holepunch.h"
#include "daemon/connect/nat.h"

#define NELEM_T(a)	(sizeof(a) / sizeof((a)[0]))

static struct hn_addr
A(const char *s)
{
	struct hn_addr a;

	memset(&a, 0, sizeof(a));
	CHECK_INT(addr_parse(s, &a), 0);
	return a;
}

/* Feed samples "to" from distinct nodes 198.51.100.N:49737. */
static void
feed(struct nat *n, const char *const *tos, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		struct hn_addr to = A(tos[i]), from = A("198.51.100.1:49737");

		from.ip[3] = (uint8_t)(10 + n->sampled);
		CHECK(nat_add(n, &to, &from));
	}
}

static void
nat_consistent_after_three(void)
{
	static const char *const s[] = { "203.0.113.10:4000",
	    "203.0.113.10:4000", "203.0.113.10:4000" };
	struct nat n;
	struct hn_addr out[4], want;

	nat_init(&n, true);
	CHECK_INT(n.firewall, NOISE_FIREWALL_UNKNOWN);
	feed(&n, s, 2);
	CHECK_INT(n.firewall, NOISE_FIREWALL_UNKNOWN);
	CHECK(!nat_finished(&n));
	feed(&n, s, 1);
	CHECK_INT(n.firewall, NOISE_FIREWALL_CONSISTENT);
	CHECK(nat_finished(&n));
	CHECK_INT(nat_addresses(&n, out, 4), 1);
	want = A(s[0]);
	CHECK(addr_eq(&out[0], &want));
}

static void
nat_random_and_undecided(void)
{
	static const char *const r[] = { "203.0.113.10:4000",
	    "203.0.113.10:4001", "203.0.113.10:4002" };
	static const char *const u[] = { "203.0.113.10:4000",
	    "203.0.113.10:4000", "203.0.113.10:5000", "203.0.113.10:6000" };
	struct nat n;
	struct hn_addr out[4];

	nat_init(&n, true);
	feed(&n, r, 3);
	CHECK_INT(n.firewall, NOISE_FIREWALL_RANDOM);
	CHECK_INT(nat_addresses(&n, out, 4), 1);
	CHECK_INT(out[0].port, 0);
	/* top hits 2 on one host: undecided at 3, RANDOM at 4 */
	nat_init(&n, true);
	feed(&n, u, 3);
	CHECK_INT(n.firewall, NOISE_FIREWALL_UNKNOWN);
	CHECK(!nat_finished(&n));
	feed(&n, u + 3, 1);
	CHECK_INT(n.firewall, NOISE_FIREWALL_RANDOM);
	CHECK(nat_finished(&n));
}

static void
nat_two_hosts_consistent(void)
{
	static const char *const s[] = { "203.0.113.10:4000",
	    "198.51.100.99:4000", "203.0.113.10:4000", "198.51.100.99:4000" };
	struct nat n;
	struct hn_addr out[4];

	nat_init(&n, true);
	feed(&n, s, 3);
	CHECK_INT(n.firewall, NOISE_FIREWALL_UNKNOWN);
	feed(&n, s + 3, 1);
	CHECK_INT(n.firewall, NOISE_FIREWALL_CONSISTENT);
	CHECK_INT(nat_addresses(&n, out, 4), 2);
}

static void
nat_open_frozen_and_dedup(void)
{
	static const char *const s[] = { "203.0.113.10:4000",
	    "203.0.113.10:4001", "203.0.113.10:4002", "203.0.113.10:4003" };
	struct nat n;
	struct hn_addr to = A("203.0.113.10:1"), from = A("198.51.100.10:1");

	nat_init(&n, false);
	CHECK_INT(n.firewall, NOISE_FIREWALL_OPEN);
	CHECK(nat_finished(&n));
	CHECK(nat_add(&n, &to, &from));
	CHECK(!nat_add(&n, &to, &from));	/* one sample per node */
	CHECK_INT(n.sampled, 1);
	CHECK_INT(n.firewall, NOISE_FIREWALL_OPEN);
	nat_init(&n, true);
	nat_freeze(&n);
	feed(&n, s, 3);
	CHECK_INT(n.firewall, NOISE_FIREWALL_UNKNOWN);
	nat_unfreeze(&n);
	CHECK_INT(n.firewall, NOISE_FIREWALL_RANDOM);
}

/* ------------------------------------------------------- the puncher */

struct env {
	struct sim	*sim;
	struct sim_host	*h;
	int		 open;
	bool		 analyzed;
};

static void
rx(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
}

static int
env_open(void *arg)
{
	struct env *e = arg;
	int s = sim_host_bind(e->h, 0, rx, e);

	e->open += s >= 0;
	return s;
}

static void
env_close(void *arg, int sock)
{
	struct env *e = arg;

	e->open--;
	sim_host_unbind(e->h, sock);
}

static void
env_analyzed(struct holepuncher *hp, void *arg)
{
	((struct env *)arg)->analyzed = true;
}

static struct holepuncher *
env_hp(struct env *e, bool initiator)
{
	struct hp_config cfg;
	struct hp_cbs cbs = { .on_analyzed = env_analyzed, .arg = e };

	memset(e, 0, sizeof(*e));
	e->sim = sim_new(3);
	e->h = sim_host_add(e->sim, "10.1.0.11");
	memset(&cfg, 0, sizeof(cfg));
	cfg.io = sim_host_io(e->h);
	cfg.sock_open = env_open;
	cfg.sock_close = env_close;
	cfg.sock_arg = e;
	cfg.initiator = initiator;
	return hp_new(&cfg, &cbs);
}

static void
hp_tokens_verify_random_punch(void)
{
	struct env e;
	struct holepuncher *hp = env_hp(&e, true);
	struct holepunch_payload p;
	struct hn_addr from = A("198.51.100.10:49737");
	uint8_t t1[32], t2[32];

	CHECK(hp != NULL);
	CHECK_INT(e.open, 1);
	/* no DHT: sampling runs out at once, told from a timer */
	CHECK(hp_analyzed(hp));
	CHECK(!e.analyzed);
	sim_run_until(e.sim, 1);
	CHECK(e.analyzed);
	for (int i = 0; i < 3; i++) {
		struct hn_addr to = A("203.0.113.10:4000");

		from.ip[3] = (uint8_t)(10 + i);
		hp_add_sample(hp, &to, &from);
	}
	CHECK_INT(hp_firewall(hp), NOISE_FIREWALL_CONSISTENT);
	memset(&p, 0, sizeof(p));
	hp_fill_payload(hp, &p, 3);
	CHECK_INT(p.round, 3);
	CHECK(p.has_addresses);
	CHECK_INT(p.naddresses, 1);
	/* tokens depend on the host only, and on our secret */
	hp_token(hp, (const uint8_t[]){ 203, 0, 113, 20 }, t1);
	hp_token(hp, (const uint8_t[]){ 203, 0, 113, 21 }, t2);
	CHECK(memcmp(t1, t2, 32) != 0);
	/* remote RANDOM without a verified address: no strategy */
	memset(&p, 0, sizeof(p));
	p.firewall = NOISE_FIREWALL_RANDOM;
	p.round = 1;
	p.has_addresses = true;
	p.naddresses = 1;
	p.addresses[0] = A("203.0.113.20:0");
	p.has_remote_token = true;
	memcpy(p.remote_token, t2, 32);		/* wrong host's token */
	hp_remote_update(hp, &p, NULL);
	CHECK_INT(hp_remote_firewall(hp), NOISE_FIREWALL_RANDOM);
	CHECK_INT(hp_punch(hp), -EOPNOTSUPP);
	/* an older round changes nothing */
	p.round = 0;
	memcpy(p.remote_token, t1, 32);
	hp_remote_update(hp, &p, NULL);
	CHECK_INT(hp_punch(hp), -EOPNOTSUPP);
	/* the right echo verifies the host: random-port probing starts */
	p.round = 2;
	p.punching = true;
	hp_remote_update(hp, &p, NULL);
	CHECK(hp_remote_punching(hp));
	CHECK_INT(hp_punch(hp), 0);
	CHECK(hp_punching(hp));
	CHECK_INT(hp_punch(hp), -EALREADY);
	sim_run_until(e.sim, 1000);
	CHECK_UINT(sim_stats(e.sim)->sent, 50);	/* one per 20 ms */
	hp_free(hp);
	CHECK_INT(e.open, 0);
	sim_free(e.sim);
}

static void
hp_unstable_and_reopen(void)
{
	struct env e;
	struct holepuncher *hp = env_hp(&e, false);
	struct holepunch_payload p;

	CHECK(hp_unstable(hp));		/* UNKNOWN */
	for (int i = 0; i < HP_MAX_REOPENS; i++)
		CHECK_INT(hp_reopen(hp), 0);
	CHECK_INT(hp_reopen(hp), -EAGAIN);
	/* the replaced sockets close later, from a timer */
	CHECK_INT(e.open, 1 + HP_MAX_REOPENS);
	sim_run_until(e.sim, 1);
	CHECK_INT(e.open, 1);
	memset(&p, 0, sizeof(p));
	p.firewall = NOISE_FIREWALL_RANDOM;
	hp_remote_update(hp, &p, NULL);
	for (int i = 0; i < 3; i++) {
		struct hn_addr to = A("203.0.113.10:4000"), from =
		    A("198.51.100.10:49737");

		to.port = (uint16_t)(4000 + i);
		from.ip[3] = (uint8_t)(10 + i);
		hp_add_sample(hp, &to, &from);
	}
	CHECK_INT(hp_firewall(hp), NOISE_FIREWALL_RANDOM);
	CHECK(hp_unstable(hp));		/* both RANDOM */
	CHECK_INT(hp_punch(hp), -EOPNOTSUPP);
	hp_free(hp);
	CHECK_INT(e.open, 0);
	/* freed with a replaced socket still pending: closed all the same */
	sim_free(e.sim);
	hp = env_hp(&e, false);
	CHECK_INT(hp_reopen(hp), 0);
	CHECK_INT(e.open, 2);
	hp_free(hp);
	CHECK_INT(e.open, 0);
	sim_free(e.sim);
}

/* TTLs as sent: the reference's 5/64, or natlab §5.3's early low TTL. */
static int ttls[64];
static size_t nttls;

static int
rec_ttl(void *arg, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len, int ttl)
{
	CHECK_UINT(len, 1);
	CHECK_INT(buf[0], 0);
	if (nttls < NELEM_T(ttls))
		ttls[nttls++] = ttl;
	return 0;
}

static struct holepuncher *
ttl_hp(struct env *e, uint32_t early_ms, int early_ttl)
{
	struct hp_config cfg;
	struct hp_cbs cbs = { .arg = e };
	struct holepuncher *hp;
	struct holepunch_payload p;
	struct hn_addr from = A("198.51.100.10:49737");

	memset(e, 0, sizeof(*e));
	e->sim = sim_new(4);
	e->h = sim_host_add(e->sim, "10.1.0.11");
	memset(&cfg, 0, sizeof(cfg));
	cfg.io = sim_host_io(e->h);
	cfg.sock_open = env_open;
	cfg.sock_close = env_close;
	cfg.sock_arg = e;
	cfg.send_ttl = rec_ttl;
	cfg.early_low_ttl_ms = early_ms;
	cfg.early_low_ttl = early_ttl;
	cfg.initiator = true;
	hp = hp_new(&cfg, &cbs);
	for (int i = 0; i < 3; i++) {
		struct hn_addr to = A("203.0.113.10:4000");

		from.ip[3] = (uint8_t)(10 + i);
		hp_add_sample(hp, &to, &from);
	}
	memset(&p, 0, sizeof(p));
	p.firewall = NOISE_FIREWALL_CONSISTENT;
	hp_remote_update(hp, &p, NULL);
	hp_remote_add(hp, &(struct hn_addr){ { 203, 0, 113, 20 }, 5000 },
	    true);
	nttls = 0;
	return hp;
}

static void
hp_ttl_rules(void)
{
	struct env e;
	struct holepuncher *hp;
	static const struct hn_addr to = { { 203, 0, 113, 20 }, 5000 };

	/* the reference: open session 5, punches 64 */
	hp = ttl_hp(&e, 0, 0);
	CHECK_INT(hp_send_probe(hp, &to, true), 0);
	CHECK_INT(hp_punch(hp), 0);
	sim_run_until(e.sim, 2500);
	CHECK_UINT(nttls, 4);
	CHECK_INT(ttls[0], HP_TTL_LOW);
	CHECK_INT(ttls[1], HP_TTL_DEFAULT);	/* t = 0 */
	CHECK_INT(ttls[3], HP_TTL_DEFAULT);	/* t = 2000 */
	hp_free(hp);
	sim_free(e.sim);
	/* early low TTL: 2 for the open session and the first 300 ms */
	hp = ttl_hp(&e, 300, 2);
	CHECK_INT(hp_send_probe(hp, &to, true), 0);
	CHECK_INT(hp_punch(hp), 0);
	sim_run_until(e.sim, 1500);
	CHECK_UINT(nttls, 3);
	CHECK_INT(ttls[0], 2);
	CHECK_INT(ttls[1], 2);			/* t = 0 */
	CHECK_INT(ttls[2], HP_TTL_DEFAULT);	/* t = 1000 */
	hp_free(hp);
	sim_free(e.sim);
}

static const struct test tests[] = {
	TEST(nat_consistent_after_three),
	TEST(nat_random_and_undecided),
	TEST(nat_two_hosts_consistent),
	TEST(nat_open_frozen_and_dedup),
	TEST(hp_tokens_verify_random_punch),
	TEST(hp_unstable_and_reopen),
	TEST(hp_ttl_rules),
};

int
main(int argc, char **argv)
{
	return harness_main("test_holepunch", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
