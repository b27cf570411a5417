/*
 * test_dht_udp.c - C DHT nodes on real UDP sockets on 127.0.0.1
 *
 * A small private poll loop implements struct hn_io on the host clock and
 * real sockets (until the daemon's libev adapter exists).
 *
 * Run without arguments it is a unit suite: a C bootstrapper and five C
 * nodes on loopback bootstrap, turn persistent, and serve an announce, a
 * lookup, a listening server and immutable/mutable storage to each other.
 *
 * Run as `test_dht_udp tool [options]` it is the C side of the interop
 * tests (tests/interop/dht/): it runs one or more nodes and takes line
 * commands on stdin, answering on stdout (see tool_usage()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sodium.h>

#include "harness.h"
#include "hex.h"
#include "keys.h"
#include "timerq.h"
#include "daemon/dht/dht.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_NODES	16
#define MAX_SOCKS	(2 * MAX_NODES)

/* ------------------------------------------------------------ the loop */

struct unode;

struct uio {
	struct timerq	 q;
	int		 fds[MAX_SOCKS];
	struct unode	*owner[MAX_SOCKS];
	int		 nfds;
	bool		 stdin_open;
	void		(*on_line)(char *line);
};

static struct uio U;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
u_now_ms(void *ctx)
{
	return mono_ms();
}

static uint64_t
u_now_us(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
u_send(void *ctx, int sock, const struct hn_addr *to, const uint8_t *buf,
    size_t len)
{
	struct sockaddr_in sin;

	if (sock < 0 || sock >= U.nfds)
		return -EBADF;
	addr_to_sockaddr(to, &sin);
	if (sendto(U.fds[sock], buf, len, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0)
		return -errno;
	return 0;
}

static void
u_arm(void *ctx, struct hn_timer *t, uint64_t due)
{
	(void)timerq_arm(&U.q, t, due);
}

static void
u_cancel(void *ctx, struct hn_timer *t)
{
	timerq_cancel(&U.q, t);
}

static void
u_random(void *ctx, void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static const struct hn_io_ops uops = {
	u_now_ms, u_now_us, u_send, u_arm, u_cancel, u_random
};
static struct hn_io uio_io = { &uops, NULL };

static uint64_t
wall_ms(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct unode {
	struct dht	*d;
	int		 ssock, csock;
	struct hn_addr	 addr;
	bool		 ready;
	int		 idx;
};

static struct unode nodes[MAX_NODES];
static int nnodes;

/* Bind a UDP socket on 127.0.0.1:port (0: any); returns its index. */
static int
u_bind(uint16_t port, struct unode *owner, struct hn_addr *out)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	if (U.nfds >= MAX_SOCKS)
		return -ENOMEM;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		close(fd);
		return -errno;
	}
	if (out)
		addr_from_sockaddr(out, &sin);
	U.fds[U.nfds] = fd;
	U.owner[U.nfds] = owner;
	return U.nfds++;
}

/* Read what stdin has and hand over every complete line (no stdio buffer). */
static void
read_stdin(void)
{
	static char buf[8192];
	static size_t len;
	ssize_t n;
	char *nl;

	n = read(0, buf + len, sizeof(buf) - 1 - len);
	if (n <= 0) {
		U.stdin_open = false;
		return;
	}
	len += (size_t)n;
	buf[len] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		size_t l = (size_t)(nl - buf) + 1;

		*nl = '\0';
		if (U.on_line)
			U.on_line(buf);
		memmove(buf, buf + l, len - l + 1);
		len -= l;
	}
	if (len == sizeof(buf) - 1)
		len = 0;	/* an overlong line: drop it */
}

/* Run the loop for up to `ms` or until done(arg). */
static bool
u_run(uint64_t ms, bool (*done)(void *), void *arg)
{
	uint64_t end = mono_ms() + ms;
	struct pollfd pfd[MAX_SOCKS + 1];
	uint8_t buf[4096];
	int i, n, np, timeout;

	for (;;) {
		struct hn_timer *t;
		uint64_t now = mono_ms();

		timerq_run(&U.q, now);
		if (done && done(arg))
			return true;
		if (now >= end)
			return done ? done(arg) : true;
		timeout = (int)(end - now);
		if ((t = timerq_peek(&U.q)) != NULL)
			timeout = t->due <= now ? 0 : (int)(t->due - now) <
			    timeout ? (int)(t->due - now) : timeout;
		for (i = 0; i < U.nfds; i++) {
			pfd[i].fd = U.fds[i];
			pfd[i].events = POLLIN;
		}
		np = U.nfds;
		if (U.stdin_open) {
			pfd[np].fd = 0;
			pfd[np++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)np, timeout) <= 0)
			continue;
		for (i = 0; i < U.nfds; i++) {
			struct sockaddr_in sin;
			socklen_t sl;
			struct hn_addr from;

			if (!(pfd[i].revents & POLLIN))
				continue;
			for (;;) {
				sl = sizeof(sin);
				n = (int)recvfrom(U.fds[i], buf, sizeof(buf), 0,
				    (struct sockaddr *)&sin, &sl);
				if (n < 0)
					break;
				addr_from_sockaddr(&from, &sin);
				if (U.owner[i] && U.owner[i]->d)
					dht_input(U.owner[i]->d, i, &from, buf,
					    (size_t)n);
			}
		}
		if (U.stdin_open && (pfd[U.nfds].revents & (POLLIN | POLLHUP)))
			read_stdin();
	}
}

