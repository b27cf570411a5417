/*
 * cmd.c - hypernatctl's subcommands: words in, one request, output out
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "addr.h"
#include "hctl.h"
#include "log.h"

static const char *const proto_names[] = { "?", "tcp", "udp", "tcpudp" };

/* ------------------------------------------------------------ decoding */

static void
key_b58(char *out, const uint8_t *k)
{
	if (k == NULL || base58_encode(out, HCTL_KEY_LEN, k, 32) < 0)
		out[0] = '\0';
}

bool
hctl_tunnel_decode(const struct ctl_attrs *a, struct tunnel_info *t)
{
	const uint8_t *p;
	uint8_t proto = ctl_attr_u8(a, HNCTL_A_PROTO, 0);
	uint8_t kind = ctl_attr_u8(a, HNCTL_A_KIND, 0);
	struct hn_addr l;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (kind != HNCTL_KIND_EXPORT && kind != HNCTL_KIND_IMPORT)
		return false;
	t->kind = kind == HNCTL_KIND_EXPORT ? "export" : "import";
	t->proto = proto_names[proto <= 3 ? proto : 0];
	t->port = ctl_attr_u16(a, HNCTL_A_PORT, 0);
	if ((p = ctl_attr_bin(a, HNCTL_A_HOST)) != NULL)
		addr_format_ip(p, t->host);
	if ((p = ctl_attr_bin(a, HNCTL_A_LISTEN_IP)) != NULL) {
		memcpy(l.ip, p, 4);
		l.port = ctl_attr_u16(a, HNCTL_A_LISTEN_PORT, 0);
		addr_format(&l, t->listen);
	}
	key_b58(t->peer, ctl_attr_bin(a, HNCTL_A_PEER));
	key_b58(t->service_key, ctl_attr_bin(a, HNCTL_A_SERVICE_KEY));
	for (i = 0; i < a->nallow; i++)
		key_b58(t->allow[i], mnl_attr_get_payload(a->allow[i]));
	t->nallow = a->nallow;
	t->origin = ctl_attr_u8(a, HNCTL_A_ORIGIN, 0) == HNCTL_ORIGIN_CONFIG ?
	    "config" : "runtime";
	t->config_line = ctl_attr_u32(a, HNCTL_A_CONFIG_LINE, 0);
	t->state = ctl_attr_str(a, HNCTL_A_STATE, "");
	hctl_traffic_decode(a, &t->traffic);
	return true;
}

void
hctl_traffic_decode(const struct ctl_attrs *a, struct traffic_info *t)
{
	memset(t, 0, sizeof(*t));
	if (a->tb[HNCTL_A_CONNS_OPEN] == NULL)
		return;
	t->has = true;
	t->conns_open = ctl_attr_u32(a, HNCTL_A_CONNS_OPEN, 0);
	t->conns_total = ctl_attr_u64(a, HNCTL_A_CONNS_TOTAL, 0);
	t->bytes_in = ctl_attr_u64(a, HNCTL_A_BYTES_IN, 0);
	t->bytes_out = ctl_attr_u64(a, HNCTL_A_BYTES_OUT, 0);
	t->dgrams_in = ctl_attr_u64(a, HNCTL_A_DGRAMS_IN, 0);
	t->dgrams_out = ctl_attr_u64(a, HNCTL_A_DGRAMS_OUT, 0);
	t->drops = ctl_attr_u64(a, HNCTL_A_DROPS, 0);
}

bool
hctl_conn_decode(const struct ctl_attrs *a, struct conn_info *c)
{
	const uint8_t *k = ctl_attr_bin(a, HNCTL_A_CONN_KEY);

	memset(c, 0, sizeof(*c));
	if (k == NULL)
		return false;
	key_b58(c->key, k);
	snprintf(c->path, sizeof(c->path), "%s",
	    ctl_attr_str(a, HNCTL_A_CONN_PATH, "?"));
	snprintf(c->remote, sizeof(c->remote), "%s",
	    ctl_attr_str(a, HNCTL_A_CONN_REMOTE, "?"));
	snprintf(c->local, sizeof(c->local), "%s",
	    ctl_attr_str(a, HNCTL_A_CONN_LOCAL, "?"));
	c->rtt_us = ctl_attr_u32(a, HNCTL_A_CONN_RTT, 0);
	c->secure = ctl_attr_u8(a, HNCTL_A_CONN_SECURE, 0) != 0;
	hctl_traffic_decode(a, &c->traffic);
	return true;
}

