/*
 * hnd.c - the daemon's state and the actions that change it
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hnd.h"
#include "log.h"
#include "node.h"

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ------------------------------------------------------------ runtime file */

static int
sync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Write every runtime entry of the table to the runtime file: temporary
 * file, fsync, rename, fsync the directory.  Returns 0 or -errno.
 */
static int
save_runtime(struct hnd *h)
{
	struct tundef *defs;
	char tmp[4096];
	size_t i, n = 0;
	FILE *fp;
	int fd, rc = 0;

	if ((defs = calloc(h->tab.n + 1, sizeof(*defs))) == NULL)
		return -ENOMEM;
	for (i = 0; i < h->tab.n; i++)
		if (h->tab.v[i].def.origin == TUN_ORIGIN_RUNTIME)
			defs[n++] = h->tab.v[i].def;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", h->tunnels_path);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = -errno;
		goto out_free;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		close(fd);
		goto out_unlink;
	}
	fputs("# runtime tunnels of hypernatd (hypernatctl add/del); "
	    "rewritten on every change\n", fp);
	config_write_tunnels(fp, defs, n);
	if (fflush(fp) != 0 || fsync(fd) < 0)
		rc = -errno;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, h->tunnels_path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = sync_dir(h->state_dir);
out_unlink:
	if (rc < 0)
		unlink(tmp);
out_free:
	free(defs);
	if (rc < 0)
		log_warnx("state: cannot save %s: %s", h->tunnels_path,
		    strerror(-rc));
	return rc;
}

/* Put a runtime file that does not parse aside, so the daemon can start. */
static void
set_aside(const struct hnd *h, const char *why)
{
	char aside[4096];

	snprintf(aside, sizeof(aside), "%s.broken", h->tunnels_path);
	log_err("state: %s; moved to %s, runtime tunnels not restored", why,
	    aside);
	if (rename(h->tunnels_path, aside) < 0)
		log_warn("state: rename %s", h->tunnels_path);
}

static int
restore_runtime(struct hnd *h)
{
	char err[CONFIG_ERR_LEN], why[160], name[TUN_NAME_LEN];
	struct config_tunnels ex, im;
	struct config_tunnels *lists[2] = { &ex, &im };
	unsigned restored = 0, dropped = 0;
	size_t i, l;
	int rc;

	if ((rc = config_load_tunnels(h->tunnels_path, &ex, &im, err)) < 0) {
		if (rc == -EINVAL)
			set_aside(h, err);
		else
			log_warnx("state: %s", err);
		return 0;
	}
	for (l = 0; l < 2; l++) {
		for (i = 0; i < lists[l]->n; i++) {
			rc = tuntab_add(&h->tab, &lists[l]->v[i], why,
			    sizeof(why));
			if (rc == 0) {
				restored++;
				continue;
			}
			/* the config took this place since it was saved */
			log_warnx("state: %s not restored: %s",
			    tundef_name(&lists[l]->v[i], name), why);
			dropped++;
		}
	}
	free(ex.v);
	free(im.v);
	if (restored)
		log_info("state: restored %u runtime tunnel%s", restored,
		    restored == 1 ? "" : "s");
	if (dropped)
		(void)save_runtime(h);	/* logged; the table is right */
	return 0;
}

/* ------------------------------------------------------------ init */

static int
load_config(const struct hnd_options *opt, struct config **cfg, char *err)
{
	char cerr[CONFIG_ERR_LEN];
	int rc;

	if (opt->config_path == NULL &&
	    access(CONFIG_DEFAULT_PATH, F_OK) < 0 && errno == ENOENT) {
		log_notice("config: %s does not exist, using defaults",
		    CONFIG_DEFAULT_PATH);
		return config_defaults(cfg);
	}
	rc = config_load(opt->config_path ? opt->config_path :
	    CONFIG_DEFAULT_PATH, cfg, cerr);
	if (rc < 0)
		snprintf(err, HND_MSG_LEN, "%s", cerr);
	return rc;
}

/* The config's exports and imports in one new array (n of them). */
static struct tundef *
config_defs(const struct config *c, size_t *n)
{
	struct tundef *all;

	*n = c->exports.n + c->imports.n;
	if ((all = calloc(*n + 1, sizeof(*all))) == NULL)
		return NULL;
	if (c->exports.n)
		memcpy(all, c->exports.v, c->exports.n * sizeof(*all));
	if (c->imports.n)
		memcpy(all + c->exports.n, c->imports.v,
		    c->imports.n * sizeof(*all));
	return all;
}

