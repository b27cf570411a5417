/*
 * test_simnat.c - the simulator's NAT models classify exactly as the NAT
 * lab's real routers do (spec/natlab.md §3), and keep §2/§5 semantics:
 * no hairpinning, LAN traffic direct, private addresses unreachable,
 * mappings expiring like conntrack entries
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "sim.h"
#include "simnat.h"

/* A server socket that remembers the last source and echoes it back. */
struct echo {
	struct sim_host	*h;
	int		 sock;
	bool		 reply;
	int		 count;
	struct hn_addr	 last_from;
};

static void
echo_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct echo *e = arg;
	uint8_t out[6];

	e->count++;
	e->last_from = *from;
	if (!e->reply)
		return;
	memcpy(out, from->ip, 4);
	out[4] = (uint8_t)(from->port >> 8);
	out[5] = (uint8_t)from->port;
	(void)hn_send(sim_host_io(e->h), sock, from, out, sizeof(out));
}

/* The LAN client: what each server said, and unsolicited arrivals. */
struct client {
	int		 nmapped;
	struct hn_addr	 mapped[3];
	struct hn_addr	 mapped_by[3];
	struct hn_addr	 unsolicited[4];
	int		 nunsolicited;
};

static void
client_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct client *c = arg;

	if (len == 6 && c->nmapped < 3) {
		memcpy(c->mapped[c->nmapped].ip, buf, 4);
		c->mapped[c->nmapped].port = (uint16_t)(buf[4] << 8 | buf[5]);
		c->mapped_by[c->nmapped++] = *from;
	} else if (len == 1 && c->nunsolicited < 4) {
		c->unsolicited[c->nunsolicited++] = *from;
	}
}

struct cls {
	char	a1_local[HN_ADDR_STRLEN];
	char	mapped[3][HN_ADDR_STRLEN];
	char	mapping[24];
	char	filtering[8];
	char	got_in[32];
};

/*
 * natlab §3 on the simulator: a1 probes pub1:3478, pub1:3479, pub2:3478
 * from one socket; pub1:3480 and pub3 send unsolicited to the mapping.
 */
static void
classify(enum simnat_type t, uint16_t a1_port, struct cls *out)
{
	struct sim *s = sim_new(7);
	struct simnat *w = simnat_new(s);
	bool pub_lan = t == SIMNAT_NONE || t == SIMNAT_FW;
	const char *a1_ip = pub_lan ? "203.0.113.130" : "10.1.0.11";
	struct simnat_router *ra = simnat_router_add(w, t, "203.0.113.10");
	struct sim_host *a1 = sim_host_add(s, a1_ip);
	struct sim_host *p1 = sim_host_add(s, "198.51.100.11");
	struct sim_host *p2 = sim_host_add(s, "198.51.100.12");
	struct sim_host *p3 = sim_host_add(s, "198.51.100.13");
	struct echo e1 = { .h = p1, .reply = true }, e1b = { .h = p1, .reply = true };
	struct echo e1c = { .h = p1 }, e2 = { .h = p2, .reply = true };
	struct echo e3 = { .h = p3 };
	struct client c = { 0 };
	struct hn_addr local;
	int sa;
	bool eim, pp, from_port = false, from_host = false;
	uint8_t one = 0;

	CHECK(simnat_router_attach(ra, a1_ip) == 0);
	sa = sim_host_bind(a1, a1_port, client_recv, &c);
	e1.sock = sim_host_bind(p1, 3478, echo_recv, &e1);
	e1b.sock = sim_host_bind(p1, 3479, echo_recv, &e1b);
	e1c.sock = sim_host_bind(p1, 3480, echo_recv, &e1c);
	e2.sock = sim_host_bind(p2, 3478, echo_recv, &e2);
	e3.sock = sim_host_bind(p3, 3478, echo_recv, &e3);
	local = *sim_host_addr(a1, sa);
	addr_format(&local, out->a1_local);
	CHECK(hn_send(sim_host_io(a1), sa, sim_host_addr(p1, e1.sock),
	    (const uint8_t *)"PROBE", 5) == 0);
	CHECK(hn_send(sim_host_io(a1), sa, sim_host_addr(p1, e1b.sock),
	    (const uint8_t *)"PROBE", 5) == 0);
	CHECK(hn_send(sim_host_io(a1), sa, sim_host_addr(p2, e2.sock),
	    (const uint8_t *)"PROBE", 5) == 0);
	sim_run_until(s, 300);
	CHECK_INT(c.nmapped, 3);
	/* the order of replies: pub1:3478, pub1:3479, pub2:3478 */
	for (int i = 0; i < 3 && i < c.nmapped; i++)
		addr_format(&c.mapped[i], out->mapped[i]);
	/* unsolicited: pub1 from 3480, pub3 to what pub1:3478 saw */
	CHECK(hn_send(sim_host_io(p1), e1c.sock, &e1.last_from, &one, 1) == 0);
	CHECK(hn_send(sim_host_io(p3), e3.sock, &e1.last_from, &one, 1) == 0);
	sim_run_until(s, 1300);
	for (int i = 0; i < c.nunsolicited; i++) {
		if (memcmp(c.unsolicited[i].ip,
		    sim_host_addr(p3, e3.sock)->ip, 4) == 0)
			from_host = true;
		else
			from_port = true;
	}
	eim = c.nmapped == 3 && addr_eq(&c.mapped[0], &c.mapped[2]) &&
	    addr_eq(&c.mapped[0], &c.mapped[1]);
	pp = eim && c.mapped[0].port == local.port;
	if (eim && addr_eq(&c.mapped[0], &local))
		snprintf(out->mapping, sizeof(out->mapping), "none (public)");
	else if (pp)
		snprintf(out->mapping, sizeof(out->mapping), "EIM (port preserved)");
	else if (eim)
		snprintf(out->mapping, sizeof(out->mapping), "EIM");
	else if (c.nmapped == 3 && addr_eq(&c.mapped[0], &c.mapped[1]))
		snprintf(out->mapping, sizeof(out->mapping), "ADM");
	else
		snprintf(out->mapping, sizeof(out->mapping), "APDM (random)");
	snprintf(out->filtering, sizeof(out->filtering), "%s",
	    from_host ? "EIF" : from_port ? "ADF" : "APDF");
	snprintf(out->got_in, sizeof(out->got_in), "%s%s%s",
	    from_port ? "pub1:3480" : "", from_port && from_host ? ", " : "",
	    from_host ? "pub3" : "");
	if (!from_port && !from_host)
		snprintf(out->got_in, sizeof(out->got_in), "none");
	simnat_free(w);
	sim_free(s);
}

