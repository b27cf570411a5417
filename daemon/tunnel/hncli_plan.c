/*
 * hncli_plan.c - hyper-nat 1.1.3's options (lib/cli.js, lib/config.js)
 * turned into a list of mappings, printing what hyper-nat prints up to
 * the point where its mappings start
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "base58.h"
#include "hex.h"
#include "hncli.h"
#include "hncli_json.h"
#include "tunutil.h"

#define MAX_MAPS	256

struct opts {
	const char	*cmd;
	const char	*port, *host, *protocol, *secret;
	const char	*local_port, *remote_port, *public_key;
	const char	*config;
	bool		 help;
};

static int
plan_add(struct hncli_plan *plan, struct hncli_map **out)
{
	struct hncli_map *nv;

	if (plan->n >= MAX_MAPS)
		return -E2BIG;
	if ((nv = realloc(plan->v, (plan->n + 1) * sizeof(*nv))) == NULL)
		return -ENOMEM;
	plan->v = nv;
	*out = memset(&nv[plan->n++], 0, sizeof(*nv));
	return 0;
}

void
hncli_plan_free(struct hncli_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->v[i].secret) {
			sodium_memzero(plan->v[i].secret,
			    strlen(plan->v[i].secret));
			free(plan->v[i].secret);
		}
	}
	free(plan->v);
	plan->v = NULL;
	plan->n = 0;
}

/* ------------------------------------------------------------ values */

/* JavaScript parseInt(s, 10) for what hyper-nat does with it; false for NaN. */
static bool
js_parse_int(const char *s, long long *out)
{
	long long v = 0;
	bool neg = false, any = false;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
	    *s == '\f' || *s == '\v')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++) {
		any = true;
		if (v < 1000000000000LL)
			v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return any;
}

/* String(number) for a JSON number that is an integer; false otherwise. */
static bool
js_number_text(const char *num, char *out, size_t cap, long long *val)
{
	double d = strtod(num, NULL);

	if (!isfinite(d) || d != floor(d) || fabs(d) >= 1e15)
		return false;
	if (d == 0)
		d = 0;	/* String(-0) is "0" */
	snprintf(out, cap, "%.0f", d);
	*val = (long long)d;
	return true;
}

