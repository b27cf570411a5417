/*
 * config.c - hypernat.conf: YAML events read against one schema table
 *
 * The walk follows libyaml's event stream (no document tree is built):
 * every mapping is matched against a table of items, every scalar is
 * converted by its item's type, and a mapping's check function runs when
 * the mapping closes.  Positions come from libyaml's marks (0-based) and
 * are printed 1-based.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#include "addr.h"
#include "base58.h"
#include "config.h"
#include "io.h"
#include "log.h"

#define CONFIG_MAX_BYTES	(4 << 20)
#define BOOTSTRAP_MAX		64
#define SECRET_MAX		1024
#define ITEMS_MAX		8	/* keys in one mapping of the schema */

struct parser;
struct cfg_item;

/* Keys seen in one mapping, for duplicates and checks. */
struct seen {
	yaml_mark_t	 start;
	yaml_mark_t	 mark[ITEMS_MAX];
	bool		 set[ITEMS_MAX];
};

/*
 * A value type: parse one scalar (return NULL or an error message, which
 * may live in p->why), print one value, free one value.  `list` types take
 * a sequence of scalars and parse each element with `parse`.
 */
struct cfg_type {
	const char	*name;		/* for messages and the key reference */
	bool		 list;		/* a sequence of scalars */
	bool		 plain_only;	/* numbers and words: no quoted strings */
	const char	*(*parse)(struct parser *p, const struct cfg_item *it,
			    const char *s, void *dst);
	void		 (*print)(FILE *fp, const struct cfg_item *it,
			    const void *src);
	void		 (*free)(void *dst);
};

/* A mapping's check: NULL or an error for the mapping at s->start. */
typedef const char *(*cfg_check_fn)(struct parser *p, void *base,
    const struct seen *s, yaml_mark_t *at);

struct cfg_item {
	const char		*name;
	const struct cfg_type	*type;	/* NULL: a section or list of mappings */
	size_t			 off;	/* into struct config, or struct tundef */
	const struct cfg_item	*sub;	/* section or list entry keys, NULL-ended */
	cfg_check_fn		 check;	/* section or list entry check */
	int			 kind;	/* list: enum tun_kind */
	long			 min, max;
	const char *const	*words;	/* enums: the names, by value */
	const char		*def;	/* default as text; NULL: none */
	bool			 required;
	const char		*help;
};

struct parser {
	yaml_parser_t	 yp;
	yaml_event_t	 ev;
	bool		 have_ev;
	const char	*name;
	char		*err;
	char		 why[256];
	int		 origin;	/* enum tun_origin of list entries */
	struct config	*cfg;
};

/* ------------------------------------------------------------ errors */

