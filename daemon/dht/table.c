/*
 * table.c - Kademlia routing table (spec/dht.md §6)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "table.h"

static void
list_unlink(struct dht_table *t, struct dht_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		t->oldest = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		t->latest = n->prev;
	n->prev = n->next = NULL;
}

static void
list_append(struct dht_table *t, struct dht_node *n)
{
	n->prev = t->latest;
	n->next = NULL;
	if (t->latest)
		t->latest->next = n;
	else
		t->oldest = n;
	t->latest = n;
}

/* Binary search in a sorted row: index of id, or -(insert point) - 1. */
static int
row_find(const struct dht_row *row, const uint8_t id[32])
{
	int l = 0, r = (int)row->n - 1, m, c;

	while (l <= r) {
		m = (l + r) / 2;
		c = memcmp(id, row->nodes[m]->id, 32);
		if (c == 0)
			return m;
		if (c < 0)
			r = m - 1;
		else
			l = m + 1;
	}
	return -l - 1;
}

void
dht_table_init(struct dht_table *t, const uint8_t id[32])
{
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id, 32);
}

void
dht_table_clear(struct dht_table *t)
{
	struct dht_node *n, *next;

	for (n = t->oldest; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	dht_table_init(t, t->id);
}

struct dht_row *
dht_table_row(struct dht_table *t, const uint8_t id[32])
{
	return &t->rows[dht_id_bucket(t->id, id)];
}

struct dht_node *
dht_table_get(const struct dht_table *t, const uint8_t id[32])
{
	const struct dht_row *row = &t->rows[dht_id_bucket(t->id, id)];
	int i = row_find(row, id);

	return i >= 0 ? row->nodes[i] : NULL;
}

static int
row_insert(struct dht_table *t, struct dht_node *n)
{
	struct dht_row *row = dht_table_row(t, n->id);
	int i = row_find(row, n->id);

	if (i >= 0)
		return -EEXIST;
	if (row->n >= DHT_K)
		return -ENOSPC;
	i = -i - 1;
	memmove(&row->nodes[i + 1], &row->nodes[i],
	    (row->n - (size_t)i) * sizeof(row->nodes[0]));
	row->nodes[i] = n;
	row->n++;
	t->size++;
	return 0;
}

int
dht_table_add(struct dht_table *t, const struct dht_node *tmpl)
{
	struct dht_node *n;
	int rc;

	if (memcmp(tmpl->id, t->id, 32) == 0)
		return -EINVAL;
	if (dht_table_get(t, tmpl->id) != NULL)
		return -EEXIST;
	if (dht_table_row(t, tmpl->id)->n >= DHT_K)
		return -ENOSPC;
	if ((n = malloc(sizeof(*n))) == NULL)
		return -ENOMEM;
	*n = *tmpl;
	if ((rc = row_insert(t, n)) != 0) {
		free(n);
		return rc;
	}
	list_append(t, n);
	return 0;
}

bool
dht_table_remove(struct dht_table *t, const uint8_t id[32])
{
	struct dht_row *row = dht_table_row(t, id);
	int i = row_find(row, id);
	struct dht_node *n;

	if (i < 0)
		return false;
	n = row->nodes[i];
	memmove(&row->nodes[i], &row->nodes[i + 1],
	    (row->n - (size_t)i - 1) * sizeof(row->nodes[0]));
	row->n--;
	t->size--;
	list_unlink(t, n);
	free(n);
	return true;
}

void
dht_table_touch(struct dht_table *t, struct dht_node *n)
{
	list_unlink(t, n);
	list_append(t, n);
}

static void
push_row(const struct dht_table *t, int i, size_t k, struct dht_node **out,
    size_t *n)
{
	const struct dht_row *row = &t->rows[i];
	size_t j;

	for (j = 0; j < row->n && *n < k; j++)
		out[(*n)++] = row->nodes[j];
}

size_t
dht_table_closest(const struct dht_table *t, const uint8_t target[32],
    size_t k, struct dht_node **out)
{
	int d = dht_id_bucket(t->id, target), i;
	size_t n = 0;

	for (i = d; i >= 0 && n < k; i--)
		push_row(t, i, k, out, &n);
	for (i = d + 1; i < DHT_TABLE_ROWS && n < k; i++)
		push_row(t, i, k, out, &n);
	return n;
}

struct dht_node *
dht_table_random(const struct dht_table *t, uint64_t r)
{
	size_t n, i;

	if (t->size == 0)
		return NULL;
	n = (size_t)(r % t->size);
	for (i = 0; i < DHT_TABLE_ROWS; i++) {
		if (n < t->rows[i].n)
			return t->rows[i].nodes[n];
		n -= t->rows[i].n;
	}
	return NULL;
}

struct dht_node *
dht_table_row_oldest(struct dht_row *row, uint64_t now)
{
	struct dht_node *oldest = NULL, *n;
	size_t i;

	for (i = 0; i < row->n; i++) {
		n = row->nodes[i];
		if (n->pinged == now)
			continue;
		if (oldest == NULL || oldest->pinged > n->pinged ||
		    (oldest->pinged == n->pinged && oldest->added > n->added))
			oldest = n;
	}
	return oldest;
}

void
dht_table_rekey(struct dht_table *t, const uint8_t id[32])
{
	struct dht_node *n, *next;
	int r;

	memcpy(t->id, id, 32);
	memset(t->rows, 0, sizeof(t->rows));
	t->size = 0;
	/* re-insert in touch order so the oldest keep their place */
	for (n = t->oldest; n != NULL; n = next) {
		next = n->next;
		r = memcmp(n->id, id, 32) == 0 ? -EINVAL : row_insert(t, n);
		if (r != 0) {
			list_unlink(t, n);
			free(n);
		}
	}
}
