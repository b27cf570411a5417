/*
 * relay.h - the blind relay (blind-relay 1.x as hyperdht 6.34 uses it for
 * relayThrough; spec/connect.md §9), both sides, sans-I/O
 *
 * The pairing protocol runs in a Protomux channel "blind-relay" on an
 * ordinary peer connection to the relay: every Protomux frame is one
 * SecretStream message of that connection.  This module speaks the frames;
 * the connect core owns the connection, the UDX streams and the timers
 * (15 s pairing timeout, §9 step 6):
 *
 *   - a peer that goes through a relay makes a relay_client on its relay
 *     connection, calls relay_client_pair() with the pairing token and the
 *     id of its own UDX stream, and on on_pair connects that stream to the
 *     relay (same socket and address as the relay connection, remote id =
 *     the relay's stream id);
 *   - a node serving as relay makes one relay_server and, for every
 *     accepted connection, a relay_session; when both halves of a token
 *     have arrived the server asks the core for one UDX stream per side
 *     (create_stream), splices them (link: udx_stream_relay_to both ways)
 *     and answers each side with its relay stream's id.
 *
 * Feed every SecretStream message of the relay connection to
 * relay_client_input() / relay_session_input(); they return 0, or -EBADMSG
 * for a frame the reference would have destroyed the connection for (the
 * caller closes it).  Outgoing frames go through `send`.  Callbacks never
 * free the object that called them.
 */
#ifndef HN_CONNECT_RELAY_H
#define HN_CONNECT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_PROTOCOL		"blind-relay"
#define RELAY_MSG_PAIR		0
#define RELAY_MSG_UNPAIR	1
#define RELAY_PAIR_MAX_SIZE	(1 + 32 + 9 + 9)
#define RELAY_PAIRING_TIMEOUT_MS 15000

/* pair {isInitiator, token, id, seq} (connect.json#blind_relay_pair) */
struct relay_pair {
	bool		is_initiator;
	uint8_t		token[32];
	uint64_t	id;		/* a UDX stream id */
	uint64_t	seq;
};

int	relay_pair_encode(const struct relay_pair *m, uint8_t *out, size_t cap,
	    size_t *len);
/* 0 or -EBADMSG; trailing bytes are ignored, as the reference. */
int	relay_pair_decode(struct relay_pair *m, const uint8_t *in, size_t len);
int	relay_unpair_encode(const uint8_t token[32], uint8_t *out, size_t cap,
	    size_t *len);
int	relay_unpair_decode(uint8_t token[32], const uint8_t *in, size_t len);

/* Writes one SecretStream message on the relay connection; 0 or -errno. */
typedef int	relay_send_fn(void *arg, const uint8_t *msg, size_t len);

/* ---------------------------------------------------------- client side */

struct relay_client;

struct relay_client_cbs {
	relay_send_fn	*send;
	/* The relay paired `token`: connect our stream to remote id `id`. */
	void		(*on_pair)(struct relay_client *c, const uint8_t token[32],
			    uint64_t id, void *arg);
	/* The relay closed or rejected the channel. */
	void		(*on_close)(struct relay_client *c, void *arg);
	void		*arg;
};

/* Channel id = our public key (§9 step 2).  NULL on -ENOMEM. */
struct relay_client *relay_client_new(const uint8_t own_pk[32],
	    const struct relay_client_cbs *cbs);
void	relay_client_free(struct relay_client *c);
/* Open the channel if needed and send pair.  -EALREADY for a token twice. */
int	relay_client_pair(struct relay_client *c, bool is_initiator,
	    const uint8_t token[32], uint64_t stream_id);
/* Forget the request and send unpair. */
int	relay_client_unpair(struct relay_client *c, const uint8_t token[32]);
int	relay_client_input(struct relay_client *c, const uint8_t *msg,
	    size_t len);

/* ---------------------------------------------------------- server side */

struct relay_server;
struct relay_session;

struct relay_server_cbs {
	/*
	 * A UDX stream for one side of a pairing: it will talk to the peer of
	 * `sess` whose stream id is `remote_id` (connect it on that peer's
	 * first packet, as the reference's firewall hook does).  Store an
	 * opaque handle in *stream and its local id in *local_id; 0 or -errno.
	 */
	int	(*create_stream)(void *arg, struct relay_session *sess,
		    uint64_t remote_id, void **stream, uint64_t *local_id);
	/* Splice the two: relayTo both ways. */
	void	(*link)(void *arg, void *a, void *b);
	void	(*destroy_stream)(void *arg, void *stream);
	void	*arg;
};

struct relay_server_stats {
	uint64_t	sessions, pairings_requested, pairings_matched,
			pairings_cancelled, links_active;
};

struct relay_server *relay_server_new(const struct relay_server_cbs *cbs);
/* Frees sessions, pending pairings and links (destroy_stream each). */
void	relay_server_free(struct relay_server *s);
/* A peer connected to us: open the channel with id = its key. */
struct relay_session *relay_server_accept(struct relay_server *s,
	    const uint8_t remote_pk[32], relay_send_fn *send, void *send_arg);
int	relay_session_input(struct relay_session *sess, const uint8_t *msg,
	    size_t len);
/* Its connection closed: cancel its pairings, destroy its links. */
void	relay_session_free(struct relay_session *sess);
void	relay_server_get_stats(const struct relay_server *s,
	    struct relay_server_stats *st);

/* ------------------------------------------------- UDX streams for a relay */

struct udx;
struct hn_io;

/*
 * relay_server_cbs that make the relay streams on a struct udx: a random
 * free id each, connected to their peer by the first packet that arrives
 * for them (the reference's firewall hook), spliced with
 * udx_stream_relay_to() both ways.  `ru` must outlive the server.
 */
struct relay_udx {
	struct udx	*udx;
	struct hn_io	*io;
};

void	relay_udx_cbs(struct relay_udx *ru, struct relay_server_cbs *out);

/* -------------------------------------- serving as a relay on a conn_node */

struct conn_node;
struct keypair;
struct relay_service;

/*
 * Listen on `kp` and be a blind relay for whoever connects (what
 * blind-relay's Server does on a hyperdht server): each connection gets a
 * relay session (its SecretStream frames are the Protomux frames), the
 * relay streams live on `udx` (the node's).  NULL on error.
 */
struct relay_service *relay_service_new(struct conn_node *n, struct udx *udx,
	    struct hn_io *io, const struct keypair *kp);
/* Stop listening, close the relay connections and streams. */
void	relay_service_free(struct relay_service *svc);
void	relay_service_get_stats(const struct relay_service *svc,
	    struct relay_server_stats *st);

#endif