/* ------------------------------------------------------------ plumbing */

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hypernatctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fprintf(stderr, "try: hypernatctl help\n");
	return HCTL_EXIT_USAGE;
}

/*
 * Connect, send, collect.  Returns an exit status; on a daemon error the
 * output's result() has reported it.
 */
static int
exchange(struct hctl *h, const char *cmd, struct nlmsghdr *req,
    hctl_msg_cb cb, void *arg, int *result, char *msg, size_t cap)
{
	char why[300];
	int rc;

	if ((rc = hctl_connect(&h->conn, h->socket_path)) < 0) {
		snprintf(why, sizeof(why), "cannot reach hypernatd at %s: %s",
		    h->socket_path, strerror(-rc));
		h->out->result(cmd, rc, why);
		return HCTL_EXIT_UNREACHABLE;
	}
	rc = hctl_request(&h->conn, req, cb, arg, result, msg, cap);
	hctl_close(&h->conn);
	if (rc < 0) {
		snprintf(why, sizeof(why), "no usable answer from hypernatd at "
		    "%s: %s", h->socket_path, strerror(-rc));
		h->out->result(cmd, rc, why);
		return rc == -EBADMSG ? HCTL_EXIT_FAILED :
		    HCTL_EXIT_UNREACHABLE;
	}
	return HCTL_EXIT_OK;
}

/* A request with no data in its answer: report the ack. */
static int
simple(struct hctl *h, const char *cmd, struct nlmsghdr *req)
{
	char msg[HNCTL_STR_MAX];
	int result, ex;

	if ((ex = exchange(h, cmd, req, NULL, NULL, &result, msg,
	    sizeof(msg))) != HCTL_EXIT_OK)
		return ex;
	h->out->result(cmd, result, msg);
	return result < 0 ? HCTL_EXIT_FAILED : HCTL_EXIT_OK;
}

