/*
 * udx.h - UDX streams over UDP, wire-compatible with libudx / udx-native
 * (spec/udx.md)
 *
 * Sans-I/O: a struct udx is handed a struct hn_io for time, timers, random
 * and sending; received datagrams come in through udx_socket_input().
 * Sockets are the adapter's indexes (the `sock` of hn_send()); the instance
 * only remembers which socket a stream is on.
 *
 * One instance owns one stream table shared by all its sockets (§2): a
 * datagram on any socket reaches the stream named by its id, gated by the
 * stream's firewall hook when it arrives on a socket other than the
 * stream's (§3, §22).  Everything that is not UDX v1 for a live stream id
 * goes to the raw handler (the DHT lives there).
 *
 * Local choices (spec §27), and why:
 *  - Congestion control is CUBIC (RFC 9438) in packets, with slow start,
 *    SACK + RACK-TLP loss recovery and a token-bucket pacer at 2x (slow
 *    start) / 1.25x (after) cwnd/srtt.  BBR as in libudx needs delivery
 *    rate sampling, a bandwidth filter and a four-state machine whose
 *    mistakes show up only as throughput cliffs; CUBIC reacts only to loss
 *    and RTT, is deterministic under the simulator, and the pacer removes
 *    the burst losses that hurt it on the fast paths we care about.
 *  - RTO per RFC 6298 with libudx's bounds (1 s .. 30 s), restarted at
 *    2 x rto, give-up after 6 expiries on one packet -> ETIMEDOUT (~13 s),
 *    the same timing as libudx (§13, pitfall 16).
 *  - ACKs: one per stream per receive batch (udx_flush(), or a zero-delay
 *    timer), immediate for HEARTBEAT, END and final-state ACKs; an ACK is
 *    skipped when a data packet carrying the same cumulative ack (and no
 *    out-of-order data is buffered) went out meanwhile (§11, §28).
 *  - Advertised rwnd is the constant 4 MiB udx-native sends; out-of-order
 *    data is buffered up to UDX_RCV_RING packets past the ack (more is
 *    dropped and re-acked, §15).
 *  - MTU probing 1200 -> mtu_max (1500 by default) in 32-byte steps with
 *    padding probes exactly as libudx does (§16).
 *  - Only IPv4 (struct hn_addr): payload = mtu - 48.
 *
 * Lifetime: udx owns its streams.  A stream's on_close runs exactly once
 * (possibly from inside udx_stream_destroy()); after it returns the stream
 * must not be used; udx frees it when control leaves the library.
 * Callbacks may call any udx_stream_*() function on any stream, including
 * destroying the stream they are called for.
 */
#ifndef HN_UDX_H
#define HN_UDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"

#define UDX_DEFAULT_RWND	4194304u
#define UDX_MTU_BASE		1200
#define UDX_MTU_MAX		1500
#define UDX_MTU_STEP		32
#define UDX_MTU_PROBES		3
#define UDX_IPV4_OVERHEAD	48	/* IP + UDP + UDX header */
#define UDX_MAX_PAYLOAD		(UDX_MTU_MAX - UDX_IPV4_OVERHEAD)
#define UDX_INIT_CWND		10
#define UDX_MIN_CWND		4
#define UDX_RTO_INIT_MS		1000
#define UDX_RTO_MIN_MS		1000
#define UDX_RTO_MAX_MS		30000
#define UDX_RTO_GIVE_UP		6
#define UDX_WRITE_HWM		(256 * 1024)
#define UDX_RCV_RING		8192	/* out-of-order buffer, packets */
/* Keep MESSAGE payloads within the base MTU (§19); we accept up to 2028. */
#define UDX_MAX_MESSAGE		(UDX_MTU_BASE - UDX_IPV4_OVERHEAD)

struct udx;
struct udx_stream;

/* A datagram that is not UDX for a live stream (§3). */
typedef void	udx_raw_fn(void *arg, int sock, const struct hn_addr *from,
		    const uint8_t *buf, size_t len);

/*
 * Stream callbacks; any may be NULL.  `arg` is the stream's arg.
 *
 * on_data:     in-order bytes; the buffer is only valid during the call.
 * on_end:      the peer ended its side (EOF), after all its data.
 * on_message:  an unreliable MESSAGE payload (may be empty).
 * on_drain:    queued bytes fell below the high-water mark again.
 * on_remote_changed: udx_stream_change_remote() completed.
 * on_close:    the stream closed: 0 (both sides ended, or local destroy),
 *              -ECONNRESET (peer sent DESTROY), -ETIMEDOUT (gave up).
 * firewall:    a packet for this stream arrived on a socket other than the
 *              stream's (always so before connect).  Return 0 to accept it
 *              (the hook may call udx_stream_connect() or
 *              udx_stream_change_remote() first), non-zero to drop it.
 */
