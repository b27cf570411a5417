/*
 * bench_dht.c - 1000 DHT nodes in the simulated network (tests/sim/sim.h)
 *
 * One bootstrapper and N-1 persistent nodes join a lossy network
 * (10-20 ms one way, 1 % loss); 100 of them announce a topic each; then
 * `lookups` LOOKUP queries for random topics from random nodes run in
 * batches.  A lookup converged when some reply carried the announcer's
 * record; its hop count is the referral depth of the first such reply.
 *
 * Usage: bench_dht [nodes [lookups [seed]]]
 * Last line: bench-dht: nodes=N lookups=N converged=N hops_p50=X cpu_s=Y
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "sim/sim.h"
#include "daemon/dht/dht.h"
#include "daemon/dht/wire.h"

#define PORT	49737
#define TOPICS	100

struct node {
	struct sim_host	*host;
	struct dht	*d;
	struct hn_addr	 addr;
	bool		 ready;
};

static struct node *nodes;
static size_t nnodes, nready;

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	struct node *nd = arg;

	if (nd->d)
		dht_input(nd->d, sock, from, buf, len);
}

static void
on_ready(struct dht *d, void *arg)
{
	((struct node *)arg)->ready = true;
	nready++;
}

static void
start(struct sim *s, size_t i)
{
	struct node *nd = &nodes[i];
	struct dht_config cfg;
	char ip[48];
	int ss, cs;

	snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", 1 + i / 65536,
	    (i / 256) % 256, i % 256);
	nd->host = sim_host_add(s, ip);
	ss = sim_host_bind(nd->host, PORT, on_recv, nd);
	cs = sim_host_bind(nd->host, 0, on_recv, nd);
	nd->addr = *sim_host_addr(nd->host, ss);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = ss;
	cfg.client_sock = cs;
	cfg.server_port = PORT;
	cfg.on_ready = on_ready;
	cfg.arg = nd;
	if (i == 0) {
		cfg.bootstrapper = true;
		cfg.public_addr = nd->addr;
	} else {
		cfg.persistent = true;
		cfg.bootstrap[0] = nodes[0].addr;
		cfg.nbootstrap = 1;
	}
	nd->d = dht_new(sim_host_io(nd->host), &cfg);
}

struct look {
	uint8_t	 pk[32];
	bool	 done;
	bool	 hit;
	unsigned depth;
};

static void
look_reply(struct dht_query *q, const struct dht_reply *r, void *arg)
{
	struct look *l = arg;
	struct dht_lookup_reply lr;
	size_t i;

	if (l->hit || r->value == NULL ||
	    dht_lookup_reply_decode(&lr, r->value, r->value_len) != 0)
		return;
	for (i = 0; i < lr.npeers; i++) {
		if (memcmp(lr.peers[i].publicKey, l->pk, 32) == 0) {
			l->hit = true;
			l->depth = dht_query_reply_depth(q);
			return;
		}
	}
}

static void
look_done(struct dht_query *q, int err, void *arg)
{
	((struct look *)arg)->done = true;
}

static size_t pending_done;

static void
ann_done(void *arg, int err)
{
	pending_done++;
}

static bool
all_ready(void *arg)
{
	return nready == nnodes;
}

static bool
anns_done(void *arg)
{
	return pending_done == TOPICS;
}

static struct look *batch;
static size_t batch_n;

static bool
batch_done(void *arg)
{
	size_t i;

	for (i = 0; i < batch_n; i++)
		if (!batch[i].done)
			return false;
	return true;
}

static int
cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	size_t lookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	struct sim_link link = { .delay_us = 10000, .jitter_us = 10000,
	    .loss = 0.01 };
	struct keypair kp[TOPICS];
	uint8_t topics[TOPICS][32];
	unsigned *hops;
	size_t i, j, converged = 0, nhops = 0;
	clock_t c0 = clock();
	struct sim *s;

	nnodes = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	if (nnodes < 30 || keys_init() != 0)
		return 2;
	nodes = calloc(nnodes, sizeof(*nodes));
	hops = calloc(lookups, sizeof(*hops));
	batch = calloc(100, sizeof(*batch));
	s = sim_new(seed);
	sim_set_link(s, &link);
	start(s, 0);
	sim_run_until(s, 100);
	for (i = 1; i < nnodes; i++) {
		start(s, i);
		sim_run_until(s, sim_now_ms(s) + 20);
	}
	if (!sim_run(s, all_ready, NULL, 300000))
		fprintf(stderr, "bench-dht: only %zu of %zu nodes ready\n",
		    nready, nnodes);
	sim_run_until(s, sim_now_ms(s) + 30000);
	printf("joined: %zu nodes at t=%llu ms\n", nnodes,
	    (unsigned long long)sim_now_ms(s));

	for (i = 0; i < TOPICS; i++) {
		uint8_t sd[32];
		char name[32];

		memset(sd, (int)i, sizeof(sd));
		sd[1] = 0x5a;
		keys_from_seed(&kp[i], sd);
		snprintf(name, sizeof(name), "bench topic %zu", i);
		keys_hash(topics[i], name, strlen(name));
		(void)dht_announce_topic(nodes[1 + (i * 7) % (nnodes - 1)].d,
		    topics[i], &kp[i], NULL, 0, ann_done, NULL);
	}
	sim_run(s, anns_done, NULL, 60000);

	for (i = 0; i < lookups; i += batch_n) {
		batch_n = lookups - i < 100 ? lookups - i : 100;
		memset(batch, 0, 100 * sizeof(*batch));
		for (j = 0; j < batch_n; j++) {
			struct dht_query_opts qo;
			size_t t = (size_t)(sim_rand(s) % TOPICS);
			size_t from = (size_t)(sim_rand(s) % nnodes);

			memcpy(batch[j].pk, kp[t].pk, 32);
			memset(&qo, 0, sizeof(qo));
			memcpy(qo.target, topics[t], 32);
			qo.command = DHT_CMD_LOOKUP;
			qo.retries = -1;
			qo.on_reply = look_reply;
			qo.on_done = look_done;
			qo.arg = &batch[j];
			if (dht_query_start(nodes[from].d, &qo) == NULL)
				batch[j].done = true;
		}
		sim_run(s, batch_done, NULL, 120000);
		for (j = 0; j < batch_n; j++) {
			if (batch[j].hit) {
				converged++;
				hops[nhops++] = batch[j].depth;
			}
		}
	}
	qsort(hops, nhops, sizeof(*hops), cmp_uint);
	printf("datagrams: %llu sent, %llu lost\n",
	    (unsigned long long)sim_stats(s)->sent,
	    (unsigned long long)sim_stats(s)->lost);
	for (i = 0; i < nnodes; i++)
		dht_free(nodes[i].d);
	sim_free(s);
	printf("bench-dht: nodes=%zu lookups=%zu converged=%zu hops_p50=%u "
	    "cpu_s=%.2f\n", nnodes, lookups, converged,
	    nhops ? hops[nhops / 2] : 0,
	    (double)(clock() - c0) / CLOCKS_PER_SEC);
	free(hops);
	free(batch);
	free(nodes);
	return converged == lookups ? 0 : 1;
}
