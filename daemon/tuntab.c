/*
 * tuntab.c - the table of tunnel definitions
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "log.h"
#include "tuntab.h"

static const char *const proto_names[] = {
	[TUN_TCP] = "tcp",
	[TUN_UDP] = "udp",
	[TUN_TCPUDP] = "tcpudp",
};

const char *
tun_proto_name(enum tun_proto p)
{
	if (p < TUN_TCP || p > TUN_TCPUDP)
		return NULL;
	return proto_names[p];
}

int
tun_proto_parse(const char *s, enum tun_proto *out)
{
	int i;

	for (i = TUN_TCP; i <= TUN_TCPUDP; i++) {
		if (strcmp(s, proto_names[i]) == 0) {
			*out = (enum tun_proto)i;
			return 0;
		}
	}
	return -EINVAL;
}

char *
tundef_name(const struct tundef *d, char *buf)
{
	char key[BASE58_ENCODED_SIZE(KEYS_PK_LEN)];
	const char *p = tun_proto_name(d->proto);

	if (d->kind == TUN_EXPORT) {
		snprintf(buf, TUN_NAME_LEN, "export %s/%u", p ? p : "?",
		    d->port);
	} else {
		if (base58_encode(key, sizeof(key), d->peer, KEYS_PK_LEN) < 0)
			strcpy(key, "?");
		snprintf(buf, TUN_NAME_LEN, "import %s/%u from %s",
		    p ? p : "?", d->port, key);
	}
	return buf;
}

bool
tundef_same_id(const struct tundef *a, const struct tundef *b)
{
	if (a->kind != b->kind || a->proto != b->proto || a->port != b->port)
		return false;
	if (a->kind == TUN_IMPORT)
		return memcmp(a->peer, b->peer, KEYS_PK_LEN) == 0;
	return true;
}

bool
tundef_equal(const struct tundef *a, const struct tundef *b)
{
	if (!tundef_same_id(a, b))
		return false;
	if (a->kind == TUN_EXPORT)
		return memcmp(a->host, b->host, 4) == 0 &&
		    a->nallow == b->nallow &&
		    memcmp(a->allow, b->allow, a->nallow * KEYS_PK_LEN) == 0;
	return addr_eq(&a->listen, &b->listen);
}

static bool
ip_any(const uint8_t ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] == 0;
}

bool
tundef_conflict(const struct tundef *a, const struct tundef *b, char *why,
    size_t cap)
{
	char name[TUN_NAME_LEN];

	if (a->kind != b->kind || (a->proto & b->proto) == 0)
		return false;
	if (a->kind == TUN_EXPORT) {
		/* one service key per proto+port: spec/hypernat-app.md §3 */
		if (a->port != b->port)
			return false;
		snprintf(why, cap, "%s already exists", tundef_name(b, name));
		return true;
	}
	if (a->port == b->port && memcmp(a->peer, b->peer, KEYS_PK_LEN) == 0) {
		snprintf(why, cap, "%s already exists", tundef_name(b, name));
		return true;
	}
	if (a->listen.port == b->listen.port &&
	    (memcmp(a->listen.ip, b->listen.ip, 4) == 0 ||
	    ip_any(a->listen.ip) || ip_any(b->listen.ip))) {
		snprintf(why, cap, "local port %u is already used by %s",
		    a->listen.port, tundef_name(b, name));
		return true;
	}
	return false;
}

void
tuntab_init(struct tuntab *t, const struct tuntab_ops *ops, void *ops_ctx)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->ops_ctx = ops_ctx;
}

void
tuntab_free(struct tuntab *t)
{
	while (t->n > 0)
		tuntab_remove(t, t->n - 1);
	free(t->v);
	t->v = NULL;
	t->cap = 0;
}

int
tuntab_find(const struct tuntab *t, const struct tundef *d)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (tundef_same_id(&t->v[i].def, d))
			return (int)i;
	return -1;
}

static int
conflict_check(const struct tuntab *t, const struct tundef *d, char *why,
    size_t cap)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (tundef_conflict(d, &t->v[i].def, why, cap))
			return tundef_same_id(d, &t->v[i].def) ? -EEXIST :
			    -EADDRINUSE;
	}
	return 0;
}

static void
entry_start(struct tuntab *t, struct tuntab_entry *e)
{
	char name[TUN_NAME_LEN];

	e->handle = NULL;
	e->start_err = 0;
	if (t->ops == NULL)
		return;
	e->start_err = t->ops->start(t->ops_ctx, &e->def, &e->handle);
	if (e->start_err < 0)
		log_warnx("tunnel %s: cannot start: %s",
		    tundef_name(&e->def, name), strerror(-e->start_err));
}