/* natlab.md §3 table, rows in order; local ports as measured there. */
static void
simnat_classifies_like_natlab(void)
{
	static const struct {
		const char	*type;
		uint16_t	 port;
		const char	*mapping, *got_in, *filtering;
	} rows[] = {
		{ "pcone", 52282, "EIM (port preserved)", "none", "APDF" },
		{ "fullcone", 50169, "EIM (port preserved)", "pub1:3480, pub3", "EIF" },
		{ "rcone", 52096, "EIM (port preserved)", "pub1:3480", "ADF" },
		{ "sym", 47552, "APDM (random)", "none", "APDF" },
		{ "none", 43961, "none (public)", "pub1:3480, pub3", "EIF" },
		{ "fw", 34676, "none (public)", "none", "APDF" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum simnat_type t;
		struct cls c;

		memset(&c, 0, sizeof(c));
		CHECK_INT(simnat_type_parse(rows[i].type, &t), 0);
		CHECK_STR(simnat_type_name(t), rows[i].type);
		classify(t, rows[i].port, &c);
		CHECK_STR(c.mapping, rows[i].mapping);
		CHECK_STR(c.got_in, rows[i].got_in);
		CHECK_STR(c.filtering, rows[i].filtering);
		if (t == SIMNAT_PCONE)
			CHECK_STR(c.mapped[0], "203.0.113.10:52282");
		if (t == SIMNAT_NONE || t == SIMNAT_FW)
			CHECK_STR(c.mapped[0], c.a1_local);
	}
	CHECK_INT(simnat_type_parse("cone", &(enum simnat_type){ 0 }), -EINVAL);
}

static void
noop_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	int *n = arg;

	(*n)++;
}