static int
parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int
parse_proto(const char *s, uint8_t *proto)
{
	uint8_t i;

	for (i = 1; i <= 3; i++) {
		if (strcmp(s, proto_names[i]) == 0) {
			*proto = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ commands */

static void
status_cb(const struct nlmsghdr *nlh, const struct ctl_attrs *a, void *arg)
{
	struct hctl *h = arg;
	struct status_info s;

	memset(&s, 0, sizeof(s));
	s.version = ctl_attr_str(a, HNCTL_A_VERSION, "?");
	s.pid = ctl_attr_u32(a, HNCTL_A_PID, 0);
	s.uptime = ctl_attr_u64(a, HNCTL_A_UPTIME, 0);
	key_b58(s.key, ctl_attr_bin(a, HNCTL_A_KEY));
	s.config_path = ctl_attr_str(a, HNCTL_A_CONFIG_PATH, "");
	s.state_dir = ctl_attr_str(a, HNCTL_A_STATE_DIR, "");
	s.log_level = log_level_name(ctl_attr_u8(a, HNCTL_A_LOG_LEVEL, 0));
	s.dht_state = ctl_attr_str(a, HNCTL_A_DHT_STATE, "?");
	s.transport = ctl_attr_str(a, HNCTL_A_TRANSPORT, "?");
	s.exports = ctl_attr_u32(a, HNCTL_A_N_EXPORTS, 0);
	s.imports = ctl_attr_u32(a, HNCTL_A_N_IMPORTS, 0);
	s.runtime = ctl_attr_u32(a, HNCTL_A_N_RUNTIME, 0);
	s.dht_mode = ctl_attr_str(a, HNCTL_A_DHT_MODE, NULL);
	s.has_node = s.dht_mode != NULL;
	s.bootstrapped = ctl_attr_u8(a, HNCTL_A_DHT_BOOTSTRAPPED, 0) != 0;
	s.persistent = ctl_attr_u8(a, HNCTL_A_DHT_PERSISTENT, 0) != 0;
	s.firewalled = ctl_attr_u8(a, HNCTL_A_DHT_FIREWALLED, 0) != 0;
	s.public_addr = ctl_attr_str(a, HNCTL_A_DHT_PUBLIC, NULL);
	s.nodes = ctl_attr_u32(a, HNCTL_A_DHT_NODES, 0);
	s.nbootstrap = ctl_attr_u32(a, HNCTL_A_DHT_N_BOOTSTRAP, 0);
	s.dht_addr = ctl_attr_str(a, HNCTL_A_DHT_ADDR, "?");
	s.client_port = ctl_attr_u16(a, HNCTL_A_DHT_CLIENT_PORT, 0);
	hctl_traffic_decode(a, &s.traffic);
	h->out->status(&s);
}

/* status and key: one data message, then an ack that says nothing */
static int
cmd_query(struct hctl *h, const char *cmd, uint16_t type, hctl_msg_cb cb)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	char msg[HNCTL_STR_MAX];
	int result, ex;

	ex = exchange(h, cmd, ctl_msg_start(buf, type, 0, 0), cb, h, &result,
	    msg, sizeof(msg));
	if (ex != HCTL_EXIT_OK)
		return ex;
	if (result < 0) {
		h->out->result(cmd, result, msg);
		return HCTL_EXIT_FAILED;
	}
	return HCTL_EXIT_OK;
}

static int
cmd_status(struct hctl *h, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("status", "unexpected argument: %s", argv[1]);
	return cmd_query(h, "status", HNCTL_MSG_STATUS, status_cb);
}

static void
key_cb(const struct nlmsghdr *nlh, const struct ctl_attrs *a, void *arg)
{
	struct hctl *h = arg;
	char key[HCTL_KEY_LEN], client[HCTL_KEY_LEN];

	key_b58(key, ctl_attr_bin(a, HNCTL_A_KEY));
	key_b58(client, ctl_attr_bin(a, HNCTL_A_CLIENT_KEY));
	h->out->key(key, client);
}

static int
cmd_key(struct hctl *h, int argc, char **argv)
{
	if (argc > 1)
		return usage_error("key", "unexpected argument: %s", argv[1]);
	return cmd_query(h, "key", HNCTL_MSG_KEY, key_cb);
}

struct dump_ctx {
	struct hctl	*h;
	size_t		 n;
	bool		 peers;
	/* peers: a tunnel is printed once its CONN messages are in */
	bool		 pending;
	struct tunnel_info t;
};

static void
dump_flush(struct dump_ctx *d)
{
	if (!d->pending)
		return;
	d->h->out->peer(&d->t);
	d->pending = false;
}

static void
dump_cb(const struct nlmsghdr *nlh, const struct ctl_attrs *a, void *arg)
{
	struct dump_ctx *d = arg;

	if (nlh->nlmsg_type == HNCTL_MSG_CONN) {
		if (d->peers && d->pending && d->t.nconns < HNCTL_CONN_SHOW_MAX &&
		    hctl_conn_decode(a, &d->t.conns[d->t.nconns]))
			d->t.nconns++;
		return;
	}
	dump_flush(d);
	if (!hctl_tunnel_decode(a, &d->t))
		return;
	d->n++;
	if (!d->peers) {
		d->h->out->tunnel(&d->t);
		return;
	}
	/* the record this points into may be gone when it is printed */
	snprintf(d->t.state_buf, sizeof(d->t.state_buf), "%s", d->t.state);
	d->t.state = d->t.state_buf;
	d->pending = true;
}

static int
cmd_dump(struct hctl *h, const char *cmd, uint16_t type, bool peers,
    int argc, char **argv)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	static struct dump_ctx d;
	const char *what = peers ? "peers" : "tunnels";
	char msg[HNCTL_STR_MAX];
	int result, ex;

	if (argc > 1)
		return usage_error(cmd, "unexpected argument: %s", argv[1]);
	memset(&d, 0, sizeof(d));
	d.h = h;
	d.peers = peers;
	h->out->list_begin(what);
	ex = exchange(h, cmd, ctl_msg_start(buf, type, NLM_F_DUMP, 0),
	    dump_cb, &d, &result, msg, sizeof(msg));
	dump_flush(&d);
	if (ex != HCTL_EXIT_OK)
		return ex;
	h->out->list_end(what, d.n);
	if (result < 0) {
		h->out->result(cmd, result, msg);
		return HCTL_EXIT_FAILED;
	}
	return HCTL_EXIT_OK;
}

static int
cmd_list(struct hctl *h, int argc, char **argv)
{
	return cmd_dump(h, "list", HNCTL_MSG_TUNNEL_LIST, false, argc, argv);
}

static int
cmd_peers(struct hctl *h, int argc, char **argv)
{
	return cmd_dump(h, "peers", HNCTL_MSG_PEER_LIST, true, argc, argv);
}

/*
 * PROTO PORT [host H] [allow KEY]... | PROTO PORT peer KEY [listen
 * [ADDR:]PORT], into the request's attributes.  Returns 0 or an exit
 * status (usage).
 */
static int
tunnel_args(const char *cmd, struct nlmsghdr *nlh, int argc, char **argv,
    bool del)
{
	uint8_t proto, key[32], ip[4];
	struct hn_addr la;
	char buf[40];
	bool export_only = false, peer = false, listen = false;
	unsigned nallow = 0;
	uint16_t port;
	int i;

	if (argc < 3)
		return usage_error(cmd, "%s", "missing PROTO PORT");
	if (parse_proto(argv[1], &proto) < 0)
		return usage_error(cmd, "PROTO must be tcp, udp or tcpudp, "
		    "not %s", argv[1]);
	if (parse_port(argv[2], &port) < 0)
		return usage_error(cmd, "PORT must be 1-65535, not %s", argv[2]);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, proto);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, port);
	for (i = 3; i < argc; i += 2) {
		const char *w = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return usage_error(cmd, "%s needs a value", w);
		if (strcmp(w, "peer") == 0 && !peer) {
			if (base58_decode_key(key, v) < 0)
				return usage_error(cmd, "not a base58 public "
				    "key: %s", v);
			mnl_attr_put(nlh, HNCTL_A_PEER, 32, key);
			peer = true;
		} else if (strcmp(w, "listen") == 0 && !listen && !del) {
			if (strchr(v, ':') == NULL &&
			    strlen(v) <= 5)
				snprintf(buf, sizeof(buf), "127.0.0.1:%s", v);
			else
				snprintf(buf, sizeof(buf), "%s", v);
			if (addr_parse(buf, &la) < 0 || la.port == 0)
				return usage_error(cmd, "listen takes "
				    "[ADDR:]PORT, not %s", v);
			mnl_attr_put(nlh, HNCTL_A_LISTEN_IP, 4, la.ip);
			mnl_attr_put_u16(nlh, HNCTL_A_LISTEN_PORT, la.port);
			listen = true;
		} else if (strcmp(w, "host") == 0 && !export_only && !del) {
			if (addr_parse_ip(v, ip) < 0)
				return usage_error(cmd, "host takes an IPv4 "
				    "address, not %s", v);
			mnl_attr_put(nlh, HNCTL_A_HOST, 4, ip);
			export_only = true;
		} else if (strcmp(w, "allow") == 0 && !del) {
			if (base58_decode_key(key, v) < 0)
				return usage_error(cmd, "not a base58 public "
				    "key: %s", v);
			if (++nallow > HNCTL_ALLOW_MAX)
				return usage_error(cmd, "%s", "too many allow "
				    "keys");
			mnl_attr_put(nlh, HNCTL_A_ALLOW, 32, key);
		} else {
			return usage_error(cmd, "unexpected or repeated "
			    "word: %s", w);
		}
	}
	if (peer && (export_only || nallow))
		return usage_error(cmd, "%s", "host and allow are for exports, "
		    "peer and listen for imports");
	if (listen && !peer)
		return usage_error(cmd, "%s", "listen needs peer KEY (an import)");
	mnl_attr_put_u8(nlh, HNCTL_A_KIND, peer ? HNCTL_KIND_IMPORT :
	    HNCTL_KIND_EXPORT);
	return 0;
}

