/*
 * table.h - the Kademlia routing table (spec/dht.md §6)
 *
 * k = 20 nodes in each of 256 rows; row i holds ids whose first bit
 * differing from the table id is bit i.  Rows are kept sorted by id and are
 * never split.  The table owns its nodes (one allocation each) and also
 * keeps them in a list ordered by the last time they were touched, which
 * gives the "oldest" node for liveness pings and the "latest" ones for the
 * firewall check (dht-rpc's time-ordered set).
 *
 * A full row refuses a newcomer (-ENOSPC); the caller runs ping-then-evict
 * with dht_table_row_oldest().
 */
#ifndef HN_DHT_TABLE_H
#define HN_DHT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DHT_K		20
#define DHT_TABLE_ROWS	256

struct dht_node {
	uint8_t		 id[32];
	struct hn_addr	 addr;
	struct hn_addr	 to;		/* how it last saw us (sampled) */
	bool		 has_to;
	uint64_t	 added;		/* ticks */
	uint64_t	 pinged;
	uint64_t	 seen;
	uint64_t	 sampled;	/* 0: never */
	unsigned	 down_hints;
	struct dht_node	*prev, *next;	/* touch order: prev is older */
};

struct dht_row {
	struct dht_node	*nodes[DHT_K];
	size_t		 n;
};

struct dht_table {
	uint8_t		 id[32];
	size_t		 size;
	struct dht_row	 rows[DHT_TABLE_ROWS];
	struct dht_node	*oldest, *latest;
};

void		 dht_table_init(struct dht_table *t, const uint8_t id[32]);
/* Free every node. */
void		 dht_table_clear(struct dht_table *t);
struct dht_node	*dht_table_get(const struct dht_table *t, const uint8_t id[32]);
/*
 * Insert a copy of `n` (id, addr, to, counters) as the latest node.
 * Returns 0, -EEXIST (already present; nothing changed), -EINVAL (own id),
 * -ENOSPC (row full) or -ENOMEM.
 */
int		 dht_table_add(struct dht_table *t, const struct dht_node *n);
/* Remove and free; returns false when absent. */
bool		 dht_table_remove(struct dht_table *t, const uint8_t id[32]);
/* Move to the latest end of the touch order. */
void		 dht_table_touch(struct dht_table *t, struct dht_node *n);
/*
 * Up to k nodes near target, walking rows as kademlia-routing-table does
 * (target's row, then towards row 0, then upward).  Returns the count.
 */
size_t		 dht_table_closest(const struct dht_table *t,
		    const uint8_t target[32], size_t k, struct dht_node **out);
/* The node with index r % size in row order, or NULL when empty. */
struct dht_node	*dht_table_random(const struct dht_table *t, uint64_t r);
/* The row `id` falls into. */
struct dht_row	*dht_table_row(struct dht_table *t, const uint8_t id[32]);
/*
 * Ping-then-evict candidate of a row (§6): least recently pinged, ties to
 * the earliest added, skipping nodes pinged at tick `now`; NULL if none.
 */
struct dht_node	*dht_table_row_oldest(struct dht_row *row, uint64_t now);
/*
 * Re-key the table under a new id (ephemeral -> address id, §10.2); nodes
 * that no longer fit (or carry the new id) are dropped.
 */
void		 dht_table_rekey(struct dht_table *t, const uint8_t id[32]);

#endif
