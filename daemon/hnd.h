/*
 * hnd.h - the daemon's state: config, identity, tunnel table, runtime file
 *
 * One struct hnd per process.  main.c creates it, the control socket
 * changes it through the hnd_* actions below, which keep the table and the
 * runtime tunnel file in step: a change is on disk (written to a temporary
 * file, synced, renamed over <state_dir>/tunnels, directory synced) before
 * it is reported done, so a crash right after an answer loses nothing.
 */
#ifndef HN_HND_H
#define HN_HND_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "identity.h"
#include "tuntab.h"

struct node;

#define HND_VERSION	"0.1.0"
#define HND_MSG_LEN	768

/* Settings from the command line that win over the config file. */
struct hnd_options {
	const char	*config_path;	/* NULL: the default path, optional */
	const char	*socket_path;	/* NULL: daemon.control_socket */
	const char	*state_dir;	/* NULL: daemon.state_dir */
	int		 log_level;	/* -1: daemon.log_level */
	/* the tunnel layer (tuntab.h); NULL until daemon/tunnel/ exists */
	const struct tuntab_ops	*tunnel_ops;
	void		*tunnel_ctx;
};

struct hnd {
	struct hnd_options	 opt;
	struct config		*cfg;		/* as last loaded */
	char			*config_path;	/* NULL when running on defaults */
	/* fixed at start: a reload reports changes to them, never applies */
	char			*socket_path;
	char			*state_dir;
	char			*tunnels_path;	/* <state_dir>/tunnels */
	struct identity		 id;
	struct tuntab		 tab;
	time_t			 started;	/* CLOCK_MONOTONIC seconds */
	/* the network node (node.h); main.c owns it, NULL before it runs */
	struct node		*node;
};

/*
 * Load the config (or defaults when opt->config_path is NULL and the
 * default file does not exist), the identity and the runtime tunnels, and
 * fill the table.  Returns 0 or -errno with a message in err
 * (HND_MSG_LEN bytes); hnd_free() is then still safe.
 */
int	hnd_init(struct hnd *h, const struct hnd_options *opt, char *err);
void	hnd_free(struct hnd *h);

/*
 * Add a runtime tunnel and save the runtime file.  Returns 0 or -errno
 * (-EEXIST, -EADDRINUSE, -ENOSPC, or a write error, in which case the
 * table is left as before) with a sentence in msg.
 */
int	hnd_tunnel_add(struct hnd *h, const struct tundef *d, char *msg);
/*
 * Remove the tunnel with the identity of `d` (kind, proto, port, peer).
 * -ENOENT if there is none, -EPERM if it comes from the config file.
 */
int	hnd_tunnel_del(struct hnd *h, const struct tundef *d, char *msg);
/*
 * Re-read the config file and apply the difference: tunnels (unchanged
 * ones are kept running), log level (when the file's changed).  A bad file
 * changes nothing: -EINVAL with the file:line:column error in msg.
 */
int	hnd_reload(struct hnd *h, struct tuntab_diff *diff, char *msg);

/* Counts for status. */
void	hnd_counts(const struct hnd *h, unsigned *exports, unsigned *imports,
	    unsigned *runtime);
/*
 * One line on the DHT node ("bootstrapped, 12 nodes, persistent", or
 * "not running"), in buf; returns buf.
 */
const char *hnd_dht_state(const struct hnd *h, char *buf, size_t cap);
/*
 * The network node, for the layers above it: the connect layer builds its
 * conn_node from node_conn_config(hnd_node(h), ...), the tunnels reach it
 * the same way.  NULL before main.c started it (e.g. hypernatd -n).
 */
struct node *hnd_node(const struct hnd *h);

#endif