struct add_ctx {
	struct hctl		*h;
	struct tunnel_info	 t;
	char			 base[HCTL_KEY_LEN];
	bool			 have;
};

static void
add_cb(const struct nlmsghdr *nlh, const struct ctl_attrs *a, void *arg)
{
	struct add_ctx *x = arg;

	x->have = hctl_tunnel_decode(a, &x->t);
	key_b58(x->base, ctl_attr_bin(a, HNCTL_A_KEY));
}

static int
cmd_add(struct hctl *h, int argc, char **argv)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct nlmsghdr *nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD,
	    NLM_F_CREATE | NLM_F_EXCL, 0);
	struct add_ctx x;
	char msg[HNCTL_STR_MAX];
	int result, ex;

	memset(&x, 0, sizeof(x));
	x.h = h;
	if ((ex = tunnel_args("add", nlh, argc, argv, false)) != 0)
		return ex;
	if ((ex = exchange(h, "add", nlh, add_cb, &x, &result, msg,
	    sizeof(msg))) != HCTL_EXIT_OK)
		return ex;
	if (result < 0 || !x.have) {
		h->out->result("add", result < 0 ? result : -EBADMSG, msg);
		return HCTL_EXIT_FAILED;
	}
	h->out->added(&x.t, x.base);
	h->out->result("add", 0, msg);
	return HCTL_EXIT_OK;
}