int
tuntab_add(struct tuntab *t, const struct tundef *d, char *why, size_t cap)
{
	struct tuntab_entry *v;
	int rc;

	if ((rc = conflict_check(t, d, why, cap)) < 0)
		return rc;
	if (t->n >= TUN_MAX) {
		snprintf(why, cap, "too many tunnels (at most %d)", TUN_MAX);
		return -ENOSPC;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;

		if ((v = realloc(t->v, ncap * sizeof(*v))) == NULL) {
			snprintf(why, cap, "out of memory");
			return -ENOMEM;
		}
		t->v = v;
		t->cap = ncap;
	}
	t->v[t->n].def = *d;
	entry_start(t, &t->v[t->n]);
	t->n++;
	return 0;
}

void
tuntab_remove(struct tuntab *t, size_t i)
{
	if (i >= t->n)
		return;
	if (t->ops != NULL && t->v[i].start_err == 0)
		t->ops->stop(t->ops_ctx, t->v[i].handle);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

void
tuntab_state(const struct tuntab *t, size_t i, char *buf, size_t cap)
{
	const struct tuntab_entry *e = &t->v[i];

	if (t->ops == NULL)
		snprintf(buf, cap, "inactive: transport not built");
	else if (e->start_err < 0)
		snprintf(buf, cap, "failed: %s", strerror(-e->start_err));
	else
		t->ops->state(t->ops_ctx, e->handle, buf, cap);
}

bool
tuntab_stats(const struct tuntab *t, size_t i, struct tun_stats *st)
{
	const struct tuntab_entry *e = &t->v[i];

	memset(st, 0, sizeof(*st));
	if (t->ops == NULL || t->ops->stats == NULL || e->start_err < 0 ||
	    e->handle == NULL)
		return false;
	t->ops->stats(t->ops_ctx, e->handle, st);
	return true;
}

size_t
tuntab_peers(const struct tuntab *t, size_t i, struct tun_peer *out,
    size_t cap)
{
	const struct tuntab_entry *e = &t->v[i];

	if (t->ops == NULL || t->ops->peers == NULL || e->start_err < 0 ||
	    e->handle == NULL)
		return 0;
	return t->ops->peers(t->ops_ctx, e->handle, out, cap);
}

static bool
in_defs(const struct tundef *d, const struct tundef *defs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tundef_equal(d, &defs[i]))
			return true;
	return false;
}

int
tuntab_apply_config(struct tuntab *t, const struct tundef *defs, size_t n,
    struct tuntab_diff *diff)
{
	char why[160], name[TUN_NAME_LEN];
	struct tundef d;
	size_t i, j;
	int rc;

	memset(diff, 0, sizeof(*diff));
	/* config entries that went or changed leave first */
	for (i = t->n; i-- > 0;) {
		if (t->v[i].def.origin != TUN_ORIGIN_CONFIG)
			continue;
		if (in_defs(&t->v[i].def, defs, n)) {
			diff->kept++;
			continue;
		}
		tuntab_remove(t, i);
		diff->removed++;
	}
	for (j = 0; j < n; j++) {
		d = defs[j];
		d.origin = TUN_ORIGIN_CONFIG;
		rc = tuntab_find(t, &d);
		if (rc >= 0 && t->v[rc].def.origin == TUN_ORIGIN_CONFIG &&
		    tundef_equal(&t->v[rc].def, &d)) {
			/* unchanged: keep the line number current */
			t->v[rc].def.line = d.line;
			t->v[rc].def.column = d.column;
			continue;
		}
		/* the config wins over runtime entries it conflicts with */
		for (i = t->n; i-- > 0;) {
			if (t->v[i].def.origin != TUN_ORIGIN_RUNTIME ||
			    !tundef_conflict(&d, &t->v[i].def, why, sizeof(why)))
				continue;
			log_warnx("tunnel %s: dropped, the config now defines %s",
			    tundef_name(&t->v[i].def, name),
			    tundef_name(&d, why));
			tuntab_remove(t, i);
			diff->dropped_runtime++;
		}
		if ((rc = tuntab_add(t, &d, why, sizeof(why))) < 0) {
			/* config_load() refuses conflicts among its own entries */
			log_warnx("tunnel %s: %s", tundef_name(&d, name), why);
			if (rc == -ENOMEM || rc == -ENOSPC)
				return rc;
			continue;
		}
		diff->added++;
	}
	return 0;
}
