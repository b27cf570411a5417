/*
 * tuntab.h - the table of tunnel definitions
 *
 * A definition says what should exist: an export (publish a local service
 * under the identity, hyper-nat "server" mode) or an import (make a remote
 * export reachable on a local port, hyper-nat "client" mode).  Definitions
 * come from the config file or are added at runtime through the control
 * socket; the table keeps both and knows which is which.
 *
 * The table does not move bytes.  The tunnel layer (daemon/tunnel/, not
 * built yet) plugs in through struct tuntab_ops: it is told when a
 * definition starts to exist and when it stops, and reports a state string
 * per definition.  Without ops every definition is "inactive: transport not
 * built", which is the truth until that layer lands.
 */
#ifndef HN_TUNTAB_H
#define HN_TUNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "keys.h"

enum tun_kind {
	TUN_EXPORT = 1,
	TUN_IMPORT = 2,
};

/* Bit set: tcpudp is both. */
enum tun_proto {
	TUN_TCP = 1,
	TUN_UDP = 2,
	TUN_TCPUDP = 3,
};

enum tun_origin {
	TUN_ORIGIN_CONFIG = 1,
	TUN_ORIGIN_RUNTIME = 2,
};

/* Longest allow-list of one export. */
#define TUN_ALLOW_MAX	32
/* Most definitions the table holds. */
#define TUN_MAX		1024

struct tundef {
	enum tun_kind	 kind;
	enum tun_proto	 proto;
	uint16_t	 port;		/* export: local service port; import: the remote export's port */
	uint8_t		 host[4];	/* export: where the local service listens */
	struct hn_addr	 listen;	/* import: local address to listen on */
	uint8_t		 peer[KEYS_PK_LEN];	/* import: the exporter's base key */
	uint8_t		 allow[TUN_ALLOW_MAX][KEYS_PK_LEN];	/* export: allowed client keys */
	size_t		 nallow;	/* 0: anyone holding the key */
	enum tun_origin	 origin;
	unsigned	 line, column;	/* where a config definition was written */
};

/*
 * The interface the tunnel layer implements.  start() is called when a
 * definition enters the table (including at start-up and on reload for new
 * or changed entries) and returns 0 or -errno (the definition then stays in
 * the table, marked failed with that error); stop() when it leaves; state()
 * writes a one-line state into buf.  `handle` is the layer's own per-tunnel
 * pointer, kept by the table.
 */
/* Counters of one tunnel, as the tunnel layer keeps them. */
struct tun_stats {
	uint64_t	bytes_in, bytes_out;	/* in: from peers to the local side */
	uint64_t	dgrams_in, dgrams_out;
	uint64_t	drops;			/* datagrams counted and dropped */
	uint64_t	conns_total;		/* peer connections opened */
	uint32_t	conns_open;
};

/* One open peer connection of a tunnel. */
struct tun_peer {
	uint8_t		remote_pk[KEYS_PK_LEN];
	char		path[12];	/* "lan", "direct", "punched", "relayed" */
	struct hn_addr	remote;		/* the peer on that path */
	struct hn_addr	local;		/* the local client or service */
	uint32_t	rtt_us;
	bool		secure;		/* datagrams encrypted */
	uint64_t	bytes_in, bytes_out, dgrams_in, dgrams_out, drops;
};

struct tuntab_ops {
	int	(*start)(void *ctx, const struct tundef *def, void **handle);
	void	(*stop)(void *ctx, void *handle);
	void	(*state)(void *ctx, void *handle, char *buf, size_t cap);
	/* Optional: the tunnel's counters, and up to `cap` of its open
	 * connections (returns how many are open, may exceed cap). */
	void	(*stats)(void *ctx, void *handle, struct tun_stats *st);
	size_t	(*peers)(void *ctx, void *handle, struct tun_peer *out,
		    size_t cap);
};

struct tuntab_entry {
	struct tundef	 def;
	void		*handle;
	int		 start_err;	/* from ops->start, 0 if none */
};

struct tuntab {
	struct tuntab_entry	*v;
	size_t			 n, cap;
	const struct tuntab_ops	*ops;	/* NULL: no tunnel layer */
	void			*ops_ctx;
};

/* "tcp", "udp", "tcpudp"; NULL if unknown. */
const char	*tun_proto_name(enum tun_proto p);
/* Parse a proto name; returns 0 or -EINVAL. */
int		 tun_proto_parse(const char *s, enum tun_proto *out);
/*
 * A short name for messages: "export udp/7913", "import tcp/443 from KEY".
 * `buf` holds at least TUN_NAME_LEN bytes; returns buf.
 */
#define TUN_NAME_LEN	96
char		*tundef_name(const struct tundef *d, char *buf);

/* Same identity: what `del` matches (kind, proto, port, and peer). */
bool	 tundef_same_id(const struct tundef *a, const struct tundef *b);
/* Equal in every field that matters to the tunnel layer (not origin). */
bool	 tundef_equal(const struct tundef *a, const struct tundef *b);
/*
 * Would `a` and `b` fight over something: the same export port and
 * protocol, the same import, or the same local listen port and protocol?
 * Writes a reason into why (cap bytes) when true.
 */
bool	 tundef_conflict(const struct tundef *a, const struct tundef *b,
	    char *why, size_t cap);

void	 tuntab_init(struct tuntab *t, const struct tuntab_ops *ops,
	    void *ops_ctx);
/* Stops and removes every entry. */
void	 tuntab_free(struct tuntab *t);
/* Index of the entry with the identity of `d`, or -1. */
int	 tuntab_find(const struct tuntab *t, const struct tundef *d);
/*
 * Add a copy of `d` and start it.  Returns 0, -EEXIST or -EADDRINUSE on a
 * conflict (why says with what), -ENOSPC past TUN_MAX, -ENOMEM.  A failure
 * of ops->start is not an error here: the entry stays, with start_err.
 */
int	 tuntab_add(struct tuntab *t, const struct tundef *d, char *why,
	    size_t cap);
/* Stop and remove entry i (order of the others is kept). */
void	 tuntab_remove(struct tuntab *t, size_t i);
/* One-line state of entry i. */
void	 tuntab_state(const struct tuntab *t, size_t i, char *buf, size_t cap);
/* Counters of entry i; false when the layer has none (not running). */
bool	 tuntab_stats(const struct tuntab *t, size_t i, struct tun_stats *st);
/* Open connections of entry i (up to cap filled); 0 when not running. */
size_t	 tuntab_peers(const struct tuntab *t, size_t i, struct tun_peer *out,
	    size_t cap);

/* What tuntab_apply_config() did. */
struct tuntab_diff {
	unsigned	added, removed, kept, dropped_runtime;
};

/*
 * Make the config part of the table equal to `defs` (n of them), keeping
 * entries whose definition did not change (they are not stopped), removing
 * those that went and adding new ones.  A runtime entry that conflicts with
 * a config one is dropped (the config wins) and logged.  Returns 0 or
 * -ENOMEM/-ENOSPC (the table may then hold part of the change).
 */
int	 tuntab_apply_config(struct tuntab *t, const struct tundef *defs,
	    size_t n, struct tuntab_diff *diff);

#endif
