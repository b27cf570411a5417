/*
 * test_node.c - the daemon's network node (daemon/node.c) on 127.0.0.1:
 * config to DHT modes, a bootstrap node and a persistent node forming a
 * network on one libev loop, the status they report, the conn_node seam,
 * and a network change making the DHT forget and re-learn its address
 */
#include <errno.h>
#include <stdarg.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/connect/conn.h"
#include "daemon/node.h"
#include "daemon/udx/udx.h"
#include "harness.h"
#include "log.h"

static struct ev_loop *loop;
static int changes;

static void
on_change(void *arg)
{
	changes++;
}

static struct config *
conf(const char *fmt, ...)
{
	char text[512], err[CONFIG_ERR_LEN];
	struct config *c = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (config_parse("test", text, strlen(text), &c, err) < 0)
		harness_fail(__FILE__, __LINE__, "%s", err);
	return c;
}

/* A node from config text, retrying other ports when one is taken. */
static struct node *
node_at(const char *mode, const char *host, const char *boot, uint16_t *port)
{
	char err[NODE_ERR_LEN];
	struct config *c;
	struct node *n = NULL;
	int i;

	for (i = 0; i < 20 && n == NULL; i++) {
		if (*port != 0)
			*port = (uint16_t)(20000 + rand() % 30000);
		c = conf("dht:\n  bootstrap: [%s]\n  port: %u\n  host: %s\n"
		    "  mode: %s\n", boot, *port, host, mode);
		if (c == NULL)
			return NULL;
		n = node_new(loop, c, on_change, NULL, err);
		config_free(c);
		if (n == NULL && strstr(err, "in use") == NULL) {
			harness_fail(__FILE__, __LINE__, "%s", err);
			return NULL;
		}
	}
	return n;
}

struct wait {
	bool	(*done)(void *);
	void	*arg;
	ev_timer guard, poll;
	bool	 timed_out;
};

static void
poll_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct wait *wt = container_of(w, struct wait, poll);

	if (wt->done(wt->arg))
		ev_break(l, EVBREAK_ONE);
}

static void
guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	container_of(w, struct wait, guard)->timed_out = true;
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop until done(arg) or `s` seconds; true if done. */
static bool
run_until(bool (*done)(void *), void *arg, double s)
{
	struct wait wt;

	memset(&wt, 0, sizeof(wt));
	wt.done = done;
	wt.arg = arg;

	ev_timer_init(&wt.guard, guard_cb, s, 0);
	ev_timer_init(&wt.poll, poll_cb, 0.02, 0.02);
	ev_timer_start(loop, &wt.guard);
	ev_timer_start(loop, &wt.poll);
	ev_run(loop, 0);
	ev_timer_stop(loop, &wt.guard);
	ev_timer_stop(loop, &wt.poll);
	return !wt.timed_out;
}

/* ------------------------------------------------------------ tests */

static void
node_bootstrap_node_needs_host(void)
{
	char err[NODE_ERR_LEN];
	struct config *c;
	struct node *n;

	loop = ev_loop_new(EVFLAG_AUTO);
	c = conf("dht:\n  bootstrap: []\n  port: 40999\n  mode: persistent\n");
	if (c == NULL)
		goto out;
	n = node_new(loop, c, NULL, NULL, err);
	CHECK(n == NULL);
	CHECK(strstr(err, "needs dht.host") != NULL);
	config_free(c);
out:
	ev_loop_destroy(loop);
}

struct net {
	struct node *a, *b;
};

static bool
formed(void *arg)
{
	struct net *net = arg;
	struct node_status sa, sb;

	node_get_status(net->a, &sa);
	node_get_status(net->b, &sb);
	return sa.bootstrapped && sb.bootstrapped && sb.persistent &&
	    !sb.firewalled && sb.has_public && sa.table_size >= 1 &&
	    sb.table_size >= 1;
}

static bool
has_public(void *arg)
{
	struct node_status st;

	node_get_status(arg, &st);
	return st.has_public;
}

