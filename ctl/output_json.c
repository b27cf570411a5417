/*
 * output_json.c - hypernatctl -j: one JSON document per run
 *
 * The document is an object: "command", then what the command returns
 * ("status", "key", "tunnels", "peers", "tunnel" and "import"), then
 * "ok" and, when there is one, "message"; on failure "error" with the
 * errno name and code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hctl.h"
#include "json.h"

static struct json j;
static bool ok = true;
static bool in_list;

static void
js_begin(const char *cmd)
{
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "command", cmd);
}

static void
traffic_obj(const char *key, const struct traffic_info *t, bool conns)
{
	if (!t->has) {
		json_null(&j, key);
		return;
	}
	json_obj_begin(&j, key);
	if (conns) {
		json_uint(&j, "connections_open", t->conns_open);
		json_uint(&j, "connections_total", t->conns_total);
	}
	json_uint(&j, "bytes_in", t->bytes_in);
	json_uint(&j, "bytes_out", t->bytes_out);
	json_uint(&j, "datagrams_in", t->dgrams_in);
	json_uint(&j, "datagrams_out", t->dgrams_out);
	json_uint(&j, "drops", t->drops);
	json_obj_end(&j);
}

static void
js_status(const struct status_info *s)
{
	json_obj_begin(&j, "status");
	json_str(&j, "version", s->version);
	json_uint(&j, "pid", s->pid);
	json_uint(&j, "uptime_seconds", s->uptime);
	json_str(&j, "key", s->key);
	if (s->config_path[0])
		json_str(&j, "config", s->config_path);
	else
		json_null(&j, "config");
	json_str(&j, "state_dir", s->state_dir);
	json_str(&j, "log_level", s->log_level);
	json_str(&j, "dht", s->dht_state);
	if (s->has_node) {
		json_obj_begin(&j, "dht_node");
		json_str(&j, "mode", s->dht_mode);
		json_bool(&j, "bootstrapped", s->bootstrapped);
		json_bool(&j, "persistent", s->persistent);
		json_bool(&j, "firewalled", s->firewalled);
		if (s->public_addr)
			json_str(&j, "public_address", s->public_addr);
		else
			json_null(&j, "public_address");
		json_uint(&j, "table_size", s->nodes);
		json_uint(&j, "bootstrap_nodes", s->nbootstrap);
		json_str(&j, "address", s->dht_addr);
		json_uint(&j, "client_port", s->client_port);
		json_obj_end(&j);
	}
	json_str(&j, "transport", s->transport);
	json_obj_begin(&j, "tunnels");
	json_uint(&j, "exports", s->exports);
	json_uint(&j, "imports", s->imports);
	json_uint(&j, "runtime", s->runtime);
	json_obj_end(&j);
	traffic_obj("traffic", &s->traffic, true);
	json_obj_end(&j);
}

static void
js_key(const char *key, const char *client_key)
{
	json_str(&j, "key", key);
	json_str(&j, "client_key", client_key);
}

static void
js_list_begin(const char *what)
{
	json_arr_begin(&j, what);
	in_list = true;
}

static void
tunnel_fields(const struct tunnel_info *t, bool peers)
{
	size_t i;

	json_str(&j, "kind", t->kind);
	json_str(&j, "proto", t->proto);
	json_uint(&j, "port", t->port);
	if (t->kind[0] == 'e') {
		json_str(&j, "host", t->host);
		if (!peers) {
			json_arr_begin(&j, "allow");
			for (i = 0; i < t->nallow; i++)
				json_str(&j, NULL, t->allow[i]);
			json_arr_end(&j);
		}
	} else {
		json_str(&j, "peer", t->peer);
		json_str(&j, "listen", t->listen);
	}
	json_str(&j, "service_key", t->service_key);
	if (!peers) {
		json_str(&j, "origin", t->origin);
		if (t->config_line)
			json_uint(&j, "config_line", t->config_line);
		else
			json_null(&j, "config_line");
	}
}

static void
js_tunnel(const struct tunnel_info *t)
{
	json_obj_begin(&j, NULL);
	tunnel_fields(t, false);
	json_str(&j, "state", t->state);
	json_obj_end(&j);
}

static void
js_peer(const struct tunnel_info *t)
{
	size_t k;

	json_obj_begin(&j, NULL);
	tunnel_fields(t, true);
	json_arr_begin(&j, "connections");
	for (k = 0; k < t->nconns; k++) {
		const struct conn_info *c = &t->conns[k];

		json_obj_begin(&j, NULL);
		json_str(&j, "key", c->key);
		json_str(&j, "path", c->path);
		json_str(&j, "remote", c->remote);
		json_str(&j, "local", c->local);
		json_uint(&j, "rtt_us", c->rtt_us);
		json_bool(&j, "encrypted", c->secure);
		traffic_obj("traffic", &c->traffic, false);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	traffic_obj("traffic", &t->traffic, true);
	json_str(&j, "state", t->state);
	json_obj_end(&j);
}

static void
js_list_end(const char *what, size_t n)
{
	if (in_list)
		json_arr_end(&j);
	in_list = false;
}

static void
js_added(const struct tunnel_info *t, const char *base_key)
{
	char cmd[200];

	json_obj_begin(&j, "tunnel");
	tunnel_fields(t, false);
	json_str(&j, "state", t->state);
	json_obj_end(&j);
	if (t->kind[0] != 'e')
		return;
	json_obj_begin(&j, "import");
	json_str(&j, "key", base_key);
	snprintf(cmd, sizeof(cmd), "hypernatctl add %s %u peer %s", t->proto,
	    t->port, base_key);
	json_str(&j, "hypernatctl", cmd);
	snprintf(cmd, sizeof(cmd), "hyper-nat client -l %u -r %u --protocol "
	    "%s -k %s", t->port, t->port, t->proto, base_key);
	json_str(&j, "hyper_nat", cmd);
	json_obj_end(&j);
}

static void
js_result(const char *cmd, int err, const char *msg)
{
	const char *name;

	js_list_end(NULL, 0);	/* a failure may end a list early */
	if (err < 0) {
		ok = false;
		json_obj_begin(&j, "error");
		name = strerrorname_np(-err);
		json_str(&j, "errno", name ? name : "?");
		json_int(&j, "code", err);
		json_str(&j, "message", msg && msg[0] ? msg : strerror(-err));
		json_obj_end(&j);
	} else if (msg && msg[0]) {
		json_str(&j, "message", msg);
	}
}

static void
js_end(void)
{
	json_bool(&j, "ok", ok);
	json_obj_end(&j);
}

const struct output output_json = {
	.begin = js_begin,
	.status = js_status,
	.key = js_key,
	.list_begin = js_list_begin,
	.tunnel = js_tunnel,
	.peer = js_peer,
	.list_end = js_list_end,
	.added = js_added,
	.result = js_result,
	.end = js_end,
};
