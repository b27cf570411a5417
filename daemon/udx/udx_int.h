/*
 * udx_int.h - state shared by the UDX instance (udx.c), the stream
 * (stream.c) and the congestion controller (cubic.c); not an API
 */
#ifndef HN_UDX_INT_H
#define HN_UDX_INT_H

#include "packet.h"
#include "udx.h"

/* Room in front of a payload for the header and up to 255 bytes of pad. */
#define UDX_HEADROOM	(UDX_HEADER_SIZE + 255)

/* A sent or queued DATA/END packet. */
struct udx_pkt {
	struct udx_pkt	*next;		/* unsent queue, free list */
	struct udx_pkt	*tprev, *tnext;	/* in-flight list, by send time */
	uint64_t	 time_sent;	/* us, last transmission */
	uint32_t	 seq;
	uint16_t	 len;		/* payload bytes */
	uint16_t	 cap;		/* payload capacity, fixed at creation */
	uint8_t		 type;		/* DATA and/or END */
	uint8_t		 pad;		/* MTU probe padding of this send */
	uint8_t		 rto_count;
	uint8_t		 tx_count;
	bool		 sealed;	/* no more bytes join it */
	bool		 in_flight;	/* on the in-flight list */
	bool		 lost;		/* waiting in the retransmit queue */
	bool		 probe;		/* an MTU probe is outstanding on it */
	bool		 is_tlp;
	int		 sock;		/* destination of the first send */
	uint32_t	 remote_id;
	struct hn_addr	 to;
	uint8_t		 buf[UDX_HEADROOM + UDX_MAX_PAYLOAD];
};

#define UDX_PKT_PAYLOAD(p)	((p)->buf + UDX_HEADROOM)

/* An out-of-order packet waiting for the gap before it. */
struct udx_rpkt {
	uint16_t	 len;
	uint8_t		 type;
	uint8_t		 data[UDX_MAX_DATAGRAM];
};

enum udx_cstate {
	UDX_CA_OPEN,
	UDX_CA_RECOVERY,
	UDX_CA_LOSS,
};

enum udx_mtu_state {
	UDX_MTU_STATE_BASE,
	UDX_MTU_STATE_SEARCH,
	UDX_MTU_STATE_DONE,
};

struct udx_cubic {
	double		 cwnd;
	double		 ssthresh;
	double		 w_max;
	double		 k;
	double		 w_est;
	uint64_t	 epoch_us;	/* 0: no epoch */
};

struct udx_stream {
	struct udx		*u;
	struct udx_stream	*hnext;		/* id table chain */
	struct udx_stream	*fprev, *fnext;	/* flush list */
	struct udx_stream	*znext;		/* closed, waiting to be freed */
	const struct udx_stream_ops *ops;
	void			*arg;

	uint32_t		 id;
	uint32_t		 remote_id;
	int			 sock;		/* -1 until connected */
	struct hn_addr		 remote;
	bool			 connected;
	bool			 closed;
	bool			 in_flush;
	bool			 ending;	/* end() called */
	bool			 ended;		/* our END acknowledged */
	bool			 remote_ending;	/* END seen */
	bool			 remote_ended;	/* EOF delivered */
	bool			 want_drain;
	bool			 ack_pending;

	/* send side */
	uint32_t		 snd_una;
	uint32_t		 snd_next;
	struct udx_pkt		**out;		/* [una, next) by seq & mask */
	uint32_t		 out_mask;
	struct udx_pkt		*tfirst, *tlast;
	uint32_t		 inflight;
	uint32_t		 sacked;
	uint32_t		*rtxq;		/* seqs to retransmit, FIFO */
	uint32_t		 rtxq_head, rtxq_len, rtxq_cap;
	struct udx_pkt		*uhead, *utail;	/* written, not yet sent */
	size_t			 queued;
	uint32_t		 snd_rwnd;
	uint32_t		 wl1, wl2;
	bool			 wl_set;

	/* RTT and recovery */
	uint64_t		 srtt_us, rttvar_us;
	uint64_t		 min_rtt_us, min_rtt_stamp_us;
	uint32_t		 rto_ms;
	bool			 have_rtt;
	enum udx_cstate		 ca_state;
	uint32_t		 high_seq;
	uint64_t		 rack_xmit_us, rack_rtt_us;
	uint32_t		 fack;
	bool			 rack_valid;
	bool			 reordering_seen;
	bool			 tlp_out;
	bool			 rtt_since_probe;
	struct udx_cubic	 cc;
	double			 tokens;	/* pacing bucket, bytes */
	uint64_t		 pace_stamp_us;

