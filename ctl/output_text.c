/*
 * output_text.c - hypernatctl's output for people
 */
#include <stdio.h>
#include <string.h>

#include "hctl.h"

static void
text_begin(const char *cmd)
{
}

/* "2 open connections (5 opened), in 1200 B / 10 datagrams, out ..., 0 dropped" */
static void
print_traffic(const char *prefix, const struct traffic_info *t, bool conns)
{
	printf("%s", prefix);
	if (conns)
		printf("%u open connection%s (%llu opened), ", t->conns_open,
		    t->conns_open == 1 ? "" : "s",
		    (unsigned long long)t->conns_total);
	printf("in %llu B / %llu datagrams, out %llu B / %llu datagrams, "
	    "%llu dropped\n", (unsigned long long)t->bytes_in,
	    (unsigned long long)t->dgrams_in, (unsigned long long)t->bytes_out,
	    (unsigned long long)t->dgrams_out, (unsigned long long)t->drops);
}

static void
text_status(const struct status_info *s)
{
	printf("hypernatd %s\n", s->version);
	printf("  pid:        %u\n", s->pid);
	printf("  uptime:     %llus\n", (unsigned long long)s->uptime);
	printf("  key:        %s\n", s->key);
	printf("  config:     %s\n", s->config_path[0] ? s->config_path :
	    "(none, defaults)");
	printf("  state dir:  %s\n", s->state_dir);
	printf("  log level:  %s\n", s->log_level);
	printf("  dht:        %s\n", s->dht_state);
	if (s->has_node) {
		printf("  dht node:   %s mode, %s, %s\n", s->dht_mode,
		    s->persistent ? "persistent" : "ephemeral",
		    s->firewalled ? "firewalled" : "not firewalled");
		printf("  dht table:  %u node%s (%u bootstrap node%s "
		    "configured)\n", s->nodes, s->nodes == 1 ? "" : "s",
		    s->nbootstrap, s->nbootstrap == 1 ? "" : "s");
		printf("  public:     %s\n", s->public_addr ? s->public_addr :
		    "unknown");
		printf("  udp:        %s (server), port %u (client)\n",
		    s->dht_addr, s->client_port);
	}
	printf("  transport:  %s\n", s->transport);
	printf("  tunnels:    %u export%s, %u import%s (%u added at runtime)\n",
	    s->exports, s->exports == 1 ? "" : "s", s->imports,
	    s->imports == 1 ? "" : "s", s->runtime);
	if (s->traffic.has)
		print_traffic("  traffic:    ", &s->traffic, true);
}

static void
text_key(const char *key, const char *client_key)
{
	printf("key:        %s\n", key);
	printf("client key: %s\n", client_key);
}

static void
text_list_begin(const char *what)
{
}

/* "udp/7913" */
static const char *
tunnel_id(const struct tunnel_info *t, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%u", t->proto, t->port);
	return buf;
}

static void
print_header(const char *what)
{
	if (strcmp(what, "tunnels") == 0)
		printf("%-7s %-12s %-21s %-44s %-10s %s\n", "KIND", "TUNNEL",
		    "LOCAL", "PEER", "ORIGIN", "STATE");
	else
		printf("%-7s %-12s %-44s %-8s %s\n", "KIND", "TUNNEL", "PEER",
		    "PATH", "STATE");
}

static size_t rows;

static void
text_tunnel(const struct tunnel_info *t)
{
	char id[32], origin[24], local[32];
	size_t i;

	if (rows++ == 0)
		print_header("tunnels");
	if (t->config_line)
		snprintf(origin, sizeof(origin), "config:%u", t->config_line);
	else
		snprintf(origin, sizeof(origin), "%s", t->origin);
	if (t->kind[0] == 'e')
		snprintf(local, sizeof(local), "%s:%u", t->host, t->port);
	else
		snprintf(local, sizeof(local), "%s", t->listen);
	printf("%-7s %-12s %-21s %-44s %-10s %s\n", t->kind,
	    tunnel_id(t, id, sizeof(id)), local, t->peer[0] ? t->peer : "-",
	    origin, t->state);
	for (i = 0; i < t->nallow; i++)
		printf("%-7s %-12s allow %s\n", "", "", t->allow[i]);
}

static void
text_peer(const struct tunnel_info *t)
{
	char id[32];

	char paths[40] = "";
	size_t k;

	if (rows++ == 0)
		print_header("peers");
	/* the PATH column: the paths of the open connections, once each */
	for (k = 0; k < t->nconns; k++) {
		if (strstr(paths, t->conns[k].path) != NULL)
			continue;
		if (strlen(paths) + strlen(t->conns[k].path) + 2 > sizeof(paths))
			break;
		if (paths[0])
			strcat(paths, ",");
		strcat(paths, t->conns[k].path);
	}
	printf("%-7s %-12s %-44s %-8s %s\n", t->kind,
	    tunnel_id(t, id, sizeof(id)), t->peer[0] ? t->peer : "-",
	    paths[0] ? paths : "-", t->state);
	for (k = 0; k < t->nconns; k++) {
		const struct conn_info *c = &t->conns[k];

		printf("        %s %s via %s, local %s, rtt %.1f ms, %s "
		    "datagrams\n", c->key, c->path, c->remote, c->local,
		    c->rtt_us / 1000.0, c->secure ? "encrypted" : "plaintext");
		print_traffic("          ", &c->traffic, false);
	}
	if (t->traffic.has && t->traffic.conns_open > t->nconns)
		printf("        (%u more connections)\n",
		    (unsigned)(t->traffic.conns_open - t->nconns));
	if (t->traffic.has)
		print_traffic("        total: ", &t->traffic, true);
}

static void
text_list_end(const char *what, size_t n)
{
	if (n == 0)
		printf("no %s\n", strcmp(what, "peers") == 0 ?
		    "tunnels, so no peers" : "tunnels");
	rows = 0;
}

static void
text_added(const struct tunnel_info *t, const char *base_key)
{
	if (t->kind[0] == 'i') {
		printf("import %s/%u from %s listens on %s\n", t->proto,
		    t->port, t->peer, t->listen);
		return;
	}
	printf("export %s/%u of %s:%u under key %s\n", t->proto, t->port,
	    t->host, t->port, base_key);
	printf("to use it from another machine, run there:\n");
	printf("  hypernatctl add %s %u peer %s\n", t->proto, t->port,
	    base_key);
	printf("or, with hyper-nat:\n");
	printf("  hyper-nat client -l %u -r %u --protocol %s -k %s\n",
	    t->port, t->port, t->proto, base_key);
}

static void
text_result(const char *cmd, int err, const char *msg)
{
	if (err < 0)
		fprintf(stderr, "hypernatctl %s: %s\n", cmd,
		    msg && msg[0] ? msg : strerror(-err));
	else if (msg && msg[0] && strcmp(cmd, "add") != 0)
		printf("%s\n", msg);
}

static void
text_end(void)
{
}

const struct output output_text = {
	.begin = text_begin,
	.status = text_status,
	.key = text_key,
	.list_begin = text_list_begin,
	.tunnel = text_tunnel,
	.peer = text_peer,
	.list_end = text_list_end,
	.added = text_added,
	.result = text_result,
	.end = text_end,
};