static void
node_two_nodes_form_network(void)
{
	struct conn_node_config cc;
	struct node_status sa, sb;
	struct net net = { NULL, NULL };
	uint16_t pa = 1, pb = 1;
	char boot[32], line[128];
	int s;

	loop = ev_loop_new(EVFLAG_AUTO);
	if ((net.a = node_at("persistent", "127.0.0.1", "", &pa)) == NULL)
		goto out;
	snprintf(boot, sizeof(boot), "127.0.0.1:%u", pa);
	if ((net.b = node_at("persistent", "127.0.0.1", boot, &pb)) == NULL)
		goto out;
	changes = 0;
	CHECK(run_until(formed, &net, 20));
	CHECK(changes > 0);
	node_get_status(net.a, &sa);
	node_get_status(net.b, &sb);
	CHECK_STR(sa.mode, "bootstrap");
	CHECK_STR(sb.mode, "persistent");
	CHECK(sa.persistent && !sa.firewalled && sa.has_public);
	CHECK_UINT(sa.public_addr.port, pa);
	CHECK_UINT(sa.server.port, pa);
	CHECK_UINT(sb.public_addr.port, pb);
	CHECK_UINT(sb.public_addr.ip[0], 127);
	CHECK(sb.client_port != 0 && sb.client_port != pb);
	CHECK_UINT(sb.nbootstrap, 1);
	node_state_line(net.b, line, sizeof(line));
	CHECK(strncmp(line, "bootstrapped, ", 14) == 0);
	CHECK(strstr(line, "persistent") != NULL);

	/* the seam: what conn_node_new() would be given */
	node_conn_config(net.b, &cc);
	CHECK(cc.io == node_io(net.b));
	CHECK(cc.udx == node_udx(net.b));
	CHECK(cc.dht == node_dht(net.b));
	CHECK_INT(cc.sock, node_server_sock(net.b));
	CHECK(cc.sock != node_client_sock(net.b));
	if (CHECK(cc.sock_open != NULL && cc.sock_close != NULL)) {
		s = cc.sock_open(cc.sock_arg);
		CHECK(s >= 0 && s != cc.sock && s != node_client_sock(net.b));
		if (s >= 0)
			cc.sock_close(cc.sock_arg, s);
	}

	/* a network change: the address is forgotten, then re-learned */
	node_addresses_changed(net.b, NULL, 0);
	node_get_status(net.b, &sb);
	CHECK(!sb.has_public);
	CHECK(run_until(has_public, net.b, 20));
	node_get_status(net.b, &sb);
	CHECK_UINT(sb.public_addr.port, pb);
	CHECK(sb.bootstrapped && sb.table_size >= 1);
out:
	node_free(net.b);
	node_free(net.a);
	ev_loop_destroy(loop);
}

static bool
bootstrapped(void *arg)
{
	struct node_status st;

	node_get_status(arg, &st);
	return st.bootstrapped && st.table_size >= 1;
}

static void
node_ephemeral_stays_ephemeral(void)
{
	struct node *a = NULL, *b = NULL;
	struct node_status st;
	uint16_t pa = 1, pb = 0;
	char boot[32];

	loop = ev_loop_new(EVFLAG_AUTO);
	if ((a = node_at("persistent", "127.0.0.1", "", &pa)) == NULL)
		goto out;
	snprintf(boot, sizeof(boot), "127.0.0.1:%u", pa);
	if ((b = node_at("ephemeral", "127.0.0.1", boot, &pb)) == NULL)
		goto out;
	CHECK(run_until(bootstrapped, b, 20));
	node_get_status(b, &st);
	CHECK_STR(st.mode, "ephemeral");
	CHECK(!st.persistent);
	CHECK(st.server.port != 0);	/* port 0: a free one, reported */
out:
	node_free(b);
	node_free(a);
	ev_loop_destroy(loop);
}

int
main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(node_bootstrap_node_needs_host),
		TEST(node_two_nodes_form_network),
		TEST(node_ephemeral_stays_ephemeral),
	};

	log_init("test_node", LOG_LVL_WARNING);
	srand((unsigned)getpid());
	return harness_main("node", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