static int
apply_defs(struct hnd *h, const struct config *c, struct tuntab_diff *diff)
{
	struct tundef *all;
	size_t n;
	int rc;

	if ((all = config_defs(c, &n)) == NULL)
		return -ENOMEM;
	rc = tuntab_apply_config(&h->tab, all, n, diff);
	free(all);
	return rc;
}

int
hnd_init(struct hnd *h, const struct hnd_options *opt, char *err)
{
	char ierr[IDENTITY_ERR_LEN], keyfile[4096];
	struct tuntab_diff diff;
	size_t len;
	int rc;

	memset(h, 0, sizeof(*h));
	h->opt = *opt;
	tuntab_init(&h->tab, opt->tunnel_ops, opt->tunnel_ctx);
	h->started = mono_now();
	if ((rc = load_config(opt, &h->cfg, err)) < 0)
		return rc;
	if (h->cfg->path && (h->config_path = strdup(h->cfg->path)) == NULL)
		goto nomem;
	log_set_level(opt->log_level >= 0 ? opt->log_level :
	    h->cfg->log_level);
	h->socket_path = strdup(opt->socket_path ? opt->socket_path :
	    h->cfg->control_socket);
	h->state_dir = strdup(opt->state_dir ? opt->state_dir :
	    h->cfg->state_dir);
	if (h->socket_path == NULL || h->state_dir == NULL)
		goto nomem;
	len = strlen(h->state_dir) + sizeof("/tunnels");
	if ((h->tunnels_path = malloc(len)) == NULL)
		goto nomem;
	snprintf(h->tunnels_path, len, "%s/tunnels", h->state_dir);
	if (mkdir(h->state_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, HND_MSG_LEN, "state dir %s: %s", h->state_dir,
		    strerror(errno));
		return rc;
	}
	if (h->cfg->key_file[0] != '\0')
		snprintf(keyfile, sizeof(keyfile), "%s", h->cfg->key_file);
	else
		snprintf(keyfile, sizeof(keyfile), "%s/identity", h->state_dir);
	if ((rc = identity_load(&h->id, h->cfg->secret, keyfile, ierr)) < 0) {
		snprintf(err, HND_MSG_LEN, "%s", ierr);
		return rc;
	}
	if ((rc = apply_defs(h, h->cfg, &diff)) < 0) {
		snprintf(err, HND_MSG_LEN, "tunnels: %s", strerror(-rc));
		return rc;
	}
	return restore_runtime(h);
nomem:
	snprintf(err, HND_MSG_LEN, "out of memory");
	return -ENOMEM;
}

