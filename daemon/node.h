/*
 * node.h - the daemon's network node: evio + UDX + the DHT on libev
 *
 * One struct node per hypernatd.  It owns the evio adapter on the daemon's
 * libev loop, two UDP sockets (as hyperdht: a server socket on dht.host:
 * dht.port, the reachable one, and a client socket on an ephemeral port that
 * sends requests while firewalled, so the firewall probe can tell whether
 * unsolicited traffic reaches the server socket), one struct udx shared by
 * both sockets and the struct dht.  Every datagram goes to udx; what is not
 * UDX for a live stream goes to the raw handler, which is dht_input() until
 * the connect layer takes the handler over (see "Seam" below).
 *
 * Modes (config dht.mode): ephemeral never serves the DHT; persistent
 * turns persistent during bootstrap; auto is adaptive (persistent after a
 * stable, reachable while).  mode persistent + a fixed port + an empty
 * bootstrap list is a bootstrap node (DHT.bootstrapper(port, host)):
 * persistent and not firewalled from the start at dht.host:dht.port, which
 * must therefore be a concrete address.
 *
 * Seam for the connect layer and the tunnels: node_conn_config() fills a
 * struct conn_node_config (daemon/connect/conn.h) with the node's io, udx,
 * dht, main socket, socket open/close callbacks and local addresses, so
 * conn_node_new() can be called with it; conn_node_new() then installs its
 * own udx raw handler, which passes non-holepunch datagrams to dht_input()
 * as conn.h says.  node_set_addr_hook() lets that conn_node hear about
 * address changes (conn_node_addresses_changed()).  The tunnel layer
 * reaches the node through hnd_node() (hnd.h).
 */
#ifndef HN_NODE_H
#define HN_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"

struct ev_loop;
struct config;
struct conn_node_config;
struct dht;
struct udx;
struct node;

#define NODE_ERR_LEN	256
#define NODE_LOCAL_MAX	8

/* The state changed (bootstrapped, persistence, table size, address). */
typedef void	node_change_fn(void *arg);
/* Local addresses changed: the new list (non-loopback IPv4). */
typedef void	node_addr_fn(void *arg, const struct hn_addr *local,
		    size_t nlocal);

struct node_status {
	const char	*mode;		/* "auto", "ephemeral", "persistent", "bootstrap" */
	bool		 bootstrapped;
	bool		 persistent;
	bool		 firewalled;
	bool		 has_public;
	struct hn_addr	 public_addr;	/* valid when has_public */
	uint32_t	 table_size;
	struct hn_addr	 server;	/* bound address of the server socket */
	uint16_t	 client_port;
	uint32_t	 nbootstrap;	/* configured bootstrap nodes */
};

/*
 * Bind the sockets and start the DHT on `loop` as `cfg` says (cfg is read
 * now, not kept).  on_change (may be NULL) runs from the loop when the
 * status changed.  Returns the node, or NULL with a sentence in err
 * (NODE_ERR_LEN bytes).
 */
struct node	*node_new(struct ev_loop *loop, const struct config *cfg,
		    node_change_fn *on_change, void *arg, char *err);
/* Stop the DHT (its operations end with -ECANCELED), flush, close, free. */
void		 node_free(struct node *n);

void		 node_get_status(const struct node *n, struct node_status *st);
/* One line for STATUS= and `hypernatctl status`: "bootstrapped, 12 nodes". */
void		 node_state_line(const struct node *n, char *buf, size_t cap);

/*
 * The local addresses changed (netmon): rebind when the server socket's
 * address is gone, tell the DHT (re-learn the public address, re-announce)
 * and the address hook.  `local` lists the machine's IPv4 addresses.
 */
void		 node_addresses_changed(struct node *n,
		    const struct hn_addr *local, size_t nlocal);

/* ---------------------------------------------------------------- seam */

struct hn_io	*node_io(struct node *n);
struct udx	*node_udx(struct node *n);
struct dht	*node_dht(struct node *n);
/* The server (main) socket and the client socket, as evio indexes. */
int		 node_server_sock(const struct node *n);
int		 node_client_sock(const struct node *n);
/*
 * Fill `c` for conn_node_new(): io, udx, dht, sock (the server socket),
 * sock_open/sock_close (one more UDP socket on dht.host, port 0, whose
 * datagrams also go to udx) and the local addresses (with the server
 * socket's port: LAN candidates for peers behind our NAT).  caps and
 * serve_relay are left 0 for the caller.
 */
void		 node_conn_config(struct node *n, struct conn_node_config *c);
/* Who hears about local address changes after the DHT; NULL: nobody. */
void		 node_set_addr_hook(struct node *n, node_addr_fn *fn, void *arg);

#endif