/* A port as Node's listen/connect takes it: an integer or numeric string. */
static bool
port_value(const char *text, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end != '\0' || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* lib/config.js parseProtocolList: whitespace is a separator too. */
static int
parse_protocols(const char *arg, size_t nports, FILE *err,
    enum tun_proto **out, size_t *n)
{
	char *copy, *tok, *save = NULL;
	enum tun_proto *v = NULL, *nv, p;
	size_t cnt = 0;
	int pi;

	if ((copy = strdup(arg ? arg : "udp")) == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t\n\r\f\v", &save); tok;
	    tok = strtok_r(NULL, ", \t\n\r\f\v", &save)) {
		if (tunutil_proto_parse(tok, &pi) != 0) {
			fprintf(err, "Invalid protocol '%s', defaulting to "
			    "'udp'\n", tok);
			pi = TUN_UDP;
		}
		p = (enum tun_proto)pi;
		if (cnt >= MAX_MAPS ||
		    (nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			free(v);
			free(copy);
			return -ENOMEM;
		}
		v = nv;
		v[cnt++] = p;
	}
	free(copy);
	if (cnt == 0) {
		if ((v = malloc(sizeof(*v))) == NULL)
			return -ENOMEM;
		v[cnt++] = TUN_UDP;
	}
	if (cnt == 1 && nports > 1) {
		if ((nv = realloc(v, nports * sizeof(*v))) == NULL) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		for (size_t i = 1; i < nports; i++)
			v[i] = v[0];
		cnt = nports;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* lib/config.js parsePortList on a string: NaN entries are dropped. */
static size_t
parse_ports(const char *arg, long long *v, size_t cap)
{
	char *copy, *tok, *save = NULL;
	size_t n = 0;
	long long x;

	if (arg == NULL || (copy = strdup(arg)) == NULL)
		return 0;
	/* split(',') keeps empty fields; parseInt('') is NaN, dropped */
	for (tok = strtok_r(copy, ",", &save); tok && n < cap;
	    tok = strtok_r(NULL, ",", &save))
		if (js_parse_int(tok, &x))
			v[n++] = x;
	free(copy);
	return n;
}

static void
random_secret(const struct hncli_io *io, char out[65])
{
	uint8_t b[32];

	io->random(b, sizeof(b));
	hex_encode(out, b, sizeof(b));
	out[64] = '\0';
	sodium_memzero(b, sizeof(b));
}

/* base58 of the base key a secret gives (DHT.keyPair(DHT.hash(secret))). */
static int
secret_key_b58(const char *secret, char *out, size_t cap)
{
	struct keypair kp;
	int r;

	if ((r = keys_from_secret(&kp, secret, strlen(secret))) != 0)
		return r;
	r = base58_encode(out, cap, kp.pk, KEYS_PK_LEN);
	keys_wipe(&kp);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------ printing */

/* ConfigManager.showConsolidatedCommand, for the server mappings. */
static void
print_consolidated(const struct hncli_io *io, const struct hncli_plan *plan)
{
	const struct hncli_map *first = NULL;
	char key[64], ports[2048] = "", protos[2048] = "";
	size_t i;

	for (i = 0; i < plan->n; i++) {
		const struct hncli_map *m = &plan->v[i];

		if (m->mode != HNCLI_SERVER)
			continue;
		if (first == NULL)
			first = m;
		else {
			strncat(ports, ",", sizeof(ports) - strlen(ports) - 1);
			strncat(protos, ",", sizeof(protos) - strlen(protos) - 1);
		}
		strncat(ports, m->port_text, sizeof(ports) - strlen(ports) - 1);
		strncat(protos, tunutil_proto_name(m->proto),
		    sizeof(protos) - strlen(protos) - 1);
	}
	if (first == NULL || secret_key_b58(first->secret, key, sizeof(key)))
		return;
	fprintf(io->out, "\n=== CLIENT CONNECTION COMMAND ===\n");
	fprintf(io->out, "npx hyper-nat client -l %s -r %s --protocol %s -k %s\n",
	    ports, ports, protos, key);
	fprintf(io->out, "=== END COMMAND ===\n\n");
}

/*
 * ModeHandler.server with showCommands.  hyper-nat prints "-p PORT", which
 * its own client rejects; the working form is printed instead.
 */
static void
print_mapping_command(const struct hncli_io *io, const struct hncli_map *m)
{
	char key[64], up[8];
	const char *pn = tunutil_proto_name(m->proto);
	size_t i;

	if (secret_key_b58(m->secret, key, sizeof(key)))
		return;
	for (i = 0; pn[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)(pn[i] - 'a' + 'A');
	up[i] = '\0';
	fprintf(io->out, "\n=== CLIENT CONNECTION COMMAND FOR %s:%s ===\n", up,
	    m->port_text);
	fprintf(io->out, "npx hyper-nat client -l %s -r %s --protocol %s -k %s\n",
	    m->port_text, m->port_text, pn, key);
	fprintf(io->out, "=== END COMMAND ===\n\n");
}

/* ------------------------------------------------------------ command line */

static const struct {
	const char	*name;
	char		 alias;
	size_t		 off;
} option_table[] = {
	{ "port", 'p', offsetof(struct opts, port) },
	{ "host", 0, offsetof(struct opts, host) },
	{ "protocol", 0, offsetof(struct opts, protocol) },
	{ "proto", 0, offsetof(struct opts, protocol) },
	{ "secret", 's', offsetof(struct opts, secret) },
	{ "local-port", 'l', offsetof(struct opts, local_port) },
	{ "localPort", 0, offsetof(struct opts, local_port) },
	{ "remote-port", 'r', offsetof(struct opts, remote_port) },
	{ "remotePort", 0, offsetof(struct opts, remote_port) },
	{ "public-key", 'k', offsetof(struct opts, public_key) },
	{ "publicKey", 0, offsetof(struct opts, public_key) },
	{ "config", 'c', offsetof(struct opts, config) },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "hypernatd <command> [options]\n\n"
	    "Commands:\n"
	    "  hypernatd server  Run as server mode\n"
	    "  hypernatd client  Run as client mode\n"
	    "  hypernatd options Run options.json (or -c FILE)\n\n"
	    "Options:\n"
	    "  -c, --config   Configuration file path (default: options.json)\n"
	    "  -h, --help     Show help\n\n"
	    "server: -p PORTS [--protocol tcp|udp|tcpudp,...] [--host H] [-s SECRET]\n"
	    "client: -l LOCALPORTS -r REMOTEPORTS [--protocol ...] -k PUBLICKEY\n\n"
	    "Examples:\n"
	    "  hypernatd server -p 3000 -s mysecret\n"
	    "  hypernatd server -p 3000,3001,3002 --protocol udp,tcp,tcpudp -s mysecret\n"
	    "  hypernatd client -l 8080 -r 80 -k <publickey>\n"
	    "  hypernatd client -l 8080,8081 -r 80,443 --protocol udp,tcpudp -k <publickey>\n"
	    "  hypernatd options -c myconfig.json\n");
}

/* yargs-like: -x V, -x=V, --name V, --name=V; unknown options ignored. */
static int
parse_argv(int argc, char **argv, struct opts *o, FILE *err)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *val = NULL, *eq;
		size_t nl, k;

		if (a[0] != '-' || a[1] == '\0') {
			if (o->cmd == NULL)
				o->cmd = a;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
			continue;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		nl = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < sizeof(option_table) / sizeof(option_table[0]);
		    k++) {
			if (a[1] == '-' ? (strlen(option_table[k].name) == nl &&
			    strncmp(option_table[k].name, name, nl) == 0) :
			    (nl == 1 && option_table[k].alias == name[0]))
				break;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		if (k == sizeof(option_table) / sizeof(option_table[0])) {
			fprintf(err, "warning: unknown option %s ignored\n", a);
			continue;
		}
		if (val == NULL) {
			fprintf(err, "Not enough arguments following: %.*s\n",
			    (int)nl, name);
			return 1;
		}
		*(const char **)(void *)((char *)o + option_table[k].off) = val;
	}
	return 0;
}

static int
check_port(long long p, FILE *err)
{
	if (p < 0 || p > 65535) {
		fprintf(err, "Error: invalid port %lld\n", p);
		return 1;
	}
	return 0;
}

static int
plan_server(const struct opts *o, const struct hncli_io *io,
    struct hncli_plan *plan)
{
	long long ports[MAX_MAPS];
	enum tun_proto *protos = NULL;
	size_t np, nproto, i;
	uint8_t host[4];
	char secret[65];
	struct hncli_map *m;
	int rc = 1;

	if (o->port == NULL) {
		fprintf(io->err, "Missing required argument: port\n");
		return 1;
	}
	np = parse_ports(o->port, ports, MAX_MAPS);
	if (parse_protocols(o->protocol, np, io->err, &protos, &nproto) != 0)
		return 1;
	if (np == 0) {
		fprintf(io->err, "Error: No valid ports specified\n");
		goto out;
	}
	if (nproto != np) {
		fprintf(io->err, "Error: Number of protocols (%zu) must match "
		    "number of ports (%zu)\n", nproto, np);
		goto out;
	}
	if (addr_parse_ip(o->host ? o->host : "127.0.0.1", host) != 0 &&
	    strcmp(o->host, "localhost") != 0) {
		fprintf(io->err, "Error: --host takes an IPv4 address\n");
		goto out;
	} else if (o->host && strcmp(o->host, "localhost") == 0)
		memcpy(host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	for (i = 0; i < np; i++)
		if (check_port(ports[i], io->err))
			goto out;
	/* argv.secret || generateRandomSecret(): "" counts as absent */
	secret[0] = '\0';
	if (o->secret == NULL || *o->secret == '\0') {
		random_secret(io, secret);
		fprintf(io->out, "Generated random secret: %s\n\n", secret);
	}
	fprintf(io->out, "Starting server mode with %zu port(s)\n", np);
	for (i = 0; i < np; i++) {
		if (plan_add(plan, &m) != 0)
			goto out;
		m->mode = HNCLI_SERVER;
		m->proto = protos[i];
		m->port = (uint16_t)ports[i];
		snprintf(m->port_text, sizeof(m->port_text), "%lld", ports[i]);
		snprintf(m->keyname, sizeof(m->keyname), "%s%s",
		    tunutil_proto_name(m->proto), m->port_text);
		memcpy(m->host, host, 4);
		m->secret = strdup(o->secret && *o->secret ? o->secret : secret);
		if (m->secret == NULL)
			goto out;
	}
	fprintf(io->out, "starting up from config\n");
	print_consolidated(io, plan);
	rc = -1;
out:
	sodium_memzero(secret, sizeof(secret));
	free(protos);
	return rc;
}

static int
plan_client(const struct opts *o, const struct hncli_io *io,
    struct hncli_plan *plan)
{
	long long lp[MAX_MAPS], rp[MAX_MAPS];
	enum tun_proto *protos = NULL;
	size_t nl, nr, nproto, i;
	uint8_t peer[KEYS_PK_LEN];
	struct hncli_map *m;
	int rc = 1;

	if (o->local_port == NULL || o->remote_port == NULL ||
	    o->public_key == NULL) {
		fprintf(io->err, "Missing required argument: %s\n",
		    o->local_port == NULL ? "local-port" :
		    o->remote_port == NULL ? "remote-port" : "public-key");
		return 1;
	}
	nl = parse_ports(o->local_port, lp, MAX_MAPS);
	nr = parse_ports(o->remote_port, rp, MAX_MAPS);
	if (parse_protocols(o->protocol, nl, io->err, &protos, &nproto) != 0)
		return 1;
	if (nl == 0 || nr == 0) {
		fprintf(io->err, "Error: No valid ports specified\n");
		goto out;
	}
	if (nl != nr) {
		fprintf(io->err, "Error: Number of local ports (%zu) must match "
		    "number of remote ports (%zu)\n", nl, nr);
		goto out;
	}
	if (nproto != nl) {
		fprintf(io->err, "Error: Number of protocols (%zu) must match "
		    "number of ports (%zu)\n", nproto, nl);
		goto out;
	}
	for (i = 0; i < nl; i++)
		if (check_port(lp[i], io->err) || check_port(rp[i], io->err))
			goto out;
	if (base58_decode_key(peer, o->public_key) != 0) {
		fprintf(io->err, "Error: invalid public key '%s' (base58 of "
		    "32 bytes)\n", o->public_key);
		goto out;
	}
	fprintf(io->out, "Starting client mode with %zu port mappings\n", nl);
	for (i = 0; i < nl; i++) {
		if (plan_add(plan, &m) != 0)
			goto out;
		m->mode = HNCLI_CLIENT;
		m->proto = protos[i];
		m->port = (uint16_t)rp[i];
		/* localPort || port: 0 means "the remote port" */
		m->local_port = lp[i] ? (uint16_t)lp[i] : (uint16_t)rp[i];
		snprintf(m->port_text, sizeof(m->port_text), "%lld", rp[i]);
		snprintf(m->keyname, sizeof(m->keyname), "%s%s",
		    tunutil_proto_name(m->proto), m->port_text);
		memcpy(m->peer, peer, KEYS_PK_LEN);
	}
	fprintf(io->out, "starting up from config\n");
	rc = -1;
out:
	free(protos);
	return rc;
}

/* ------------------------------------------------------------ options.json */

/* A config value as JavaScript's string concatenation writes it. */
static int
js_text(const struct hj *v, char *out, size_t cap, long long *num,
    bool *numeric)
{
	*numeric = false;
	if (v->type == HJ_NUM) {
		if (!js_number_text(v->s, out, cap, num))
			return -EINVAL;
		*numeric = true;
		return 0;
	}
	if (v->type != HJ_STR || v->len >= cap || memchr(v->s, 0, v->len))
		return -EINVAL;
	memcpy(out, v->s, v->len + 1);
	return 0;
}

static int
config_entry(const struct hj *e, size_t idx, struct hncli_map *m,
    char *err, size_t cap)
{
	const struct hj *mode = hj_get(e, "mode"), *proto = hj_get(e, "proto"),
	    *port = hj_get(e, "port"), *lport = hj_get(e, "localPort"),
	    *host = hj_get(e, "host"), *secret = hj_get(e, "secret"),
	    *pk = hj_get(e, "publicKey");
	char text[24];
	long long n;
	bool numeric;
	int pi;

	if (e->type != HJ_OBJ || mode == NULL || mode->type != HJ_STR ||
	    (strcmp(mode->s, "server") && strcmp(mode->s, "client"))) {
		snprintf(err, cap, "schema[%zu]: mode must be \"server\" or "
		    "\"client\"", idx);
		return -EINVAL;
	}
	m->mode = strcmp(mode->s, "server") == 0 ? HNCLI_SERVER : HNCLI_CLIENT;
	if (proto == NULL || proto->type != HJ_STR ||
	    tunutil_proto_parse(proto->s, &pi) != 0) {
		snprintf(err, cap, "schema[%zu]: proto must be tcp, udp or "
		    "tcpudp", idx);
		return -EINVAL;
	}
	m->proto = (enum tun_proto)pi;
	/* spec §1.1, §6 #17: the key name takes the port as written */
	if (port == NULL || js_text(port, m->port_text, sizeof(m->port_text),
	    &n, &numeric) != 0 || !port_value(m->port_text, &m->port)) {
		snprintf(err, cap, "schema[%zu]: port must be a port number",
		    idx);
		return -EINVAL;
	}
	snprintf(m->keyname, sizeof(m->keyname), "%s%s", proto->s,
	    m->port_text);
	if (m->mode == HNCLI_SERVER) {
		memcpy(m->host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
		if (host && host->type != HJ_NULL && (host->type != HJ_STR ||
		    (strcmp(host->s, "localhost") &&
		    addr_parse_ip(host->s, m->host) != 0))) {
			snprintf(err, cap, "schema[%zu]: host must be an IPv4 "
			    "address", idx);
			return -EINVAL;
		}
		if (secret == NULL || secret->type != HJ_STR ||
		    secret->len == 0 || memchr(secret->s, 0, secret->len)) {
			snprintf(err, cap, "schema[%zu]: a server needs a "
			    "secret (a string)", idx);
			return -EINVAL;
		}
		if ((m->secret = strdup(secret->s)) == NULL)
			return -ENOMEM;
		return 0;
	}
	if (pk == NULL || pk->type != HJ_STR ||
	    base58_decode_key(m->peer, pk->s) != 0) {
		snprintf(err, cap, "schema[%zu]: publicKey must be a base58 "
		    "key", idx);
		return -EINVAL;
	}
	m->local_port = m->port;
	if (lport && lport->type != HJ_NULL && !(lport->type == HJ_NUM &&
	    strtod(lport->s, NULL) == 0) && !(lport->type == HJ_STR &&
	    lport->len == 0)) {
		if (js_text(lport, text, sizeof(text), &n, &numeric) != 0 ||
		    !port_value(text, &m->local_port)) {
			snprintf(err, cap, "schema[%zu]: localPort must be a "
			    "port number", idx);
			return -EINVAL;
		}
	}
	return 0;
}

int
hncli_parse_config(const char *text, size_t len, struct hncli_plan *plan,
    char *err, size_t cap)
{
	const struct hj *schema;
	struct hncli_map *m;
	struct hj *root;
	int r = 0;

	if ((root = hj_parse(text, len, err, cap)) == NULL)
		return -EINVAL;
	schema = hj_get(root, "schema");
	if (schema == NULL || schema->type != HJ_ARR) {
		snprintf(err, cap, "no \"schema\" array");
		r = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < schema->n; i++) {
		if ((r = plan_add(plan, &m)) != 0) {
			snprintf(err, cap, "too many mappings");
			break;
		}
		if ((r = config_entry(&schema->kid[i], i, m, err, cap)) != 0)
			break;
	}
out:
	hj_free(root);
	return r;
}

static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *fp = fopen(path, "r");
	struct stat sb;
	int r = 0;

	if (fp == NULL)
		return -errno;
	if (fstat(fileno(fp), &sb) != 0 || sb.st_size > (1 << 20)) {
		fclose(fp);
		return -EFBIG;
	}
	if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		fclose(fp);
		return -ENOMEM;
	}
	*len = fread(*buf, 1, (size_t)sb.st_size, fp);
	if (ferror(fp))
		r = -EIO;
	fclose(fp);
	return r;
}

/* ConfigManager.runFromConfig's printing for a file's schema. */
static void
print_config_plan(const struct hncli_io *io, const struct hncli_plan *plan,
    const bool *show)
{
	size_t i, nserv = 0;
	bool same = true;
	const char *first = NULL;

	for (i = 0; i < plan->n; i++) {
		if (plan->v[i].mode != HNCLI_SERVER)
			continue;
		nserv++;
		if (first == NULL)
			first = plan->v[i].secret;
		else if (strcmp(first, plan->v[i].secret) != 0)
			same = false;
	}
	fprintf(io->out, "starting up from config\n");
	if (nserv > 1 && same) {
		print_consolidated(io, plan);
		return;
	}
	for (i = 0; i < plan->n; i++)
		if (plan->v[i].mode == HNCLI_SERVER && show[i])
			print_mapping_command(io, &plan->v[i]);
}

static int
plan_config(const struct opts *o, const struct hncli_io *io,
    struct hncli_plan *plan)
{
	const char *path = o->config ? o->config : "options.json";
	char *buf = NULL, err[256], secret[65];
	bool show[MAX_MAPS] = { false };
	struct hncli_map *m;
	struct hj *root;
	size_t len = 0;
	int r;

	r = read_file(path, &buf, &len);
	if (r == 0) {
		r = hncli_parse_config(buf, len, plan, err, sizeof(err));
		if (r == 0 && (root = hj_parse(buf, len, err, sizeof(err)))) {
			const struct hj *s = hj_get(root, "schema");

			for (size_t i = 0; i < plan->n && i < s->n; i++) {
				const struct hj *v = hj_get(&s->kid[i],
				    "showCommands");

				show[i] = v && v->type == HJ_TRUE;
			}
			hj_free(root);
		}
		free(buf);
		if (r == 0) {
			print_config_plan(io, plan, show);
			return -1;
		}
		if (r != -ENOENT) {
			fprintf(io->err, "Error loading config file %s: %s\n",
			    path, err);
			return 1;
		}
		hncli_plan_free(plan);
	} else if (o->config) {
		/* hyper-nat would start default servers; a named file that
		 * cannot be read is an error here */
		fprintf(io->err, "Error loading config file %s: %s\n", path,
		    strerror(-r));
		return 1;
	}
	/* CLI.handleDefaultMode without a schema */
	fprintf(io->out, "No command specified - starting default server mode...\n"
	    "Server will run on localhost:3000 with both UDP and TCP protocols\n"
	    "Use --help to see all available options\n\n");
	random_secret(io, secret);
	fprintf(io->out, "Generated random secret: %s\n\n", secret);
	fprintf(io->out, "Starting servers...\n");
	for (int i = 0; i < 2; i++) {
		if (plan_add(plan, &m) != 0 ||
		    (m->secret = strdup(secret)) == NULL) {
			sodium_memzero(secret, sizeof(secret));
			return 1;
		}
		m->mode = HNCLI_SERVER;
		m->proto = i == 0 ? TUN_UDP : TUN_TCP;
		m->port = 3000;
		snprintf(m->port_text, sizeof(m->port_text), "3000");
		snprintf(m->keyname, sizeof(m->keyname), "%s3000",
		    tunutil_proto_name(m->proto));
		memcpy(m->host, (uint8_t[4]){ 127, 0, 0, 1 }, 4);
	}
	sodium_memzero(secret, sizeof(secret));
	fprintf(io->out, "starting up from config\n");
	print_consolidated(io, plan);
	return -1;
}

int
hncli_plan(int argc, char **argv, const struct hncli_io *io,
    struct hncli_plan *plan)
{
	struct opts o;
	int r;

	memset(&o, 0, sizeof(o));
	memset(plan, 0, sizeof(*plan));
	if ((r = parse_argv(argc, argv, &o, io->err)) != 0)
		return r;
	if (o.help) {
		usage(io->out);
		return 0;
	}
	/* "options": hypernatd's own name for hyper-nat's no-command mode,
	 * since a bare `hypernatd` is the daemon */
	if (o.cmd == NULL || strcmp(o.cmd, "options") == 0)
		r = plan_config(&o, io, plan);
	else if (strcmp(o.cmd, "server") == 0)
		r = plan_server(&o, io, plan);
	else if (strcmp(o.cmd, "client") == 0)
		r = plan_client(&o, io, plan);
	else {
		fprintf(io->err, "Unknown command: %s\n", o.cmd);
		usage(io->err);
		r = 1;
	}
	if (r != -1)
		hncli_plan_free(plan);
	return r;
}