/* Two hosts on one LAN talk directly; no hairpin; private is private. */
static void
simnat_lan_hairpin_private(void)
{
	struct sim *s = sim_new(3);
	struct simnat *w = simnat_new(s);
	struct simnat_router *ra = simnat_router_add(w, SIMNAT_FULLCONE,
	    "203.0.113.10");
	struct simnat_router *rb = simnat_router_add(w, SIMNAT_FULLCONE,
	    "203.0.113.20");
	struct sim_host *a1 = sim_host_add(s, "10.1.0.11");
	struct sim_host *a2 = sim_host_add(s, "10.1.0.12");
	struct sim_host *b1 = sim_host_add(s, "10.2.0.11");
	struct sim_host *p1 = sim_host_add(s, "198.51.100.11");
	int n1 = 0, n2 = 0, nb = 0, np = 0, s1, s2, sb, sp;
	struct hn_addr hairpin = { { 203, 0, 113, 10 }, 5000 };
	uint8_t x = 0;

	CHECK(simnat_router_attach(ra, "10.1.0.11") == 0);
	CHECK(simnat_router_attach(ra, "10.1.0.12") == 0);
	CHECK(simnat_router_attach(rb, "10.2.0.11") == 0);
	s1 = sim_host_bind(a1, 5000, noop_recv, &n1);
	s2 = sim_host_bind(a2, 5000, noop_recv, &n2);
	sb = sim_host_bind(b1, 5000, noop_recv, &nb);
	sp = sim_host_bind(p1, 3478, noop_recv, &np);
	/* a1 opens a mapping (fullcone: anyone may use it) */
	hn_send(sim_host_io(a1), s1, sim_host_addr(p1, sp), &x, 1);
	/* a2 -> a1's LAN address: direct */
	hn_send(sim_host_io(a2), s2, sim_host_addr(a1, s1), &x, 1);
	/* a2 -> a1's public mapping: hairpin is off */
	hn_send(sim_host_io(a2), s2, &hairpin, &x, 1);
	/* b1 -> a1's private address: not routable */
	hn_send(sim_host_io(b1), sb, sim_host_addr(a1, s1), &x, 1);
	/* p1 -> a1's private address: not routable */
	hn_send(sim_host_io(p1), sp, sim_host_addr(a1, s1), &x, 1);
	sim_run_until(s, 100);
	CHECK_INT(np, 1);
	CHECK_INT(n1, 1);
	CHECK_INT(n2, 0);
	CHECK_INT(nb, 0);
	CHECK_UINT(simnat_stats(w)->unroutable, 3);
	/* a2 with the same local port gets another WAN port */
	hn_send(sim_host_io(a2), s2, sim_host_addr(p1, sp), &x, 1);
	sim_run_until(s, 200);
	CHECK_UINT(simnat_router_mappings(ra), 2);
	simnat_free(w);
	sim_free(s);
}

/* Mappings live 30 s unreplied, 120 s replied (natlab §5.5). */
static void
simnat_mappings_expire(void)
{
	struct sim *s = sim_new(5);
	struct simnat *w = simnat_new(s);
	struct simnat_router *ra = simnat_router_add(w, SIMNAT_PCONE,
	    "203.0.113.10");
	struct sim_host *a1 = sim_host_add(s, "10.1.0.11");
	struct sim_host *p1 = sim_host_add(s, "198.51.100.11");
	int na = 0, np = 0, sa, sp;
	struct hn_addr pub = { { 203, 0, 113, 10 }, 6000 };
	uint8_t x = 0;

	CHECK(simnat_router_attach(ra, "10.1.0.11") == 0);
	sa = sim_host_bind(a1, 6000, noop_recv, &na);
	sp = sim_host_bind(p1, 3478, noop_recv, &np);
	hn_send(sim_host_io(a1), sa, sim_host_addr(p1, sp), &x, 1);
	sim_run_until(s, 29000);
	hn_send(sim_host_io(p1), sp, &pub, &x, 1);	/* in time: replied */
	sim_run_until(s, 29000 + 119000);
	hn_send(sim_host_io(p1), sp, &pub, &x, 1);	/* still alive */
	sim_run_until(s, 29000 + 119000 + 121000);
	CHECK_INT(na, 2);
	CHECK_UINT(simnat_router_mappings(ra), 0);
	hn_send(sim_host_io(p1), sp, &pub, &x, 1);	/* expired */
	sim_run_until(s, 300000);
	CHECK_INT(na, 2);
	/* unreplied: gone after 30 s */
	hn_send(sim_host_io(a1), sa, sim_host_addr(p1, sp), &x, 1);
	sim_run_until(s, 331000);
	hn_send(sim_host_io(p1), sp, &pub, &x, 1);
	sim_run_until(s, 332000);
	CHECK_INT(na, 2);
	CHECK_INT(np, 2);
	simnat_free(w);
	sim_free(s);
}

static const struct test tests[] = {
	TEST(simnat_classifies_like_natlab),
	TEST(simnat_lan_hairpin_private),
	TEST(simnat_mappings_expire),
};

int
main(int argc, char **argv)
{
	return harness_main("test_simnat", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
