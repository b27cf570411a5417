/*
 * test_conn_tool.c - the capability extension codec (unit tests), and,
 * run as `test_conn_tool tool --bootstrap IP:PORT`, the C peer of the
 * connect interop suite (tests/interop/connect/): one hypernatd-shaped
 * node (one UDP socket on 127.0.0.1 carrying DHT and UDX, daemon/evio.c
 * on libev) driven by commands on stdin, events on stdout:
 *
 *   listen SEEDHEX [reject]  -> listening PKHEX
 *   connect PKHEX [SEEDHEX [nolan|lan [RELAYPKHEX]]]
 *                            -> open PATH REMOTEPK CAPS ADDR | close ERR
 *   write N                  send N random bytes then end -> sent N SHA256
 *   raw HEX | secure HEX     one datagram
 *   relay SEEDHEX            serve as a blind relay -> relaying PKHEX
 *   destroy | unlisten | quit
 * events: accept REMOTEPK, open ..., dgram raw|secure HEX,
 *         recv N SHA256 (at the peer's end), close ERR
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "harness.h"
#include "hex.h"
#include "keys.h"
#include "daemon/connect/conn.h"
#include "daemon/connect/conn_ext.h"
#include "daemon/dht/dht.h"
#include "daemon/evio.h"
#include "daemon/udx/udx.h"

/* ------------------------------------------------------------ unit tests */

static void
ext_roundtrip(void)
{
	struct noise_payload p, q;
	uint8_t buf[1024], plain[1024];
	size_t len, plen;
	uint32_t caps;

	memset(&p, 0, sizeof(p));
	p.firewall = NOISE_FIREWALL_UNKNOWN;
	p.naddr4 = 1;
	addr_parse("192.168.1.5:4000", &p.addr4[0]);
	p.has_udx = true;
	p.udx_id = 0x12345678;
	p.has_secret_stream = true;
	CHECK_INT(conn_ext_encode(&p, CONN_CAP_SECURE_DGRAM, buf, sizeof(buf),
	    &len), 0);
	CHECK_INT(noise_payload_encode(&p, plain, sizeof(plain), &plen), 0);
	/* the standard fields are untouched, the extension follows them */
	CHECK_UINT(len, plen + 4);
	CHECK_MEM(buf, plain, plen);
	CHECK_HEX(buf + plen, 4, "686e0101");
	CHECK_INT(conn_ext_decode(&q, &caps, buf, len), 0);
	CHECK_UINT(caps, CONN_CAP_SECURE_DGRAM);
	CHECK_UINT(q.udx_id, 0x12345678);
	/* a plain (JS) payload has no capabilities */
	CHECK_INT(conn_ext_decode(&q, &caps, plain, plen), 0);
	CHECK_UINT(caps, 0);
	/* wrong magic, truncated extension: none either */
	buf[plen] = 0x00;
	CHECK_INT(conn_ext_decode(&q, &caps, buf, len), 0);
	CHECK_UINT(caps, 0);
	buf[plen] = 0x68;
	CHECK_INT(conn_ext_decode(&q, &caps, buf, len - 1), 0);
	CHECK_UINT(caps, 0);
	/* a later version with more fields still gives caps */
	buf[plen + 2] = 2;
	buf[len] = 0x05;
	CHECK_INT(conn_ext_decode(&q, &caps, buf, len + 1), 0);
	CHECK_UINT(caps, CONN_CAP_SECURE_DGRAM);
	/* garbage payload: error */
	CHECK_INT(conn_ext_decode(&q, &caps, (const uint8_t *)"\x01\x00", 2),
	    -EBADMSG);
}

static const struct test tests[] = {
	TEST(ext_roundtrip),
};

/* ------------------------------------------------------------ tool mode */

static struct {
	struct ev_loop		*loop;
	struct evio		*e;
	struct udx		*udx;
	struct dht		*d;
	struct conn_node	*cn;
	int			 sock;
	struct hn_addr		 addr;
	bool			 ready;
	struct conn_server	*srv;
	bool			 reject;
	struct conn		*c;
	crypto_hash_sha256_state rx, tx;
	uint64_t		 rx_n, tx_n, tx_total;
	bool			 tx_end;
	ev_io			 in;
	char			 line[70000];
	size_t			 llen;
	uint8_t		 host[4];	/* where the tool binds */
} T;

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

static void
hexout(char *dst, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(dst + 2 * i, "%02x", b[i]);
	dst[2 * n] = 0;
}

static void
tool_feed(struct conn *c)
{
	uint8_t buf[65536], h[32];
	char hx[65];
	size_t n;

	while (T.tx_n < T.tx_total && conn_writable(c)) {
		n = sizeof(buf);
		if (T.tx_total - T.tx_n < n)
			n = (size_t)(T.tx_total - T.tx_n);
		randombytes_buf(buf, n);
		if (conn_write(c, buf, n) != 0)
			return;
		crypto_hash_sha256_update(&T.tx, buf, n);
		T.tx_n += n;
	}
	if (T.tx_total > 0 && T.tx_n == T.tx_total && !T.tx_end) {
		T.tx_end = true;
		conn_end(c);
		crypto_hash_sha256_final(&T.tx, h);
		hexout(hx, h, 32);
		out("sent %llu %s", (unsigned long long)T.tx_n, hx);
	}
}