struct udx_stream_ops {
	void	(*on_data)(struct udx_stream *s, void *arg, const uint8_t *buf,
		    size_t len);
	void	(*on_end)(struct udx_stream *s, void *arg);
	void	(*on_message)(struct udx_stream *s, void *arg,
		    const uint8_t *buf, size_t len);
	void	(*on_drain)(struct udx_stream *s, void *arg);
	void	(*on_remote_changed)(struct udx_stream *s, void *arg);
	void	(*on_close)(struct udx_stream *s, void *arg, int err);
	int	(*firewall)(struct udx_stream *s, void *arg, int sock,
		    const struct hn_addr *from);
};

struct udx_stream_info {
	uint32_t	mtu;
	uint32_t	srtt_us;
	uint32_t	rto_ms;
	uint32_t	cwnd;		/* packets */
	uint32_t	inflight;	/* packets */
	uint32_t	snd_rwnd;	/* peer's window, bytes */
	uint64_t	packets_tx;
	uint64_t	packets_rx;
	uint64_t	bytes_tx;	/* payload bytes, first transmissions */
	uint64_t	bytes_rx;	/* payload bytes delivered in order */
	uint64_t	retransmits;
	uint64_t	rto_count;
	uint64_t	tlp_count;
	uint64_t	acks_tx;
	uint64_t	recoveries;
	size_t		queued;		/* bytes written, not yet sent */
};

/* A new instance using `io` (which must outlive it); NULL on ENOMEM. */
struct udx	*udx_new(struct hn_io *io);
/* Free the instance and every stream, without callbacks.  NULL is a no-op. */
void		 udx_free(struct udx *u);
void		 udx_set_raw_handler(struct udx *u, udx_raw_fn *fn, void *arg);
/* Upper MTU bound for streams connected from now on (1200..1500). */
void		 udx_set_mtu_max(struct udx *u, unsigned mtu);
/* Feed one received datagram (the adapter calls this). */
void		 udx_socket_input(struct udx *u, int sock,
		    const struct hn_addr *from, const uint8_t *buf, size_t len);
/*
 * End of a receive batch / loop iteration: send coalesced ACKs and partly
 * filled packets now.  Optional: a zero-delay timer does it otherwise.
 */
void		 udx_flush(struct udx *u);

/*
 * Create a stream with local id `id`, registered at once so packets for it
 * are matched before connect (§8).  Returns 0 or -EEXIST / -ENOMEM.
 */
int		 udx_stream_new(struct udx *u, uint32_t id,
		    const struct udx_stream_ops *ops, void *arg,
		    struct udx_stream **out);
/*
 * Connect to the peer stream `remote_id` at `to` through socket `sock`.
 * Sends nothing, except an ACK if data already arrived.  Returns 0 or
 * -EISCONN / -EINVAL.
 */
int		 udx_stream_connect(struct udx_stream *s, int sock,
		    uint32_t remote_id, const struct hn_addr *to);
/* Queue `len` bytes (copied).  Returns 0, or -EPIPE after end/close. */
int		 udx_stream_write(struct udx_stream *s, const void *buf,
		    size_t len);
/* False while queued bytes exceed the high-water mark (wait for on_drain). */
bool		 udx_stream_writable(const struct udx_stream *s);
/* Half-close: END after all queued data.  0 or -EPIPE if already ended. */
int		 udx_stream_end(struct udx_stream *s);
/*
 * Send one unreliable MESSAGE (may be empty).  Returns 0, -ENOTCONN, or
 * -EMSGSIZE above 2028 bytes (the receiver would truncate it).
 */
int		 udx_stream_send(struct udx_stream *s, const void *buf,
		    size_t len);
/*
 * Abort: a DESTROY is sent once if connected (not for relay streams), the
 * stream closes with status 0 (on_close runs before this returns).
 * A no-op on a stream that already closed.
 */
void		 udx_stream_destroy(struct udx_stream *s);
/*
 * Switch path (§21): new packets go to `remote_id` at `to` on `sock`;
 * packets in flight keep their old destination.  on_remote_changed runs
 * when everything sent before is acknowledged (at once if nothing is in
 * flight).  Returns 0 or -ENOTCONN.
 */
int		 udx_stream_change_remote(struct udx_stream *s, int sock,
		    uint32_t remote_id, const struct hn_addr *to);
/*
 * Relay (§20): every packet arriving for `s` is forwarded to `dst`'s peer
 * with the id rewritten.  Returns 0 or -EINVAL.
 */
int		 udx_stream_relay_to(struct udx_stream *s,
		    struct udx_stream *dst);
/* HEARTBEAT every `ms` while idle; 0 turns it off (pitfall 14). */
void		 udx_stream_set_keepalive(struct udx_stream *s, uint32_t ms);
void		 udx_stream_get_info(const struct udx_stream *s,
		    struct udx_stream_info *info);
uint32_t	 udx_stream_id(const struct udx_stream *s);
bool		 udx_stream_is_connected(const struct udx_stream *s);

#endif