static void
on_ready(struct dht *d, void *arg)
{
	((struct unode *)arg)->ready = true;
}

/* Start a node: a bootstrapper on `port`, or a persistent / ephemeral one. */
static int
node_start(uint16_t port, bool bootstrapper, bool persistent,
    const struct hn_addr *boot, size_t nboot)
{
	struct unode *nd = &nodes[nnodes];
	struct dht_config cfg;
	size_t i;

	if (nnodes >= MAX_NODES)
		return -ENOMEM;
	memset(nd, 0, sizeof(*nd));
	nd->idx = nnodes;
	if ((nd->ssock = u_bind(port, nd, &nd->addr)) < 0)
		return nd->ssock;
	if ((nd->csock = u_bind(0, nd, NULL)) < 0)
		return nd->csock;
	memset(&cfg, 0, sizeof(cfg));
	cfg.server_sock = nd->ssock;
	cfg.client_sock = nd->csock;
	cfg.server_port = nd->addr.port;
	cfg.bootstrapper = bootstrapper;
	cfg.public_addr = nd->addr;
	cfg.persistent = persistent;
	cfg.no_adaptive = !persistent && !bootstrapper;
	for (i = 0; i < nboot && i < DHT_BOOTSTRAP_MAX; i++)
		cfg.bootstrap[i] = boot[i];
	cfg.nbootstrap = i;
	cfg.wall_ms = wall_ms;
	cfg.on_ready = on_ready;
	cfg.arg = nd;
	if ((nd->d = dht_new(&uio_io, &cfg)) == NULL)
		return -ENOMEM;
	return nnodes++;
}

static bool
all_ready(void *arg)
{
	int i;

	for (i = 0; i < nnodes; i++)
		if (!nodes[i].ready)
			return false;
	return true;
}

static void
nodes_free(void)
{
	int i;

	for (i = 0; i < nnodes; i++) {
		dht_free(nodes[i].d);
		nodes[i].d = NULL;
	}
	for (i = 0; i < U.nfds; i++)
		close(U.fds[i]);
	U.nfds = 0;
	nnodes = 0;
}

/* ------------------------------------------------------------ unit suite */

struct res {
	int	 done;
	int	 err;
	int	 hits;
	uint8_t	 pk[32];
	uint8_t	 val[256];
	size_t	 len;
	uint64_t seq;
};

static void
res_done(void *arg, int err)
{
	struct res *r = arg;

	r->done++;
	r->err = err;
}

static void
res_peer(void *arg, const struct dht_reply *rep, const struct cenc_peer *p,
    size_t n)
{
	struct res *r = arg;
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(p[i].publicKey, r->pk, 32) == 0)
			r->hits++;
}

static void
res_value(void *arg, int err, const uint8_t *v, size_t len, uint64_t seq)
{
	struct res *r = arg;

	r->done++;
	r->err = err;
	r->seq = seq;
	r->len = len < sizeof(r->val) ? len : 0;
	if (v)
		memcpy(r->val, v, r->len);
}