static int
cmd_del(struct hctl *h, int argc, char **argv)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct nlmsghdr *nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_DEL, 0, 0);
	int ex;

	if ((ex = tunnel_args("del", nlh, argc, argv, true)) != 0)
		return ex;
	return simple(h, "del", nlh);
}

static int
cmd_reload(struct hctl *h, int argc, char **argv)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];

	if (argc > 1)
		return usage_error("reload", "unexpected argument: %s", argv[1]);
	return simple(h, "reload", ctl_msg_start(buf, HNCTL_MSG_RELOAD, 0, 0));
}

static int
cmd_log_level(struct hctl *h, int argc, char **argv)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct nlmsghdr *nlh;
	int lvl;

	if (argc != 2)
		return usage_error("log-level", "%s", "takes one LEVEL: error, "
		    "warning, notice, info or debug");
	if ((lvl = log_level_parse(argv[1])) < 0)
		return usage_error("log-level", "unknown level %s (error, "
		    "warning, notice, info, debug)", argv[1]);
	nlh = ctl_msg_start(buf, HNCTL_MSG_LOG_LEVEL, 0, 0);
	mnl_attr_put_u8(nlh, HNCTL_A_LOG_LEVEL, (uint8_t)lvl);
	return simple(h, "log-level", nlh);
}

static int
cmd_help(struct hctl *h, int argc, char **argv)
{
	hctl_usage(stdout);
	return HCTL_EXIT_OK;
}

const struct hctl_cmd hctl_cmds[] = {
	{ "status",	cmd_status,	"",
	  "the daemon: key, config, DHT state, tunnel counts" },
	{ "key",	cmd_key,	"",
	  "the public key to share, and the key used as a client" },
	{ "list",	cmd_list,	"",
	  "every tunnel (config and runtime) and its state" },
	{ "peers",	cmd_peers,	"",
	  "peer connections of each tunnel" },
	{ "add",	cmd_add,	"PROTO PORT [host H] [allow KEY]...",
	  "export a local service (prints how to import it)" },
	{ "add",	cmd_add,	"PROTO PORT peer KEY [listen [ADDR:]PORT]",
	  "import a peer's export on a local port" },
	{ "del",	cmd_del,	"PROTO PORT [peer KEY]",
	  "remove a runtime export (or import)" },
	{ "reload",	cmd_reload,	"",
	  "re-read the config, keep unchanged tunnels" },
	{ "log-level",	cmd_log_level,	"LEVEL",
	  "error, warning, notice, info or debug" },
	{ "help",	cmd_help,	"",
	  "this text" },
};

const size_t hctl_ncmds = sizeof(hctl_cmds) / sizeof(hctl_cmds[0]);

void
hctl_usage(FILE *fp)
{
	char left[64];
	size_t i;

	fprintf(fp, "usage: hypernatctl [-j] [-s SOCKET] COMMAND [ARGS]\n\n"
	    "  -j, --json           print one JSON document\n"
	    "  -s, --socket PATH    control socket (default %s)\n\n"
	    "commands:\n", HNCTL_SOCKET_PATH);
	for (i = 0; i < hctl_ncmds; i++) {
		snprintf(left, sizeof(left), "%s %s", hctl_cmds[i].name,
		    hctl_cmds[i].args);
		fprintf(fp, "  %-46s %s\n", left, hctl_cmds[i].help);
	}
	fprintf(fp, "\nexit status: 0 ok, 1 refused or failed, 2 usage, "
	    "3 daemon unreachable\n");
}