void
hnd_free(struct hnd *h)
{
	tuntab_free(&h->tab);
	identity_wipe(&h->id);
	config_free(h->cfg);
	free(h->config_path);
	free(h->socket_path);
	free(h->state_dir);
	free(h->tunnels_path);
	memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------ actions */

int
hnd_tunnel_add(struct hnd *h, const struct tundef *d, char *msg)
{
	char why[160], name[TUN_NAME_LEN];
	struct tundef def = *d;
	int rc, i;

	def.origin = TUN_ORIGIN_RUNTIME;
	def.line = def.column = 0;
	if ((rc = tuntab_add(&h->tab, &def, why, sizeof(why))) < 0) {
		snprintf(msg, HND_MSG_LEN, "%s", why);
		return rc;
	}
	if ((rc = save_runtime(h)) < 0) {
		if ((i = tuntab_find(&h->tab, &def)) >= 0)
			tuntab_remove(&h->tab, (size_t)i);
		snprintf(msg, HND_MSG_LEN, "cannot save %s: %s; nothing "
		    "changed", h->tunnels_path, strerror(-rc));
		return rc;
	}
	snprintf(msg, HND_MSG_LEN, "added %s", tundef_name(&def, name));
	return 0;
}

int
hnd_tunnel_del(struct hnd *h, const struct tundef *d, char *msg)
{
	char name[TUN_NAME_LEN];
	struct tuntab_entry saved;
	int i, rc;

	if ((i = tuntab_find(&h->tab, d)) < 0) {
		snprintf(msg, HND_MSG_LEN, "no %s", tundef_name(d, name));
		return -ENOENT;
	}
	saved = h->tab.v[i];
	if (saved.def.origin == TUN_ORIGIN_CONFIG) {
		snprintf(msg, HND_MSG_LEN, "%s is defined in %s line %u; "
		    "remove it there and reload", tundef_name(d, name),
		    h->config_path ? h->config_path : "the config",
		    saved.def.line);
		return -EPERM;
	}
	tuntab_remove(&h->tab, (size_t)i);
	if ((rc = save_runtime(h)) < 0) {
		char why[160];

		/* put it back, running again, so disk and table agree */
		(void)tuntab_add(&h->tab, &saved.def, why, sizeof(why));
		snprintf(msg, HND_MSG_LEN, "cannot save %s: %s; nothing "
		    "changed", h->tunnels_path, strerror(-rc));
		return rc;
	}
	snprintf(msg, HND_MSG_LEN, "removed %s", tundef_name(d, name));
	return 0;
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Settings a reload cannot apply: name them in msg. */
static void
restart_needed(const struct config *o, const struct config *n, char *buf,
    size_t cap)
{
	size_t off = 0, i;
	bool boot = o->bootstrap.n != n->bootstrap.n;

	for (i = 0; !boot && i < o->bootstrap.n; i++)
		boot = strcmp(o->bootstrap.text[i], n->bootstrap.text[i]) != 0;
	buf[0] = '\0';
#define NOTE(cond, what) do {						\
	if ((cond) && off < cap)					\
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",	\
		    off ? ", " : "", (what));				\
} while (0)
	NOTE(str_differs(o->secret, n->secret) ||
	    str_differs(o->key_file, n->key_file), "identity");
	NOTE(boot, "dht.bootstrap");
	NOTE(o->dht_port != n->dht_port, "dht.port");
	NOTE(memcmp(o->dht_host, n->dht_host, 4) != 0, "dht.host");
	NOTE(o->dht_mode != n->dht_mode, "dht.mode");
	NOTE(str_differs(o->control_socket, n->control_socket),
	    "daemon.control_socket");
	NOTE(str_differs(o->control_group, n->control_group),
	    "daemon.control_group");
	NOTE(str_differs(o->state_dir, n->state_dir), "daemon.state_dir");
#undef NOTE
}

int
hnd_reload(struct hnd *h, struct tuntab_diff *diff, char *msg)
{
	char err[CONFIG_ERR_LEN], later[200];
	struct config *n;
	size_t off;
	int rc;

	memset(diff, 0, sizeof(*diff));
	if (h->config_path == NULL && h->opt.config_path == NULL &&
	    access(CONFIG_DEFAULT_PATH, F_OK) < 0) {
		snprintf(msg, HND_MSG_LEN, "no config file (%s does not "
		    "exist); nothing to reload", CONFIG_DEFAULT_PATH);
		return 0;
	}
	rc = config_load(h->config_path ? h->config_path :
	    (h->opt.config_path ? h->opt.config_path : CONFIG_DEFAULT_PATH),
	    &n, err);
	if (rc < 0) {
		snprintf(msg, HND_MSG_LEN, "%s; nothing changed", err);
		return rc;
	}
	/* on failure the table may hold part of the change: say so below */
	rc = apply_defs(h, n, diff);
	if (diff->dropped_runtime)
		(void)save_runtime(h);
	if (n->log_level != h->cfg->log_level && h->opt.log_level < 0)
		log_set_level(n->log_level);
	restart_needed(h->cfg, n, later, sizeof(later));
	if (h->config_path == NULL && n->path)
		h->config_path = strdup(n->path);
	config_free(h->cfg);
	h->cfg = n;
	off = (size_t)snprintf(msg, HND_MSG_LEN, "%s%s%sreloaded %s: %u "
	    "added, %u removed, %u kept", rc < 0 ? "failed half-way (" : "",
	    rc < 0 ? strerror(-rc) : "", rc < 0 ? "), " : "",
	    h->config_path ? h->config_path : "config", diff->added,
	    diff->removed, diff->kept);
	if (diff->dropped_runtime && off < HND_MSG_LEN)
		off += (size_t)snprintf(msg + off, HND_MSG_LEN - off,
		    ", %u runtime tunnel%s replaced by the config",
		    diff->dropped_runtime, diff->dropped_runtime == 1 ? "" : "s");
	if (later[0] && off < HND_MSG_LEN)
		snprintf(msg + off, HND_MSG_LEN - off, "; restart hypernatd "
		    "to apply: %s", later);
	log_info("config: %s", msg);
	return rc;
}

void
hnd_counts(const struct hnd *h, unsigned *exports, unsigned *imports,
    unsigned *runtime)
{
	size_t i;

	*exports = *imports = *runtime = 0;
	for (i = 0; i < h->tab.n; i++) {
		if (h->tab.v[i].def.kind == TUN_EXPORT)
			(*exports)++;
		else
			(*imports)++;
		if (h->tab.v[i].def.origin == TUN_ORIGIN_RUNTIME)
			(*runtime)++;
	}
}

const char *
hnd_dht_state(const struct hnd *h, char *buf, size_t cap)
{
	if (h->node == NULL)
		snprintf(buf, cap, "not running");
	else
		node_state_line(h->node, buf, cap);
	return buf;
}

struct node *
hnd_node(const struct hnd *h)
{
	return h->node;
}