static bool
res_is_done(void *arg)
{
	return ((struct res *)arg)->done > 0;
}

static void
loopback_network(void)
{
	struct hn_addr boot;
	struct keypair kp, derived;
	struct dht_announcer *a;
	struct res r;
	uint8_t topic[32], hash[32], seed[32];
	int i;

	if (node_start(0, true, false, NULL, 0) < 0) {
		harness_skip("cannot bind UDP on 127.0.0.1");
		return;
	}
	boot = nodes[0].addr;
	for (i = 0; i < 5; i++)
		CHECK(node_start(0, false, true, &boot, 1) > 0);
	CHECK(u_run(10000, all_ready, NULL));
	for (i = 0; i < nnodes; i++) {
		CHECK(dht_is_persistent(nodes[i].d));
		CHECK(dht_get_table(nodes[i].d)->size >= 4);
	}

	/* topic announce from node 1, lookup from node 4 */
	memset(seed, 3, sizeof(seed));
	keys_from_seed(&kp, seed);
	keys_hash(topic, "udp topic", 9);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dht_announce_topic(nodes[1].d, topic, &kp, NULL, 0, res_done,
	    &r), 0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK_INT(r.err, 0);
	memset(&r, 0, sizeof(r));
	memcpy(r.pk, kp.pk, 32);
	CHECK_INT(dht_lookup(nodes[4].d, topic, res_peer, res_done, &r), 0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK(r.hits >= 4);

	/* a keypear-derived key listens; findPeer sees it */
	CHECK_INT(keys_derive(&derived, &kp, "tcp8080", 7), 0);
	a = dht_listen(nodes[2].d, &derived, NULL);
	CHECK(a != NULL);
	u_run(1500, NULL, NULL);
	CHECK_UINT(dht_announcer_relays(a, NULL, NULL, 3), 3);
	memset(&r, 0, sizeof(r));
	memcpy(r.pk, derived.pk, 32);
	CHECK_INT(dht_find_peer(nodes[5].d, derived.pk, res_peer, res_done, &r),
	    0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK(r.hits >= 3);
	dht_unlisten(a);
	u_run(1500, NULL, NULL);
	memset(&r, 0, sizeof(r));
	memcpy(r.pk, derived.pk, 32);
	CHECK_INT(dht_find_peer(nodes[5].d, derived.pk, res_peer, res_done, &r),
	    0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK_INT(r.hits, 0);

	/* immutable put on node 3, get from node 0 */
	memset(&r, 0, sizeof(r));
	CHECK_INT(dht_immutable_put(nodes[3].d, (const uint8_t *)"udp value", 9,
	    hash, res_done, &r), 0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK_INT(r.err, 0);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dht_immutable_get(nodes[0].d, hash, res_value, &r), 0);
	CHECK(u_run(5000, res_is_done, &r));
	CHECK(r.err == 0 && r.len == 9 && memcmp(r.val, "udp value", 9) == 0);
	nodes_free();
}

static const struct test tests[] = {
	TEST(loopback_network),
};

/* ------------------------------------------------------------ tool mode */

static void
out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static bool
unhex_exact(const char *h, uint8_t *out_, size_t n)
{
	return h && strlen(h) == 2 * n && hex_decode(out_, n, h) == (int)n;
}

struct tool_op {
	char	 name[16];
	uint8_t	 pk[32];
};

static void
tool_done(void *arg, int err)
{
	struct tool_op *op = arg;

	out("done %s %d", op->name, err);
	free(op);
}

static void
tool_peer(void *arg, const struct dht_reply *rep, const struct cenc_peer *p,
    size_t n)
{
	struct tool_op *op = arg;
	char from[HN_ADDR_STRLEN], pk[65];
	size_t i;

	addr_format(&rep->from, from);
	for (i = 0; i < n; i++) {
		hex_encode(pk, p[i].publicKey, 32);
		out("peer %s %s %s", op->name, pk, from);
	}
}

static void
tool_value(void *arg, int err, const uint8_t *v, size_t len, uint64_t seq)
{
	struct tool_op *op = arg;
	char *hx = malloc(2 * len + 1);

	if (hx)
		hex_encode(hx, v, len);
	out("value %s %d %s %" PRIu64, op->name, err, err == 0 && hx ? hx : "-",
	    seq);
	free(hx);
	free(op);
}

static struct tool_op *
op_new(const char *name)
{
	struct tool_op *op = calloc(1, sizeof(*op));

	snprintf(op->name, sizeof(op->name), "%s", name);
	return op;
}

/* A key pair from a seed, optionally derived with keypear (name). */
static bool
tool_keypair(struct keypair *kp, const char *seedhex, const char *name)
{
	uint8_t seed[32];
	struct keypair base;

	if (!unhex_exact(seedhex, seed, 32) || keys_from_seed(&base, seed) != 0)
		return false;
	if (name == NULL) {
		*kp = base;
		return true;
	}
	return keys_derive(kp, &base, name, strlen(name)) == 0;
}

static struct dht_announcer *listeners[8];

static void
tool_line(char *line)
{
	char *argv[8], *save, *tok;
	int argc = 0, ni = 0;
	struct dht *d;
	uint8_t k[32];
	struct keypair kp;
	char pkhex[65];

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 8;
	    tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (argv[0][0] == '@') {
		ni = atoi(argv[0] + 1);
		memmove(argv, argv + 1, (size_t)--argc * sizeof(argv[0]));
		if (argc == 0 || ni < 0 || ni >= nnodes) {
			out("error bad node");
			return;
		}
	}
	d = nodes[ni].d;
	if (strcmp(argv[0], "info") == 0) {
		struct hn_addr pub = { { 0 }, 0 };
		char a[HN_ADDR_STRLEN], p[HN_ADDR_STRLEN];

		(void)dht_public_addr(d, &pub);
		out("info %d %s persistent=%d firewalled=%d table=%zu public=%s",
		    ni, addr_format(&nodes[ni].addr, a), dht_is_persistent(d),
		    dht_is_firewalled(d), dht_get_table(d)->size,
		    addr_format(&pub, p));
	} else if (strcmp(argv[0], "table") == 0) {
		const struct dht_table *t = dht_get_table(d);
		struct dht_node *n;
		char a[HN_ADDR_STRLEN];

		for (n = t->oldest; n; n = n->next)
			out("node %s", addr_format(&n->addr, a));
		out("end table");
	} else if (strcmp(argv[0], "lookup") == 0 && argc == 2 &&
	    unhex_exact(argv[1], k, 32)) {
		(void)dht_lookup(d, k, tool_peer, tool_done, op_new("lookup"));
	} else if (strcmp(argv[0], "findpeer") == 0 && argc == 2 &&
	    unhex_exact(argv[1], k, 32)) {
		(void)dht_find_peer(d, k, tool_peer, tool_done,
		    op_new("findpeer"));
	} else if (strcmp(argv[0], "announce") == 0 && argc == 3 &&
	    unhex_exact(argv[1], k, 32) && tool_keypair(&kp, argv[2], NULL)) {
		(void)dht_announce_topic(d, k, &kp, NULL, 0, tool_done,
		    op_new("announce"));
	} else if (strcmp(argv[0], "unannounce") == 0 && argc == 3 &&
	    unhex_exact(argv[1], k, 32) && tool_keypair(&kp, argv[2], NULL)) {
		(void)dht_unannounce_topic(d, k, &kp, tool_done,
		    op_new("unannounce"));
	} else if (strcmp(argv[0], "listen") == 0 && argc >= 2 &&
	    tool_keypair(&kp, argv[1], argc > 2 ? argv[2] : NULL)) {
		size_t i;

		for (i = 0; i < NELEM(listeners) && listeners[i]; i++)
			;
		if (i == NELEM(listeners) ||
		    (listeners[i] = dht_listen(d, &kp, NULL)) == NULL) {
			out("error listen");
			return;
		}
		hex_encode(pkhex, kp.pk, 32);
		out("listening %zu %s", i, pkhex);
	} else if (strcmp(argv[0], "relays") == 0 && argc == 2) {
		struct hn_addr r[3];
		size_t i = (size_t)atoi(argv[1]), n;

		n = i < NELEM(listeners) && listeners[i] ?
		    dht_announcer_relays(listeners[i], r, NULL, 3) : 0;
		out("relays %zu %zu", i, n);
	} else if (strcmp(argv[0], "unlisten") == 0 && argc == 2) {
		size_t i = (size_t)atoi(argv[1]);

		if (i < NELEM(listeners) && listeners[i]) {
			dht_unlisten(listeners[i]);
			listeners[i] = NULL;
		}
		out("unlistened %zu", i);
	} else if (strcmp(argv[0], "iput") == 0 && argc == 2) {
		size_t len = strlen(argv[1]) / 2;
		uint8_t *v = malloc(len + 1), h[32];
		char hh[65];

		if (v && len > 0 && hex_decode(v, len, argv[1]) == (int)len &&
		    dht_immutable_put(d, v, len, h, tool_done, op_new("iput"))
		    == 0) {
			hex_encode(hh, h, 32);
			out("ihash %s", hh);
		} else {
			out("error iput");
		}
		free(v);
	} else if (strcmp(argv[0], "iget") == 0 && argc == 2 &&
	    unhex_exact(argv[1], k, 32)) {
		(void)dht_immutable_get(d, k, tool_value, op_new("iget"));
	} else if (strcmp(argv[0], "mput") == 0 && argc == 4 &&
	    tool_keypair(&kp, argv[1], NULL)) {
		size_t len = strlen(argv[3]) / 2;
		uint8_t *v = malloc(len + 1);

		if (v && len > 0 && hex_decode(v, len, argv[3]) == (int)len)
			(void)dht_mutable_put(d, &kp, v, len,
			    strtoull(argv[2], NULL, 10), tool_done,
			    op_new("mput"));
		else
			out("error mput");
		free(v);
	} else if (strcmp(argv[0], "mget") == 0 && argc == 3 &&
	    unhex_exact(argv[1], k, 32)) {
		(void)dht_mutable_get(d, k, strtoull(argv[2], NULL, 10),
		    tool_value, op_new("mget"));
	} else if (strcmp(argv[0], "quit") == 0) {
		U.stdin_open = false;
	} else {
		out("error unknown command");
	}
}

static int
tool_main(int argc, char **argv)
{
	struct hn_addr boot[DHT_BOOTSTRAP_MAX];
	size_t nboot = 0;
	int i, extra = 0, port = 0;
	bool bootstrapper = false, ephemeral = false;
	char a[HN_ADDR_STRLEN];

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--bootstrapper") == 0) {
			bootstrapper = true;
		} else if (strcmp(argv[i], "--ephemeral") == 0) {
			ephemeral = true;
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
			extra = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc &&
		    nboot < DHT_BOOTSTRAP_MAX) {
			if (addr_parse_bootstrap(argv[++i], &boot[nboot]) != 0) {
				fprintf(stderr, "bad bootstrap %s\n", argv[i]);
				return 2;
			}
			nboot++;
		} else {
			fprintf(stderr, "usage: %s tool [--bootstrapper] "
			    "[--port P] [--nodes N] [--ephemeral] "
			    "[--bootstrap IP:PORT]...\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	timerq_init(&U.q);
	if (bootstrapper) {
		if (node_start((uint16_t)port, true, false, NULL, 0) < 0)
			return 1;
		boot[nboot++] = nodes[0].addr;
	} else if (node_start((uint16_t)port, false, !ephemeral, boot,
	    nboot) < 0) {
		return 1;
	}
	for (i = 0; i < extra; i++)
		if (node_start(0, false, !ephemeral, boot, nboot) < 0)
			return 1;
	u_run(15000, all_ready, NULL);
	for (i = 0; i < nnodes; i++)
		out("node %d %s persistent=%d table=%zu", i,
		    addr_format(&nodes[i].addr, a), dht_is_persistent(nodes[i].d),
		    dht_get_table(nodes[i].d)->size);
	out("up %d", all_ready(NULL));
	U.stdin_open = true;
	U.on_line = tool_line;
	while (U.stdin_open)
		u_run(1000, NULL, NULL);
	nodes_free();
	timerq_free(&U.q);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	if (keys_init() != 0)
		return 2;
	if (argc > 1 && strcmp(argv[1], "tool") == 0)
		return tool_main(argc, argv);
	timerq_init(&U.q);
	rc = harness_main("test_dht_udp", tests, NELEM(tests), argc, argv);
	timerq_free(&U.q);
	return rc;
}
