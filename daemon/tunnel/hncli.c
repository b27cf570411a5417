/*
 * hncli.c - run a hyper-nat plan in the foreground on the tunnel layer
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "log.h"
#include "daemon/config.h"
#include "daemon/connect/conn.h"
#include "hncli.h"
#include "tunnel.h"

/* One mapping running: its own layer (servers may differ in secret). */
struct hncli_run {
	struct keypair		 base;
	struct tunnel_layer	*layer;
	struct tunnel		*t;
};

static void
random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d, stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* What lib/dht-relay.js prints once a mapping is up. */
static void
print_ready(const struct hncli_map *m)
{
	static const char *const what[] = { "", "tcp", "udp", "tcp-over-udp" };

	if (m->mode == HNCLI_SERVER) {
		printf("listening for remote connections for %s %s\n",
		    what[m->proto], m->port_text);
		return;
	}
	switch (m->proto) {
	case TUN_TCP:
		printf("TCP stream ready, listening for connections on %s\n",
		    m->port_text);
		break;
	case TUN_UDP:
		printf("UDP stream ready, listening for packets on  %s\n",
		    m->port_text);
		break;
	case TUN_TCPUDP:
		printf("TCP-over-UDP stream ready, listening for connections "
		    "on %u\n", m->local_port);
		break;
	}
}

static int
start_mapping(struct ev_loop *loop, struct conn_node *node,
    const struct hncli_map *m, struct hncli_run *run)
{
	struct tunnel_config tc;
	struct tundef d;
	int r;

	memset(&tc, 0, sizeof(tc));
	memset(&d, 0, sizeof(d));
	tc.loop = loop;
	tc.node = node;
	tc.secure_dgrams = true;
	tc.plaintext = PLAINTEXT_ALLOW;
	d.proto = m->proto;
	d.port = m->port;
	d.origin = TUN_ORIGIN_RUNTIME;
	if (m->mode == HNCLI_SERVER) {
		if ((r = keys_from_secret(&run->base, m->secret,
		    strlen(m->secret))) != 0)
			return r;
		tc.base = &run->base;
		d.kind = TUN_EXPORT;
		memcpy(d.host, m->host, 4);
	} else {
		/* hyper-nat clients use a random key per run; so do we */
		d.kind = TUN_IMPORT;
		memcpy(d.peer, m->peer, KEYS_PK_LEN);
		/* hyper-nat: udp binds every interface, tcp loopback only */
		if (m->proto != TUN_UDP)
			memcpy(d.listen.ip, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
		d.listen.port = m->local_port;
	}
	if ((run->layer = tunnel_layer_new(&tc)) == NULL)
		return -ENOMEM;
	return tunnel_start_named(run->layer, &d, m->keyname, &run->t);
}

int
hncli_main(int argc, char **argv, const struct hncli_env *env)
{
	struct hncli_io io = { stdout, stderr, random_bytes };
	struct hncli_plan plan;
	struct hncli_run *runs;
	struct conn_node *node;
	ev_signal sint, sterm;
	size_t i;
	int r, rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = hncli_plan(argc, argv, &io, &plan)) != -1)
		return r;
	if ((runs = calloc(plan.n, sizeof(*runs))) == NULL) {
		hncli_plan_free(&plan);
		return 1;
	}
	if ((node = env->node_up(env->arg, CONN_CAP_SECURE_DGRAM)) == NULL) {
		fprintf(stderr, "Error: the DHT node did not start\n");
		rc = 1;
		goto out;
	}
	for (i = 0; i < plan.n; i++) {
		if ((r = start_mapping(env->loop, node, &plan.v[i],
		    &runs[i])) != 0) {
			fprintf(stderr, "Error: %s %s: %s\n",
			    tunutil_proto_name(plan.v[i].proto),
			    plan.v[i].port_text, strerror(-r));
			rc = 1;
			goto out_stop;
		}
		print_ready(&plan.v[i]);
	}
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(env->loop, &sint);
	ev_signal_start(env->loop, &sterm);
	ev_run(env->loop, 0);
	ev_signal_stop(env->loop, &sint);
	ev_signal_stop(env->loop, &sterm);
out_stop:
	for (i = 0; i < plan.n; i++) {
		tunnel_layer_free(runs[i].layer);
		keys_wipe(&runs[i].base);
	}
	env->node_down(env->arg);
out:
	free(runs);
	hncli_plan_free(&plan);
	return rc;
}