static void
t_open(struct conn *c, void *arg)
{
	char pk[65], a[HN_ADDR_STRLEN];
	struct hn_addr ra;

	T.c = c;
	hexout(pk, conn_remote_key(c), 32);
	conn_remote_addr(c, &ra);
	out("open %s %s %u %s", conn_path_name(conn_path(c)), pk,
	    conn_remote_caps(c), addr_format(&ra, a));
}

static void
t_data(struct conn *c, const uint8_t *buf, size_t len, void *arg)
{
	crypto_hash_sha256_update(&T.rx, buf, len);
	T.rx_n += len;
}

static void
t_end(struct conn *c, void *arg)
{
	uint8_t h[32];
	char hx[65];

	crypto_hash_sha256_final(&T.rx, h);
	hexout(hx, h, 32);
	out("recv %llu %s", (unsigned long long)T.rx_n, hx);
}

static void
t_dgram(struct conn *c, const uint8_t *buf, size_t len, bool secure,
    void *arg)
{
	char hx[4200];

	if (len > 2048)
		len = 2048;
	hexout(hx, buf, len);
	out("dgram %s %s", secure ? "secure" : "raw", len ? hx : "-");
}

static void
t_drain(struct conn *c, void *arg)
{
	tool_feed(c);
}

static void
t_close(struct conn *c, int err, void *arg)
{
	out("close %d", err);
	if (T.c == c)
		T.c = NULL;
}

static const struct conn_ops t_ops = {
	.on_open = t_open,
	.on_data = t_data,
	.on_end = t_end,
	.on_datagram = t_dgram,
	.on_drain = t_drain,
	.on_close = t_close,
};

static int
t_firewall(void *arg, const uint8_t pk[32], const struct hn_addr *a)
{
	return T.reject ? 1 : 0;
}

static void
t_accept(struct conn_server *s, struct conn *c, void *arg)
{
	char pk[65];

	hexout(pk, conn_remote_key(c), 32);
	out("accept %s", pk);
	T.c = c;
	crypto_hash_sha256_init(&T.rx);
	T.rx_n = 0;
	conn_set_ops(c, &t_ops, NULL);
}

static bool
tool_kp(struct keypair *kp, const char *seedhex)
{
	uint8_t seed[32];

	if (seedhex == NULL || strlen(seedhex) != 64 ||
	    hex_decode(seed, 32, seedhex) != 32)
		return false;
	return keys_from_seed(kp, seed) == 0;
}

static void
tool_line(char *line)
{
	char *argv[6], *save, *tok, pk[65];
	static uint8_t relay[1][32];
	int argc = 0;
	struct keypair kp;
	struct conn_connect_opts o;
	uint8_t buf[2100];
	int n;

	for (tok = strtok_r(line, " \t", &save); tok && argc < 6;
	    tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "listen") == 0 && argc >= 2 && tool_kp(&kp,
	    argv[1])) {
		T.reject = argc > 2 && strcmp(argv[2], "reject") == 0;
		T.srv = conn_listen(T.cn, &kp, t_firewall, t_accept, NULL);
		hexout(pk, kp.pk, 32);
		out(T.srv ? "listening %s" : "error listen %s", pk);
	} else if (strcmp(argv[0], "relay") == 0 && argc == 2 && tool_kp(&kp,
	    argv[1])) {
		n = conn_node_serve_relay(T.cn, &kp);
		hexout(pk, kp.pk, 32);
		out(n == 0 ? "relaying %s" : "error relay %s", pk);
	} else if (strcmp(argv[0], "unlisten") == 0) {
		conn_server_close(T.srv);
		T.srv = NULL;
		out("unlistened");
	} else if (strcmp(argv[0], "connect") == 0 && argc >= 2 &&
	    strlen(argv[1]) == 64) {
		memset(&o, 0, sizeof(o));
		hex_decode(o.remote_pk, 32, argv[1]);
		if (argc > 2 && tool_kp(&kp, argv[2]))
			o.kp = &kp;
		o.no_local_connection = argc > 3 && strcmp(argv[3], "nolan") == 0;
		if (argc > 4 && strlen(argv[4]) == 64 &&
		    hex_decode(relay[0], 32, argv[4]) == 32) {
			o.relay_through = (const uint8_t (*)[32])relay;
			o.nrelay_through = 1;
		}
		crypto_hash_sha256_init(&T.rx);
		T.rx_n = 0;
		T.c = conn_connect(T.cn, &o, &t_ops, NULL);
		out(T.c ? "connecting" : "error connect");
	} else if (strcmp(argv[0], "write") == 0 && argc == 2 && T.c) {
		crypto_hash_sha256_init(&T.tx);
		T.tx_n = 0;
		T.tx_end = false;
		T.tx_total = strtoull(argv[1], NULL, 10);
		tool_feed(T.c);
	} else if ((strcmp(argv[0], "raw") == 0 ||
	    strcmp(argv[0], "secure") == 0) && argc == 2 && T.c) {
		n = hex_decode(buf, sizeof(buf), argv[1]);
		if (n < 0)
			n = 0;
		n = argv[0][0] == 'r' ? conn_send_raw(T.c, buf, (size_t)n) :
		    conn_send_secure(T.c, buf, (size_t)n);
		out("sent-dgram %d", n);
	} else if (strcmp(argv[0], "destroy") == 0 && T.c) {
		conn_destroy(T.c);
	} else if (strcmp(argv[0], "quit") == 0) {
		ev_break(T.loop, EVBREAK_ALL);
	} else {
		out("error unknown command %s", argv[0]);
	}
}