static int fail_at(struct parser *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_at(struct parser *p, yaml_mark_t m, const char *fmt, ...)
{
	char msg[CONFIG_ERR_LEN - 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, CONFIG_ERR_LEN, "%s:%zu:%zu: %s", p->name,
	    m.line + 1, m.column + 1, msg);
	return -EINVAL;
}

static int
next(struct parser *p)
{
	if (p->have_ev)
		yaml_event_delete(&p->ev);
	p->have_ev = false;
	if (!yaml_parser_parse(&p->yp, &p->ev)) {
		const char *what = p->yp.problem ? p->yp.problem : "syntax error";

		if (p->yp.context)
			return fail_at(p, p->yp.problem_mark, "%s %s",
			    what, p->yp.context);
		return fail_at(p, p->yp.problem_mark, "%s", what);
	}
	p->have_ev = true;
	if (p->ev.type == YAML_ALIAS_EVENT)
		return fail_at(p, p->ev.start_mark,
		    "aliases (*name) are not supported");
	return 0;
}

static const char *
event_what(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return "a value";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static bool
event_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

/* ------------------------------------------------------------ types */

#define AT(base, off)	((void *)((char *)(base) + (off)))
#define CAT(base, off)	((const void *)((const char *)(base) + (off)))

static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void
free_str(void *dst)
{
	char **sp = dst;

	free(*sp);
	*sp = NULL;
}

static const char *
parse_str(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	char **sp = dst, *dup;

	if ((long)strlen(s) > it->max)
		return "value is too long";
	if ((dup = strdup(s)) == NULL)
		return "out of memory";
	free(*sp);
	*sp = dup;
	return NULL;
}

static void
print_str(FILE *fp, const struct cfg_item *it, const void *src)
{
	const char *const *sp = src;

	print_quoted(fp, *sp ? *sp : "");
}

/* An absolute path, or "" when the item allows it (min 0). */
static const char *
parse_path(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	if (s[0] == '\0' && it->min == 0)
		return parse_str(p, it, s, dst);
	if (s[0] != '/')
		return "must be an absolute path";
	return parse_str(p, it, s, dst);
}

static void
free_secret(void *dst)
{
	char **sp = dst;

	if (*sp) {
		sodium_memzero(*sp, strlen(*sp));
		free(*sp);
	}
	*sp = NULL;
}

static const char *
parse_secret(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	if (s[0] == '\0')
		return "the secret is empty";
	free_secret(dst);
	return parse_str(p, it, s, dst);
}

static void
print_secret(FILE *fp, const struct cfg_item *it, const void *src)
{
	/* config_print() writes a comment instead: never reached */
	fputs("\"\"", fp);
}

static const char *
parse_port(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return "expected a port number";
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return "expected a port number";
	if (errno == ERANGE || v < it->min || v > it->max) {
		snprintf(p->why, sizeof(p->why), "port %s is out of range "
		    "(%ld-%ld)", s, it->min, it->max);
		return p->why;
	}
	*(uint16_t *)dst = (uint16_t)v;
	return NULL;
}

static void
print_port(FILE *fp, const struct cfg_item *it, const void *src)
{
	fprintf(fp, "%u", *(const uint16_t *)src);
}

/* " a, b, c" (sep ",") or " a | b | c" (sep " |") into buf. */
static void
words_list(const struct cfg_item *it, char *buf, size_t cap, const char *sep)
{
	size_t i, off = 0;
	bool first = true;

	buf[0] = '\0';
	for (i = 0; it->words[i] != NULL && off < cap; i++) {
		if (it->words[i][0] == '\0')
			continue;
		off += (size_t)snprintf(buf + off, cap - off, "%s %s",
		    first ? "" : sep, it->words[i]);
		first = false;
	}
}

static const char *
parse_word(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	size_t i, off;

	for (i = 0; it->words[i] != NULL; i++) {
		if (it->words[i][0] != '\0' && strcmp(s, it->words[i]) == 0) {
			*(int *)dst = (int)i;
			return NULL;
		}
	}
	off = (size_t)snprintf(p->why, sizeof(p->why),
	    "\"%.60s\" is not one of:", s);
	words_list(it, p->why + off, sizeof(p->why) - off, ",");
	return p->why;
}

static void
print_word(FILE *fp, const struct cfg_item *it, const void *src)
{
	fputs(it->words[*(const int *)src], fp);
}

static const char *
parse_proto(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	if (tun_proto_parse(s, dst) < 0) {
		snprintf(p->why, sizeof(p->why),
		    "\"%s\" is not one of: tcp, udp, tcpudp", s);
		return p->why;
	}
	return NULL;
}

static void
print_proto(FILE *fp, const struct cfg_item *it, const void *src)
{
	fputs(tun_proto_name(*(const enum tun_proto *)src), fp);
}

static const char *
parse_ipv4(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	if (addr_parse_ip(s, dst) < 0) {
		snprintf(p->why, sizeof(p->why),
		    "\"%s\" is not an IPv4 address (a.b.c.d)", s);
		return p->why;
	}
	return NULL;
}

static void
print_ipv4(FILE *fp, const struct cfg_item *it, const void *src)
{
	char buf[16];

	addr_format_ip(src, buf);
	fputs(buf, fp);
}

/* "[a.b.c.d:]port", port 1-65535; the address defaults to 127.0.0.1. */
static const char *
parse_listen(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	struct hn_addr a;
	char buf[40];

	if (strchr(s, ':') == NULL) {
		if (strlen(s) > 5)
			goto bad;
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", s);
		s = buf;
	}
	if (addr_parse(s, &a) < 0 || a.port == 0)
		goto bad;
	*(struct hn_addr *)dst = a;
	return NULL;
bad:
	snprintf(p->why, sizeof(p->why), "\"%s\" is not [a.b.c.d:]port "
	    "with a port 1-65535", s == buf ? buf + 10 : s);
	return p->why;
}

static void
print_listen(FILE *fp, const struct cfg_item *it, const void *src)
{
	char buf[HN_ADDR_STRLEN];

	fputs(addr_format(src, buf), fp);
}

static const char *
parse_key(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	if (base58_decode_key(dst, s) < 0) {
		snprintf(p->why, sizeof(p->why), "\"%.60s\" is not a base58 "
		    "public key (32 bytes)", s);
		return p->why;
	}
	return NULL;
}

static void
print_key(FILE *fp, const struct cfg_item *it, const void *src)
{
	char buf[BASE58_ENCODED_SIZE(KEYS_PK_LEN)];

	if (base58_encode(buf, sizeof(buf), src, KEYS_PK_LEN) > 0)
		fputs(buf, fp);
}

/* allow: list elements go into tundef.allow[] */
static const char *
parse_allow(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	struct tundef *d = container_of(dst, struct tundef, allow);
	const char *e;
	size_t i;

	if (d->nallow >= TUN_ALLOW_MAX) {
		snprintf(p->why, sizeof(p->why), "too many keys (at most %d)",
		    TUN_ALLOW_MAX);
		return p->why;
	}
	if ((e = parse_key(p, it, s, d->allow[d->nallow])) != NULL)
		return e;
	for (i = 0; i < d->nallow; i++)
		if (memcmp(d->allow[i], d->allow[d->nallow], KEYS_PK_LEN) == 0)
			return "key listed twice";
	d->nallow++;
	return NULL;
}

static void
print_allow(FILE *fp, const struct cfg_item *it, const void *src)
{
	const struct tundef *d = (const struct tundef *)(const void *)
	    ((const char *)src - offsetof(struct tundef, allow));
	size_t i;

	fputc('[', fp);
	for (i = 0; i < d->nallow; i++) {
		fputs(i ? ", " : "", fp);
		print_key(fp, it, d->allow[i]);
	}
	fputc(']', fp);
}

static void
free_allow(void *dst)
{
	struct tundef *d = container_of(dst, struct tundef, allow);

	d->nallow = 0;
}

static const char *
parse_bootstrap(struct parser *p, const struct cfg_item *it, const char *s,
    void *dst)
{
	struct config_bootstrap *b = dst;
	struct hn_addr a, *na;
	char **nt, *dup;

	if (b->n >= BOOTSTRAP_MAX) {
		snprintf(p->why, sizeof(p->why), "too many bootstrap nodes "
		    "(at most %d)", BOOTSTRAP_MAX);
		return p->why;
	}
	if (addr_parse_bootstrap(s, &a) < 0) {
		snprintf(p->why, sizeof(p->why), "\"%.60s\" is not a bootstrap "
		    "node (a.b.c.d:port or a.b.c.d@name:port)", s);
		return p->why;
	}
	if ((na = realloc(b->addr, (b->n + 1) * sizeof(*na))) == NULL)
		return "out of memory";
	b->addr = na;
	if ((nt = realloc(b->text, (b->n + 1) * sizeof(*nt))) == NULL)
		return "out of memory";
	b->text = nt;
	if ((dup = strdup(s)) == NULL)
		return "out of memory";
	b->addr[b->n] = a;
	b->text[b->n] = dup;
	b->n++;
	return NULL;
}

static void
print_bootstrap(FILE *fp, const struct cfg_item *it, const void *src)
{
	const struct config_bootstrap *b = src;
	size_t i;

	fputc('[', fp);
	for (i = 0; i < b->n; i++) {
		fputs(i ? ", " : "", fp);
		/* the label may hold anything: quote it when YAML would care */
		if (strspn(b->text[i], "0123456789.:@-_abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(b->text[i]))
			fputs(b->text[i], fp);
		else
			print_quoted(fp, b->text[i]);
	}
	fputc(']', fp);
}

static void
free_bootstrap(void *dst)
{
	struct config_bootstrap *b = dst;
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->text[i]);
	free(b->text);
	free(b->addr);
	memset(b, 0, sizeof(*b));
}

static const struct cfg_type type_str = {
	"string", false, false, parse_str, print_str, free_str };
static const struct cfg_type type_path = {
	"path", false, false, parse_path, print_str, free_str };
static const struct cfg_type type_secret = {
	"string", false, false, parse_secret, print_secret, free_secret };
static const struct cfg_type type_port = {
	"port", false, true, parse_port, print_port, NULL };
static const struct cfg_type type_word = {
	"word", false, false, parse_word, print_word, NULL };
static const struct cfg_type type_proto = {
	"tcp | udp | tcpudp", false, false, parse_proto, print_proto, NULL };
static const struct cfg_type type_ipv4 = {
	"IPv4 address", false, false, parse_ipv4, print_ipv4, NULL };
static const struct cfg_type type_listen = {
	"[a.b.c.d:]port", false, false, parse_listen, print_listen, NULL };
static const struct cfg_type type_key = {
	"base58 key", false, false, parse_key, print_key, NULL };
static const struct cfg_type type_allow = {
	"list of base58 keys", true, false, parse_allow, print_allow, free_allow };
static const struct cfg_type type_bootstrap = {
	"list of a.b.c.d[@name]:port", true, false, parse_bootstrap,
	print_bootstrap, free_bootstrap };

/* ------------------------------------------------------------ schema */

static const char *const dht_modes[] = { "auto", "ephemeral", "persistent",
    NULL };
static const char *const log_levels[] = { [0] = "", [1] = "", [2] = "",
    [3] = "error", [4] = "warning", [5] = "notice", [6] = "info",
    [7] = "debug", NULL };
static const char *const plaintext_words[] = { "allow", "refuse", NULL };

static const char *check_identity(struct parser *, void *,
    const struct seen *, yaml_mark_t *);
static const char *check_export(struct parser *, void *,
    const struct seen *, yaml_mark_t *);
static const char *check_import(struct parser *, void *,
    const struct seen *, yaml_mark_t *);

#define CFG(f)	offsetof(struct config, f)
#define TUN(f)	offsetof(struct tundef, f)

static const struct cfg_item identity_items[] = {
	{ .name = "secret", .type = &type_secret, .off = CFG(secret),
	  .max = SECRET_MAX,
	  .help = "hyper-nat compatible: the key pair is derived from this "
	    "text (seed = BLAKE2b-256(secret)), so the same secret gives the "
	    "same public key as hyper-nat -s.  A short secret can be guessed "
	    "from the public key: use a long random one, or none.  Quote it "
	    "if it looks like a number" },
	{ .name = "key_file", .type = &type_path, .off = CFG(key_file),
	  .min = 0, .max = PATH_MAX, .def = "",
	  .help = "without a secret: the file holding the random key, "
	    "created on first start (mode 0600); \"\" means "
	    "<state_dir>/identity" },
	{ 0 }
};

static const struct cfg_item dht_items[] = {
	{ .name = "bootstrap", .type = &type_bootstrap, .off = CFG(bootstrap),
	  .def = "88.99.3.86@node1.hyperdht.org:49737, "
	    "142.93.90.113@node2.hyperdht.org:49737, "
	    "138.68.147.8@node3.hyperdht.org:49737",
	  .help = "nodes to join the network through; empty, with mode "
	    "persistent and a fixed port, makes this node the first node of "
	    "a private network" },
	{ .name = "port", .type = &type_port, .off = CFG(dht_port),
	  .min = 0, .max = 65535, .def = "49737",
	  .help = "UDP port of the DHT node and every tunnel; 0: any free "
	    "port" },
	{ .name = "host", .type = &type_ipv4, .off = CFG(dht_host),
	  .def = "0.0.0.0",
	  .help = "IPv4 address the DHT socket binds to; 0.0.0.0: all.  A "
	    "bootstrap node (mode persistent, fixed port, empty bootstrap "
	    "list) tells the network it is reachable here, so it must be "
	    "set to that address" },
	{ .name = "mode", .type = &type_word, .off = CFG(dht_mode),
	  .words = dht_modes, .def = "auto",
	  .help = "auto: serve the DHT once reachable; ephemeral: never; "
	    "persistent: always (a bootstrap node)" },
	{ 0 }
};

static const struct cfg_item daemon_items[] = {
	{ .name = "control_socket", .type = &type_path,
	  .off = CFG(control_socket), .min = 1,
	  .max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	  .def = "/run/hypernat/control.sock",
	  .help = "the UNIX socket hypernatctl talks to (mode 0660); read at "
	    "start only" },
	{ .name = "control_group", .type = &type_str,
	  .off = CFG(control_group), .max = 64, .def = "hypernat",
	  .help = "group owning the control socket, if it exists; its "
	    "members may use hypernatctl; \"\" leaves the group alone" },
	{ .name = "state_dir", .type = &type_path, .off = CFG(state_dir),
	  .min = 1, .max = PATH_MAX - 64, .def = "/var/lib/hypernat",
	  .help = "where runtime tunnels and the generated key are kept; "
	    "read at start only" },
	{ .name = "log_level", .type = &type_word, .off = CFG(log_level),
	  .words = log_levels, .def = "info",
	  .help = "error | warning | notice | info | debug; hypernatctl "
	    "log-level changes it at runtime" },
	{ 0 }
};

static const struct cfg_item security_items[] = {
	{ .name = "plaintext_datagrams", .type = &type_word,
	  .off = CFG(plaintext_datagrams), .words = plaintext_words,
	  .def = "allow",
	  .help = "allow: carry UDP datagrams unencrypted for peers that "
	    "cannot encrypt them (hyper-nat 1.1.3); refuse: only peers that "
	    "encrypt them (hypernatd).  TCP streams are always encrypted" },
	{ 0 }
};

static const struct cfg_item export_items[] = {
	{ .name = "proto", .type = &type_proto, .off = TUN(proto),
	  .required = true, .help = "tcp, udp or tcpudp (both on one port)" },
	{ .name = "port", .type = &type_port, .off = TUN(port), .min = 1,
	  .max = 65535, .required = true,
	  .help = "the local service's port; also names the export "
	    "(keypear of the identity with proto + port)" },
	{ .name = "host", .type = &type_ipv4, .off = TUN(host),
	  .def = "127.0.0.1", .help = "where the local service listens" },
	{ .name = "allow", .type = &type_allow, .off = TUN(allow),
	  .def = "", .help = "client keys allowed to connect; empty: anyone "
	    "who knows the public key (as hyper-nat)" },
	{ 0 }
};

static const struct cfg_item import_items[] = {
	{ .name = "proto", .type = &type_proto, .off = TUN(proto),
	  .required = true, .help = "tcp, udp or tcpudp, as exported" },
	{ .name = "peer", .type = &type_key, .off = TUN(peer),
	  .required = true, .help = "the exporting side's public key" },
	{ .name = "port", .type = &type_port, .off = TUN(port), .min = 1,
	  .max = 65535, .required = true,
	  .help = "the port the peer exports" },
	{ .name = "listen", .type = &type_listen, .off = TUN(listen),
	  .help = "local [address:]port to listen on; default "
	    "127.0.0.1:<port>; 0.0.0.0:<port> serves the LAN" },
	{ 0 }
};

static const struct cfg_item top_items[] = {
	{ .name = "identity", .sub = identity_items, .check = check_identity,
	  .help = "the key pair this node is known by" },
	{ .name = "dht", .sub = dht_items, .help = "the HyperDHT node" },
	{ .name = "daemon", .sub = daemon_items,
	  .help = "the service itself" },
	{ .name = "security", .sub = security_items,
	  .help = "what peers must do" },
	{ .name = "exports", .sub = export_items, .check = check_export,
	  .off = CFG(exports), .kind = TUN_EXPORT,
	  .help = "local services published under the identity (hyper-nat "
	    "server mode)" },
	{ .name = "imports", .sub = import_items, .check = check_import,
	  .off = CFG(imports), .kind = TUN_IMPORT,
	  .help = "remote exports made reachable on a local port (hyper-nat "
	    "client mode)" },
	{ 0 }
};

/* The runtime tunnel state file. */
static const struct cfg_item tunnels_items[] = {
	{ .name = "exports", .sub = export_items, .check = check_export,
	  .off = CFG(exports), .kind = TUN_EXPORT },
	{ .name = "imports", .sub = import_items, .check = check_import,
	  .off = CFG(imports), .kind = TUN_IMPORT },
	{ 0 }
};

static bool
is_list(const struct cfg_item *it)
{
	return it->type == NULL && it->kind != 0;
}

static size_t
item_index(const struct cfg_item *items, const struct cfg_item *it)
{
	return (size_t)(it - items);
}

/* ------------------------------------------------------------ checks */

static const char *
check_identity(struct parser *p, void *base, const struct seen *s,
    yaml_mark_t *at)
{
	struct config *c = base;

	if (c->secret != NULL && c->key_file[0] != '\0') {
		*at = s->mark[1];
		return "set either secret or key_file, not both";
	}
	return NULL;
}

static const char *
check_required(struct parser *p, const struct cfg_item *items,
    const struct seen *s, yaml_mark_t *at)
{
	const struct cfg_item *it;

	for (it = items; it->name; it++) {
		if (it->required && !s->set[item_index(items, it)]) {
			*at = s->start;
			snprintf(p->why, sizeof(p->why), "missing key \"%s\"",
			    it->name);
			return p->why;
		}
	}
	return NULL;
}

static const char *
check_export(struct parser *p, void *base, const struct seen *s,
    yaml_mark_t *at)
{
	return check_required(p, export_items, s, at);
}

static const char *
check_import(struct parser *p, void *base, const struct seen *s,
    yaml_mark_t *at)
{
	struct tundef *d = base;
	const char *e;

	if ((e = check_required(p, import_items, s, at)) != NULL)
		return e;
	if (!s->set[3]) {
		static const uint8_t lo[4] = { 127, 0, 0, 1 };

		memcpy(d->listen.ip, lo, 4);
		d->listen.port = d->port;
	}
	return NULL;
}

/* ------------------------------------------------------------ walk */

static int parse_mapping(struct parser *p, const struct cfg_item *items,
    void *base, const struct cfg_item *owner);

static int
parse_scalar_into(struct parser *p, const struct cfg_item *it, void *dst)
{
	const char *v = (const char *)p->ev.data.scalar.value;
	const char *e;

	if (p->ev.type != YAML_SCALAR_EVENT)
		return fail_at(p, p->ev.start_mark, "%s: expected %s, found %s",
		    it->name, it->type->name, event_what(&p->ev));
	if (strlen(v) != p->ev.data.scalar.length)
		return fail_at(p, p->ev.start_mark, "%s: NUL byte in value",
		    it->name);
	if (event_is_null(&p->ev)) {
		if (it->type != &type_str && it->type != &type_path)
			return fail_at(p, p->ev.start_mark,
			    "%s: missing value", it->name);
		v = "";
	}
	if (it->type->plain_only &&
	    p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail_at(p, p->ev.start_mark, "%s: expected %s, found a "
		    "quoted string", it->name, it->type->name);
	if ((e = it->type->parse(p, it, v, dst)) != NULL)
		return fail_at(p, p->ev.start_mark, "%s: %s", it->name, e);
	return 0;
}

/* A sequence of scalars (or null: empty) for a list type. */
static int
parse_scalar_list(struct parser *p, const struct cfg_item *it, void *dst)
{
	int rc;

	it->type->free(dst);
	if (event_is_null(&p->ev))
		return 0;
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(p, p->ev.start_mark, "%s: expected a %s, found %s",
		    it->name, it->type->name, event_what(&p->ev));
	for (;;) {
		if ((rc = next(p)) < 0)
			return rc;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if ((rc = parse_scalar_into(p, it, dst)) < 0)
			return rc;
	}
}

static void apply_defaults(const struct cfg_item *items, void *base);

static int
list_append(struct parser *p, const struct cfg_item *it,
    struct config_tunnels *l, yaml_mark_t m)
{
	struct tundef *v;

	if (l->n >= TUN_MAX)
		return fail_at(p, m, "%s: too many entries (at most %d)",
		    it->name, TUN_MAX);
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL)
		return fail_at(p, m, "out of memory");
	l->v = v;
	memset(&v[l->n], 0, sizeof(v[0]));
	v[l->n].kind = (enum tun_kind)it->kind;
	v[l->n].origin = (enum tun_origin)p->origin;
	v[l->n].line = (unsigned)m.line + 1;
	v[l->n].column = (unsigned)m.column + 1;
	apply_defaults(it->sub, &v[l->n]);
	l->n++;
	return 0;
}

static int
check_list_conflicts(struct parser *p, const struct config_tunnels *l,
    const yaml_mark_t *marks)
{
	char why[160];
	size_t i, j;

	for (i = 1; i < l->n; i++)
		for (j = 0; j < i; j++)
			if (tundef_conflict(&l->v[i], &l->v[j], why,
			    sizeof(why)))
				return fail_at(p, marks[i], "%s (line %u)",
				    why, l->v[j].line);
	return 0;
}

/* A sequence of mappings: exports or imports. */
static int
parse_tunnel_list(struct parser *p, const struct cfg_item *it, void *base)
{
	struct config_tunnels *l = AT(base, it->off);
	yaml_mark_t *marks = NULL, *nm;
	int rc;

	if (event_is_null(&p->ev))
		return 0;
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(p, p->ev.start_mark,
		    "%s: expected a list, found %s", it->name,
		    event_what(&p->ev));
	for (;;) {
		if ((rc = next(p)) < 0)
			goto out;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (p->ev.type != YAML_MAPPING_START_EVENT) {
			rc = fail_at(p, p->ev.start_mark, "%s: each entry is "
			    "a mapping ({ proto: ..., port: ... }), found %s",
			    it->name, event_what(&p->ev));
			goto out;
		}
		if ((rc = list_append(p, it, l, p->ev.start_mark)) < 0)
			goto out;
		if ((nm = realloc(marks, l->n * sizeof(*nm))) == NULL) {
			rc = fail_at(p, p->ev.start_mark, "out of memory");
			goto out;
		}
		marks = nm;
		marks[l->n - 1] = p->ev.start_mark;
		if ((rc = parse_mapping(p, it->sub, &l->v[l->n - 1], it)) < 0)
			goto out;
	}
	rc = check_list_conflicts(p, l, marks);
out:
	free(marks);
	return rc;
}

static int
parse_value(struct parser *p, const struct cfg_item *it, void *base)
{
	if (is_list(it))
		return parse_tunnel_list(p, it, base);
	if (it->type == NULL) {
		if (event_is_null(&p->ev))
			return 0;
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return fail_at(p, p->ev.start_mark, "%s: expected a "
			    "mapping of keys, found %s", it->name,
			    event_what(&p->ev));
		return parse_mapping(p, it->sub, base, it);
	}
	if (it->type->list)
		return parse_scalar_list(p, it, AT(base, it->off));
	return parse_scalar_into(p, it, AT(base, it->off));
}

static void
names_of(const struct cfg_item *items, char *buf, size_t cap)
{
	const struct cfg_item *it;
	size_t off = 0;

	buf[0] = '\0';
	for (it = items; it->name && off < cap; it++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",
		    it == items ? "" : ", ", it->name);
}

/* The current event opens a mapping; read it up to its end. */
static int
parse_mapping(struct parser *p, const struct cfg_item *items, void *base,
    const struct cfg_item *owner)
{
	const struct cfg_item *it;
	struct seen s;
	yaml_mark_t at;
	const char *e;
	char key[64], names[256];
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.start = p->ev.start_mark;
	for (;;) {
		if ((rc = next(p)) < 0)
			return rc;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return fail_at(p, p->ev.start_mark,
			    "expected a key, found %s", event_what(&p->ev));
		snprintf(key, sizeof(key), "%s", p->ev.data.scalar.value);
		for (it = items; it->name; it++)
			if (strcmp(it->name, key) == 0 &&
			    strlen(key) == p->ev.data.scalar.length)
				break;
		if (it->name == NULL) {
			names_of(items, names, sizeof(names));
			if (owner)
				return fail_at(p, p->ev.start_mark,
				    "unknown key \"%s\" in %s (known: %s)",
				    key, owner->name, names);
			return fail_at(p, p->ev.start_mark,
			    "unknown key \"%s\" (known: %s)", key, names);
		}
		i = item_index(items, it);
		if (s.set[i])
			return fail_at(p, p->ev.start_mark,
			    "duplicate key \"%s\" (first at line %zu)", key,
			    s.mark[i].line + 1);
		s.set[i] = true;
		s.mark[i] = p->ev.start_mark;
		if ((rc = next(p)) < 0)
			return rc;
		if ((rc = parse_value(p, it, base)) < 0)
			return rc;
	}
	if (owner && owner->check &&
	    (e = owner->check(p, base, &s, &at)) != NULL)
		return fail_at(p, at, "%s: %s", owner->name, e);
	return 0;
}

/* ------------------------------------------------------------ defaults */

/* Split a list default on ", " and parse each element. */
static void
apply_list_default(const struct cfg_item *it, void *dst)
{
	struct parser p;
	char buf[512], *s, *save = NULL;

	memset(&p, 0, sizeof(p));
	snprintf(buf, sizeof(buf), "%s", it->def);
	for (s = strtok_r(buf, ", ", &save); s; s = strtok_r(NULL, ", ", &save))
		if (it->type->parse(&p, it, s, dst) != NULL)
			abort();	/* a bad default is a bug in the table */
}

static void
apply_defaults(const struct cfg_item *items, void *base)
{
	const struct cfg_item *it;
	struct parser p;

	memset(&p, 0, sizeof(p));
	for (it = items; it->name; it++) {
		if (it->type == NULL) {
			if (!is_list(it))
				apply_defaults(it->sub, base);
			continue;
		}
		if (it->def == NULL)
			continue;
		if (it->type->list)
			apply_list_default(it, AT(base, it->off));
		else if (it->type->parse(&p, it, it->def, AT(base, it->off)))
			abort();	/* a bad default is a bug in the table */
	}
}

static void
free_items(const struct cfg_item *items, void *base)
{
	const struct cfg_item *it;

	for (it = items; it->name; it++) {
		if (is_list(it)) {
			struct config_tunnels *l = AT(base, it->off);

			free(l->v);
			l->v = NULL;
			l->n = 0;
		} else if (it->type == NULL) {
			free_items(it->sub, base);
		} else if (it->type->free) {
			it->type->free(AT(base, it->off));
		}
	}
}

/* ------------------------------------------------------------ entry points */

static int
parse_doc(struct parser *p, const struct cfg_item *items)
{
	int rc;

	if ((rc = next(p)) < 0)		/* STREAM-START */
		return rc;
	if ((rc = next(p)) < 0)
		return rc;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return 0;		/* empty file or only comments */
	if ((rc = next(p)) < 0)		/* after DOCUMENT-START */
		return rc;
	if (!event_is_null(&p->ev)) {
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return fail_at(p, p->ev.start_mark, "expected a mapping "
			    "of keys at the top, found %s", event_what(&p->ev));
		if ((rc = parse_mapping(p, items, p->cfg, NULL)) < 0)
			return rc;
	}
	if ((rc = next(p)) < 0)		/* DOCUMENT-END */
		return rc;
	if ((rc = next(p)) < 0)
		return rc;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return fail_at(p, p->ev.start_mark,
		    "only one document (---) is allowed");
	return 0;
}

static int
parse_with(const char *name, const void *buf, size_t len,
    const struct cfg_item *items, int origin, struct config *c, char *err)
{
	struct parser p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.err = err;
	p.cfg = c;
	p.origin = origin;
	err[0] = '\0';
	if (!yaml_parser_initialize(&p.yp)) {
		snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p.yp, buf, len);
	rc = parse_doc(&p, items);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	return rc;
}

int
config_defaults(struct config **out)
{
	struct config *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	apply_defaults(top_items, c);
	*out = c;
	return 0;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free_items(top_items, c);
	free(c->path);
	free(c);
}

int
config_parse(const char *name, const void *buf, size_t len,
    struct config **out, char *err)
{
	struct config *c;
	int rc;

	if ((rc = config_defaults(&c)) < 0) {
		snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", name);
		return rc;
	}
	if ((rc = parse_with(name, buf, len, top_items, TUN_ORIGIN_CONFIG, c,
	    err)) < 0) {
		config_free(c);
		return rc;
	}
	if ((c->path = strdup(name)) == NULL) {
		config_free(c);
		snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", name);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* Read a whole regular file of at most CONFIG_MAX_BYTES. */
static int
read_file(const char *path, char **buf, size_t *len, char *err)
{
	struct stat st;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, CONFIG_ERR_LEN, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, CONFIG_ERR_LEN, "%s: not a regular file of at "
		    "most %d bytes", path, CONFIG_MAX_BYTES);
		rc = -EINVAL;
		goto out_close;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", path);
		goto out_close;
	}
	n = read(fd, *buf, (size_t)st.st_size + 1);
	if (n < 0 || n > st.st_size) {
		rc = n < 0 ? -errno : -EAGAIN;
		snprintf(err, CONFIG_ERR_LEN, "%s: %s", path,
		    n < 0 ? strerror(errno) : "changed while read");
		free(*buf);
		goto out_close;
	}
	*len = (size_t)n;
	rc = 0;
out_close:
	close(fd);
	return rc;
}

int
config_load(const char *path, struct config **out, char *err)
{
	size_t len;
	char *buf;
	int rc;

	if ((rc = read_file(path, &buf, &len, err)) < 0)
		return rc;
	rc = config_parse(path, buf, len, out, err);
	sodium_memzero(buf, len);	/* it may hold the secret */
	free(buf);
	return rc;
}

int
config_load_tunnels(const char *path, struct config_tunnels *exports,
    struct config_tunnels *imports, char *err)
{
	struct config c;
	size_t len;
	char *buf;
	int rc;

	memset(exports, 0, sizeof(*exports));
	memset(imports, 0, sizeof(*imports));
	if ((rc = read_file(path, &buf, &len, err)) < 0)
		return rc == -ENOENT ? 0 : rc;
	memset(&c, 0, sizeof(c));
	rc = parse_with(path, buf, len, tunnels_items, TUN_ORIGIN_RUNTIME, &c,
	    err);
	free(buf);
	if (rc < 0) {
		free(c.exports.v);
		free(c.imports.v);
		return rc;
	}
	*exports = c.exports;
	*imports = c.imports;
	return 0;
}

const char *
config_key_file(const struct config *c, char *buf, size_t cap)
{
	if (c->key_file[0] != '\0')
		snprintf(buf, cap, "%s", c->key_file);
	else
		snprintf(buf, cap, "%s/identity", c->state_dir);
	return buf;
}

/* ------------------------------------------------------------ printing */

static void
print_help(FILE *fp, const char *indent, const char *help)
{
	const char *s = help, *sp;
	size_t col;

	/* wrap at about 72 columns */
	while (*s) {
		fprintf(fp, "%s#", indent);
		col = strlen(indent) + 1;
		while (*s) {
			sp = strchr(s, ' ');
			size_t w = sp ? (size_t)(sp - s) : strlen(s);

			if (col > strlen(indent) + 1 && col + 1 + w > 72)
				break;
			fprintf(fp, " %.*s", (int)w, s);
			col += 1 + w;
			s += w;
			while (*s == ' ')
				s++;
		}
		fputc('\n', fp);
	}
}

static void
print_entry(FILE *fp, const struct cfg_item *items, const void *d)
{
	const struct cfg_item *it;

	fputs("  - { ", fp);
	for (it = items; it->name; it++) {
		if (it->type->list && ((const struct tundef *)d)->nallow == 0)
			continue;	/* allow: [] is the default */
		fprintf(fp, "%s%s: ", it == items ? "" : ", ", it->name);
		it->type->print(fp, it, CAT(d, it->off));
	}
	fputs(" }\n", fp);
}

static void
print_items(const struct config *c, const struct cfg_item *items, FILE *fp,
    bool help, const char *indent)
{
	const struct cfg_item *it;
	size_t i;

	for (it = items; it->name; it++) {
		if (help && it->help)
			print_help(fp, indent, it->help);
		if (is_list(it)) {
			const struct config_tunnels *l = CAT(c, it->off);

			fprintf(fp, "%s%s:%s\n", indent, it->name,
			    l->n ? "" : " []");
			for (i = 0; i < l->n; i++)
				print_entry(fp, it->sub, &l->v[i]);
		} else if (it->type == NULL) {
			fprintf(fp, "%s%s:\n", indent, it->name);
			print_items(c, it->sub, fp, help, "  ");
		} else if (it->type == &type_secret) {
			fprintf(fp, "%s#%s: %s\n", indent, it->name,
			    c->secret ? "(set, not shown)" : "(not set)");
		} else {
			fprintf(fp, "%s%s: ", indent, it->name);
			it->type->print(fp, it, CAT(c, it->off));
			fputc('\n', fp);
		}
		if (help && indent[0] == '\0')
			fputc('\n', fp);
	}
}

void
config_print(const struct config *c, FILE *fp, bool help)
{
	fprintf(fp, "# effective configuration%s%s\n", c->path ? " of " : "",
	    c->path ? c->path : " (defaults)");
	print_items(c, top_items, fp, help, "");
}

static void
print_key_ref(FILE *fp, const struct cfg_item *items, const char *prefix)
{
	const struct cfg_item *it;
	char name[128], words[128];

	for (it = items; it->name; it++) {
		snprintf(name, sizeof(name), "%s%s", prefix, it->name);
		if (it->type == NULL) {
			fprintf(fp, "%s%s\n", name, is_list(it) ?
			    "  (list of mappings)" : "  (section)");
			if (it->help)
				print_help(fp, "    ", it->help);
			snprintf(name, sizeof(name), "%s%s%s", prefix, it->name,
			    is_list(it) ? "[]." : ".");
			print_key_ref(fp, it->sub, name);
			continue;
		}
		fprintf(fp, "%s  ", name);
		if (it->words) {
			words_list(it, words, sizeof(words), " |");
			fputs(words + 1, fp);
		} else {
			fputs(it->type->name, fp);
		}
		if (it->type == &type_port)
			fprintf(fp, " %ld-%ld", it->min, it->max);
		if (it->required)
			fputs(", required", fp);
		else if (it->def && it->def[0])
			fprintf(fp, ", default %s", it->def);
		else if (it->def)
			fputs(", default empty", fp);
		fputc('\n', fp);
		if (it->help)
			print_help(fp, "    ", it->help);
	}
}

void
config_print_keys(FILE *fp)
{
	print_key_ref(fp, top_items, "");
}

void
config_write_tunnels(FILE *fp, const struct tundef *defs, size_t n)
{
	const struct cfg_item *it;
	size_t i;
	bool any;

	for (it = tunnels_items; it->name; it++) {
		any = false;
		for (i = 0; i < n; i++) {
			if ((int)defs[i].kind != it->kind)
				continue;
			if (!any)
				fprintf(fp, "%s:\n", it->name);
			any = true;
			print_entry(fp, it->sub, &defs[i]);
		}
		if (!any)
			fprintf(fp, "%s: []\n", it->name);
	}
}