	/* MTU */
	uint16_t		 mtu, mtu_max, probe_size;
	uint8_t			 mtu_state, probe_fails;
	bool			 probe_out;

	/* changeRemote */
	bool			 change_pending;
	uint32_t		 switch_seq;

	/* receive side */
	uint32_t		 rcv_ack;
	struct udx_rpkt		**ooo;		/* UDX_RCV_RING slots */
	uint32_t		 ooo_count;
	uint32_t		 rcv_high;	/* highest buffered seq + 1 */
	uint32_t		 remote_end_seq;
	bool			 rcvd_any;

	/* timers; the *_due fields are the true deadlines in ms */
	struct hn_timer		 rto_timer, tlp_timer, rack_timer;
	struct hn_timer		 pace_timer, zwp_timer, ka_timer;
	uint64_t		 rto_due, tlp_due, rack_due;
	uint32_t		 zwp_ms;
	uint32_t		 keepalive_ms;

	struct udx_stream	*relay;		/* forward to */
	struct udx_stream	*relay_src;	/* forwarded from */

	struct udx_stream_info	 st;
};

/*
 * A stream that closed cleanly keeps answering duplicate DATA/END for a
 * while, so the peer is not left retransmitting into the void when our last
 * ACK was lost (spec/udx.md §18, pitfall 7).
 */
struct udx_linger {
	uint32_t		 id;
	uint32_t		 remote_id;
	uint32_t		 seq;		/* our next seq */
	uint32_t		 ack;		/* everything below arrived */
	int			 sock;
	struct hn_addr		 remote;
	uint64_t		 until_ms;
};

#define UDX_LINGER_MS	15000
#define UDX_LINGER_MAX	256

struct udx {
	struct hn_io		*io;
	struct udx_stream	**table;
	uint32_t		 table_mask;
	uint32_t		 nstreams;
	bool			 had_stream;
	udx_raw_fn		*raw;
	void			*raw_arg;
	unsigned		 mtu_max;
	struct udx_stream	*flush_head;
	struct hn_timer		 flush_timer;
	struct udx_stream	*zombies;
	int			 depth;
	struct udx_linger	 linger[UDX_LINGER_MAX];
	size_t			 nlinger;
	struct udx_pkt		*pkt_free;
	size_t			 pkt_free_n;
	struct udx_rpkt		*rpkt_free[64];
	size_t			 rpkt_free_n;
	uint8_t			 scratch[UDX_HEADER_SIZE +
				    UDX_MAX_SACK_BLOCKS * UDX_SACK_BLOCK_SIZE +
				    UDX_MAX_DATAGRAM];
};

/* udx.c */
void		 udx_enter(struct udx *u);
void		 udx_leave(struct udx *u);
void		 udx_table_remove(struct udx *u, struct udx_stream *s);
void		 udx_linger_add(struct udx *u, const struct udx_stream *s);
void		 udx_flush_add(struct udx *u, struct udx_stream *s);
void		 udx_flush_del(struct udx *u, struct udx_stream *s);
struct udx_pkt	*udx_pkt_alloc(struct udx *u);
void		 udx_pkt_release(struct udx *u, struct udx_pkt *p);
struct udx_rpkt	*udx_rpkt_alloc(struct udx *u);
void		 udx_rpkt_release(struct udx *u, struct udx_rpkt *p);

/* stream.c */
void		 udx_stream_input(struct udx_stream *s, int sock,
		    const struct hn_addr *from, const struct udx_packet *p,
		    const uint8_t *buf, size_t len);
void		 udx_stream_flush(struct udx_stream *s);
void		 udx_stream_release(struct udx_stream *s);
void		 udx_stream_setup(struct udx_stream *s);

/* cubic.c: congestion control in packets (RFC 9438) */
void		 udx_cc_init(struct udx_cubic *cc);
void		 udx_cc_on_ack(struct udx_cubic *cc, uint32_t acked,
		    uint32_t inflight, uint64_t now_us, uint64_t srtt_us);
void		 udx_cc_on_loss(struct udx_cubic *cc, uint64_t now_us);
void		 udx_cc_on_rto(struct udx_cubic *cc, uint64_t now_us);
uint32_t	 udx_cc_cwnd(const struct udx_cubic *cc);
bool		 udx_cc_in_slow_start(const struct udx_cubic *cc);

#endif