static void
on_stdin(struct ev_loop *l, ev_io *w, int revents)
{
	char *nl;
	ssize_t r;

	r = read(0, T.line + T.llen, sizeof(T.line) - 1 - T.llen);
	if (r <= 0) {
		ev_break(l, EVBREAK_ALL);
		return;
	}
	T.llen += (size_t)r;
	T.line[T.llen] = 0;
	while ((nl = strchr(T.line, '\n')) != NULL) {
		*nl = 0;
		tool_line(T.line);
		memmove(T.line, nl + 1, T.llen - (size_t)(nl + 1 - T.line) + 1);
		T.llen = strlen(T.line);
	}
	if (T.llen == sizeof(T.line) - 1)
		T.llen = 0;
}

static void
on_recv(void *arg, int sock, const struct hn_addr *from, const uint8_t *buf,
    size_t len)
{
	udx_socket_input(T.udx, sock, from, buf, len);
}

/* Puncher sockets: more UDP sockets on the tool's host feeding the same udx. */
static int
tool_sock_open(void *arg)
{
	struct hn_addr at = { .port = 0 };

	memcpy(at.ip, T.host, 4);
	return evio_udp_bind(T.e, &at, on_recv, NULL);
}

static void
tool_sock_close(void *arg, int sock)
{
	evio_udp_close(T.e, sock);
}

static void
on_batch(void *arg)
{
	udx_flush(T.udx);
}

static void
on_ready(struct dht *d, void *arg)
{
	T.ready = true;
	out("up 1");
}

static int
tool_main(int argc, char **argv)
{
	struct dht_config cfg;
	struct conn_node_config cc;
	struct hn_addr lo;
	char a[HN_ADDR_STRLEN];
	int i;

	memset(&cfg, 0, sizeof(cfg));
	addr_parse_ip("127.0.0.1", T.host);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc &&
		    cfg.nbootstrap < DHT_BOOTSTRAP_MAX) {
			if (addr_parse_bootstrap(argv[++i],
			    &cfg.bootstrap[cfg.nbootstrap++]) != 0)
				return 2;
		} else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			/* the address to bind (a NAT-lab host's own) */
			if (addr_parse_ip(argv[++i], T.host) != 0)
				return 2;
		} else {
			fprintf(stderr, "usage: %s tool --bootstrap IP:PORT "
			    "[--host IP]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	T.loop = ev_default_loop(0);
	T.e = evio_new(T.loop);
	T.udx = udx_new(evio_io(T.e));
	evio_set_batch_cb(T.e, on_batch, NULL);
	memcpy(lo.ip, T.host, 4);
	lo.port = 0;
	if ((T.sock = evio_udp_bind(T.e, &lo, on_recv, NULL)) < 0 ||
	    evio_udp_local(T.e, T.sock, &T.addr) != 0)
		return 1;
	cfg.server_sock = cfg.client_sock = T.sock;
	cfg.server_port = T.addr.port;
	cfg.no_adaptive = true;
	cfg.on_ready = on_ready;
	T.d = dht_new(evio_io(T.e), &cfg);
	memset(&cc, 0, sizeof(cc));
	cc.io = evio_io(T.e);
	cc.udx = T.udx;
	cc.dht = T.d;
	cc.sock = T.sock;
	cc.local_addrs[0] = T.addr;
	cc.nlocal_addrs = 1;
	cc.caps = CONN_CAP_SECURE_DGRAM;
	cc.serve_relay = true;
	if (getenv("CONN_TOOL_NO_PUNCH") == NULL) {
		cc.sock_open = tool_sock_open;
		cc.sock_close = tool_sock_close;
	}
	T.cn = conn_node_new(&cc);
	if (T.d == NULL || T.cn == NULL)
		return 1;
	out("node %s", addr_format(&T.addr, a));
	ev_io_init(&T.in, on_stdin, 0, EV_READ);
	ev_io_start(T.loop, &T.in);
	ev_run(T.loop, 0);
	conn_node_free(T.cn);
	dht_free(T.d);
	udx_free(T.udx);
	evio_free(T.e);
	return 0;
}

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	if (argc > 1 && strcmp(argv[1], "tool") == 0)
		return tool_main(argc, argv);
	return harness_main("test_conn_tool", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
