/*
 * stream.c - one UDX stream: receive processing (spec/udx.md §9),
 * packetisation (§10), acks (§11-12), RACK/TLP/RTO (§13), pacing (§14),
 * rwnd and zero-window probes (§15), MTU probes (§16), keepalive (§17),
 * close (§18), messages (§19), relay (§20), changeRemote (§21)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "udx_int.h"

#define RCV_MASK	(UDX_RCV_RING - 1)

static void	stream_pump(struct udx_stream *s);
static void	stream_close(struct udx_stream *s, int err);

/* ------------------------------------------------------------ helpers */

static uint64_t
now_us(const struct udx_stream *s)
{
	return hn_now_us(s->u->io);
}

static uint64_t
now_ms(const struct udx_stream *s)
{
	return hn_now_ms(s->u->io);
}

static uint32_t
stream_mss(const struct udx_stream *s)
{
	return s->mtu - UDX_IPV4_OVERHEAD;
}

static uint32_t
stream_cwnd(const struct udx_stream *s)
{
	return udx_cc_cwnd(&s->cc);
}

/* §15: the peer's window in packets. */
static uint32_t
stream_rwnd_pkts(const struct udx_stream *s)
{
	uint32_t n;

	if (s->snd_rwnd == 0)
		return 0;
	n = s->snd_rwnd / stream_mss(s);
	return n ? n : 1;
}

/* Arm `t` for `due` (ms) unless it already fires no later; record it. */
static void
timer_due(struct udx_stream *s, struct hn_timer *t, uint64_t *field,
    uint64_t due)
{
	*field = due;
	if (!t->armed || t->due > due)
		hn_timer_arm(s->u->io, t, due);
}

/*
 * Common prologue of the deadline timers: true when the deadline in
 * `field` has come (and clears it), false when there is none or the timer
 * was re-armed for a later one.
 */
static bool
timer_expired(struct udx_stream *s, struct hn_timer *t, uint64_t *field)
{
	uint64_t now = now_ms(s);

	if (*field == 0)
		return false;
	if (now < *field) {
		hn_timer_arm(s->u->io, t, *field);
		return false;
	}
	*field = 0;
	return true;
}

static void
tlist_remove(struct udx_stream *s, struct udx_pkt *p)
{
	if (!p->in_flight)
		return;
	if (p->tprev)
		p->tprev->tnext = p->tnext;
	else
		s->tfirst = p->tnext;
	if (p->tnext)
		p->tnext->tprev = p->tprev;
	else
		s->tlast = p->tprev;
	p->tprev = p->tnext = NULL;
	p->in_flight = false;
	s->inflight--;
}

static void
tlist_append(struct udx_stream *s, struct udx_pkt *p)
{
	p->tnext = NULL;
	p->tprev = s->tlast;
	if (s->tlast)
		s->tlast->tnext = p;
	else
		s->tfirst = p;
	s->tlast = p;
	p->in_flight = true;
	s->inflight++;
}

/* ------------------------------------------------------------ sending */

static void
stream_send_datagram(struct udx_stream *s, int sock, const struct hn_addr *to,
    const uint8_t *buf, size_t len)
{
	hn_send(s->u->io, sock, to, buf, len);
	s->st.packets_tx++;
}

/* A header-only packet (HEARTBEAT, DESTROY) to the current remote. */
static void
stream_send_ctrl(struct udx_stream *s, uint8_t type)
{
	uint8_t b[UDX_HEADER_SIZE];

	if (!s->connected)
		return;
	udx_header_write(b, type, 0, s->remote_id, UDX_DEFAULT_RWND,
	    s->snd_next, s->rcv_ack);
	stream_send_datagram(s, s->sock, &s->remote, b, sizeof(b));
}

/* §6: ascending blocks of buffered runs above the ack, at most 50. */
static size_t
stream_sack_blocks(const struct udx_stream *s, uint8_t *out)
{
	uint32_t seq = s->rcv_ack + 1, start;
	size_t n = 0;

	while (udx_seq_lt(seq, s->rcv_high) && n < UDX_MAX_SACK_BLOCKS) {
		if (s->ooo[seq & RCV_MASK] == NULL) {
			seq++;
			continue;
		}
		start = seq;
		while (udx_seq_lt(seq, s->rcv_high) &&
		    s->ooo[seq & RCV_MASK] != NULL)
			seq++;
		store_u32le(out + n * 8, start);
		store_u32le(out + n * 8 + 4, seq);
		n++;
	}
	return n;
}

/* §11: ACK, with SACK blocks when out-of-order data is buffered. */
static void
stream_send_ack(struct udx_stream *s)
{
	uint8_t *b = s->u->scratch;
	uint8_t type = 0;
	size_t n = 0;

	if (!s->connected)
		return;
	if (s->ooo_count > 0) {
		n = stream_sack_blocks(s, b + UDX_HEADER_SIZE);
		if (n > 0)
			type = UDX_TYPE_SACK;
	}
	udx_header_write(b, type, 0, s->remote_id, UDX_DEFAULT_RWND,
	    s->snd_next, s->rcv_ack);
	stream_send_datagram(s, s->sock, &s->remote, b,
	    UDX_HEADER_SIZE + n * UDX_SACK_BLOCK_SIZE);
	s->ack_pending = false;
	s->st.acks_tx++;
}

/* (Re)transmit a DATA/END packet to where it first went (§5, §21). */
static void
stream_xmit(struct udx_stream *s, struct udx_pkt *p)
{
	uint8_t *pl = UDX_PKT_PAYLOAD(p);
	uint8_t *d = pl - p->pad - UDX_HEADER_SIZE;

	if (p->pad)
		memset(pl - p->pad, 0, p->pad);
	udx_header_write(d, p->type, p->pad, p->remote_id, UDX_DEFAULT_RWND,
	    p->seq, s->rcv_ack);
	stream_send_datagram(s, p->sock, &p->to, d,
	    (size_t)UDX_HEADER_SIZE + p->pad + p->len);
	p->time_sent = now_us(s);
	if (p->tx_count < 255)
		p->tx_count++;
	tlist_append(s, p);
	/* the cumulative ack rode along: no separate ACK needed */
	if (s->ack_pending && s->ooo_count == 0 &&
	    p->remote_id == s->remote_id)
		s->ack_pending = false;
}

static void
stream_rto_arm(struct udx_stream *s)
{
	timer_due(s, &s->rto_timer, &s->rto_due, now_ms(s) + s->rto_ms);
}

/* §13 TLP: armed in the normal state with nothing SACKed. */
static void
stream_tlp_arm(struct udx_stream *s)
{
	uint64_t pto, due;

	if (s->ca_state != UDX_CA_OPEN || s->sacked > 0 || s->inflight == 0)
		return;
	if (s->have_rtt) {
		pto = (2 * s->srtt_us + 999) / 1000;
		if (pto < 2)
			pto = 2;
		if (s->inflight == 1)
			pto += 2;
	} else {
		pto = 1000;
	}
	due = now_ms(s) + pto;
	if (s->rto_due != 0 && due >= s->rto_due)
		return;
	timer_due(s, &s->tlp_timer, &s->tlp_due, due);
}

static int
stream_out_grow(struct udx_stream *s)
{
	uint32_t n = (s->out_mask + 1) * 2, seq;
	struct udx_pkt **out;

	out = calloc(n, sizeof(*out));
	if (out == NULL)
		return -ENOMEM;
	for (seq = s->snd_una; seq != s->snd_next; seq++)
		out[seq & (n - 1)] = s->out[seq & s->out_mask];
	free(s->out);
	s->out = out;
	s->out_mask = n - 1;
	return 0;
}

/* §16: make the next new full DATA packet an MTU probe. */
static void
stream_maybe_probe(struct udx_stream *s, struct udx_pkt *p)
{
	int pad;

	if (s->mtu_state != UDX_MTU_STATE_SEARCH || s->probe_out ||
	    s->change_pending || p->len != p->cap || (p->type & UDX_TYPE_END))
		return;
	pad = (int)s->probe_size - 28 - UDX_HEADER_SIZE - p->len;
	if (pad <= 0 || pad > 255)
		return;
	p->pad = (uint8_t)pad;
	p->probe = true;
	s->probe_out = true;
}

/* First transmission of the head of the unsent queue. */
static int
stream_send_new(struct udx_stream *s)
{
	struct udx_pkt *p = s->uhead;

	if (s->snd_next - s->snd_una > s->out_mask && stream_out_grow(s) != 0)
		return -ENOMEM;
	s->uhead = p->next;
	if (s->uhead == NULL)
		s->utail = NULL;
	p->next = NULL;
	s->queued -= p->len;
	p->sealed = true;
	p->seq = s->snd_next++;
	s->out[p->seq & s->out_mask] = p;
	p->sock = s->sock;
	p->remote_id = s->remote_id;
	p->to = s->remote;
	stream_maybe_probe(s, p);
	if (s->rto_due == 0)
		stream_rto_arm(s);
	stream_xmit(s, p);
	s->st.bytes_tx += p->len;
	s->tokens -= (double)(UDX_HEADER_SIZE + p->pad + p->len);
	return 0;
}

static void
stream_probe_failed(struct udx_stream *s, struct udx_pkt *p)
{
	p->pad = 0;
	p->probe = false;
	s->probe_out = false;
	if (++s->probe_fails >= UDX_MTU_PROBES)
		s->mtu_state = UDX_MTU_STATE_DONE;
}

/* Re-send a packet now (TLP, or from the retransmit queue). */
static void
stream_retransmit(struct udx_stream *s, struct udx_pkt *p)
{
	tlist_remove(s, p);
	if (p->probe)
		stream_probe_failed(s, p);
	p->lost = false;
	stream_xmit(s, p);
	s->st.retransmits++;
}

/* §14 pacing: refill the byte bucket from the elapsed time. */
static void
stream_pace_refill(struct udx_stream *s, uint64_t now)
{
	double srtt, rate, burst, gain;

	if (now <= s->pace_stamp_us)
		return;
	srtt = s->have_rtt ? (double)s->srtt_us : 1000.0;
	if (srtt < 50)
		srtt = 50;
	gain = udx_cc_in_slow_start(&s->cc) ? 2.0 : 1.25;
	rate = gain * s->cc.cwnd * stream_mss(s) / srtt;	/* bytes/us */
	burst = rate * 2000.0;
	if (burst < 16.0 * UDX_MTU_MAX)
		burst = 16.0 * UDX_MTU_MAX;
	if (s->tokens < burst) {
		s->tokens += rate * (double)(now - s->pace_stamp_us);
		if (s->tokens > burst)
			s->tokens = burst;
	}
	s->pace_stamp_us = now;
}

/* §15: probe a zero window with HEARTBEATs (first at once, then rto, 2 rto). */
static void
stream_zwp_start(struct udx_stream *s)
{
	if (s->zwp_timer.armed)
		return;
	stream_send_ctrl(s, UDX_TYPE_HEARTBEAT);
	s->zwp_ms = s->rto_ms;
	hn_timer_after(s->u->io, &s->zwp_timer, s->zwp_ms);
}

static bool
stream_writable(const struct udx_stream *s)
{
	return s->queued < UDX_WRITE_HWM + (size_t)stream_cwnd(s) *
	    stream_mss(s);
}

/* Send what the windows and the pacer allow: retransmissions first. */
static void
stream_pump(struct udx_stream *s)
{
	uint32_t cwnd, wnd, seq;
	struct udx_pkt *p;
	bool sent = false;

	if (!s->connected || s->closed)
		return;
	cwnd = stream_cwnd(s);
	while (s->rtxq_len > 0 && s->inflight < cwnd) {
		seq = s->rtxq[s->rtxq_head];
		s->rtxq_head = (s->rtxq_head + 1) % s->rtxq_cap;
		s->rtxq_len--;
		if (udx_seq_lt(seq, s->snd_una) ||
		    !udx_seq_lt(seq, s->snd_next))
			continue;
		p = s->out[seq & s->out_mask];
		if (p == NULL || !p->lost)
			continue;
		stream_retransmit(s, p);
	}
	stream_pace_refill(s, now_us(s));
	while (s->uhead != NULL && s->uhead->sealed) {
		wnd = stream_rwnd_pkts(s);
		if (wnd > cwnd)
			wnd = cwnd;
		if (s->inflight >= wnd) {
			if (wnd == 0 && s->inflight == 0)
				stream_zwp_start(s);
			break;
		}
		if (s->tokens <= 0) {
			if (!s->pace_timer.armed)
				hn_timer_after(s->u->io, &s->pace_timer, 1);
			break;
		}
		if (stream_send_new(s) != 0)
			break;
		sent = true;
	}
	if (sent)
		stream_tlp_arm(s);
	if (s->want_drain && stream_writable(s)) {
		s->want_drain = false;
		if (s->ops->on_drain)
			s->ops->on_drain(s, s->arg);
	}
}

/* ------------------------------------------------------------ acks in */

static void
stream_rtt_sample(struct udx_stream *s, uint64_t r, uint64_t now)
{
	uint64_t lim, rto;

	/* §12: clamp absurd samples */
	if (r > 5000000) {
		lim = s->have_rtt ? s->srtt_us + 5 * s->rttvar_us :
		    UDX_RTO_MAX_MS * 1000ull;
		if (lim > UDX_RTO_MAX_MS * 1000ull)
			lim = UDX_RTO_MAX_MS * 1000ull;
		if (r > lim)
			r = lim;
	}
	if (!s->have_rtt) {
		s->srtt_us = r;
		s->rttvar_us = r / 2;
		s->have_rtt = true;
	} else {
		uint64_t d = s->srtt_us > r ? s->srtt_us - r : r - s->srtt_us;

		s->rttvar_us = (3 * s->rttvar_us + d) / 4;
		s->srtt_us = (7 * s->srtt_us + r) / 8;
	}
	rto = (s->srtt_us + 4 * s->rttvar_us) / 1000;
	if (rto < UDX_RTO_MIN_MS)
		rto = UDX_RTO_MIN_MS;
	if (rto > UDX_RTO_MAX_MS)
		rto = UDX_RTO_MAX_MS;
	s->rto_ms = (uint32_t)rto;
	/* windowed minimum (300 s) for RACK */
	if (s->min_rtt_stamp_us == 0 || r <= s->min_rtt_us ||
	    now - s->min_rtt_stamp_us > 300000000ull) {
		s->min_rtt_us = r;
		s->min_rtt_stamp_us = now;
	}
	s->rtt_since_probe = true;
	s->tlp_out = false;
}

/* A packet was delivered (cumulatively or by SACK): RACK and MTU state. */
static void
stream_delivered(struct udx_stream *s, struct udx_pkt *p, uint64_t now)
{
	uint64_t rtt = now - p->time_sent;

	tlist_remove(s, p);
	/* RFC 8985 §6.2: an ambiguous sample shorter than min_rtt is not
	 * from this transmission */
	if (!(p->tx_count > 1 && rtt < s->min_rtt_us) &&
	    (!s->rack_valid || p->time_sent > s->rack_xmit_us)) {
		s->rack_xmit_us = p->time_sent;
		s->rack_rtt_us = rtt;
		s->rack_valid = true;
	}
	if (p->tx_count == 1 && udx_seq_lt(p->seq, s->fack))
		s->reordering_seen = true;
	if (!udx_seq_lt(p->seq, s->fack))
		s->fack = p->seq + 1;
	if (s->mtu_state == UDX_MTU_STATE_BASE) {
		s->mtu_state = UDX_MTU_STATE_SEARCH;
		s->probe_size = s->mtu + UDX_MTU_STEP;
		if (s->probe_size > s->mtu_max)
			s->probe_size = s->mtu_max;
	}
	if (p->probe) {
		s->probe_out = false;
		s->probe_fails = 0;
		s->mtu = s->probe_size;
		if (s->mtu >= s->mtu_max) {
			s->mtu_state = UDX_MTU_STATE_DONE;
		} else {
			s->probe_size = s->mtu + UDX_MTU_STEP;
			if (s->probe_size > s->mtu_max)
				s->probe_size = s->mtu_max;
		}
	}
}

static void
stream_rtxq_push(struct udx_stream *s, uint32_t seq)
{
	uint32_t *q, n, i;

	if (s->rtxq_len == s->rtxq_cap) {
		n = s->rtxq_cap ? s->rtxq_cap * 2 : 64;
		q = malloc(n * sizeof(*q));
		if (q == NULL)
			return;	/* the RTO will find it */
		for (i = 0; i < s->rtxq_len; i++)
			q[i] = s->rtxq[(s->rtxq_head + i) % s->rtxq_cap];
		free(s->rtxq);
		s->rtxq = q;
		s->rtxq_cap = n;
		s->rtxq_head = 0;
	}
	s->rtxq[(s->rtxq_head + s->rtxq_len) % s->rtxq_cap] = seq;
	s->rtxq_len++;
}

static void
stream_mark_lost(struct udx_stream *s, struct udx_pkt *p)
{
	bool probe = p->probe;

	tlist_remove(s, p);
	if (probe)
		stream_probe_failed(s, p);
	if (!p->lost) {
		p->lost = true;
		stream_rtxq_push(s, p->seq);
	}
	if (s->ca_state == UDX_CA_OPEN && !probe) {
		s->ca_state = UDX_CA_RECOVERY;
		s->high_seq = s->snd_next;
		udx_cc_on_loss(&s->cc, now_us(s));
		s->st.recoveries++;
	}
}

static uint64_t
stream_reo_wnd(const struct udx_stream *s)
{
	uint64_t w;

	if (!s->reordering_seen &&
	    (s->ca_state != UDX_CA_OPEN || s->sacked >= 3))
		return 0;
	w = s->min_rtt_us / 4;
	if (s->have_rtt && w > s->srtt_us)
		w = s->srtt_us;
	return w;
}

/*
 * §13 RACK: packets sent before the most recently sent delivered one are
 * lost once their reordering allowance has passed.  The in-flight list is
 * in send order, so the walk stops at the first packet that is not.
 */
static void
stream_rack_detect(struct udx_stream *s, uint64_t now)
{
	struct udx_pkt *p, *next;
	uint64_t reo, deadline;

	if (!s->rack_valid)
		return;
	reo = stream_reo_wnd(s);
	for (p = s->tfirst; p != NULL; p = next) {
		next = p->tnext;
		if (p->time_sent > s->rack_xmit_us)
			break;
		deadline = p->time_sent + s->rack_rtt_us + reo;
		if (deadline > now) {
			if (p->time_sent == s->rack_xmit_us && reo == 0)
				break;	/* sent together with it */
			timer_due(s, &s->rack_timer, &s->rack_due,
			    (deadline + 999) / 1000);
			break;
		}
		stream_mark_lost(s, p);
	}
}

/* What one incoming packet acknowledged. */
struct ack_run {
	uint32_t	delivered;
	uint64_t	best_sent;	/* newest never-retransmitted send */
	bool		have_best;
};

static void
ack_run_add(struct udx_stream *s, struct ack_run *r, struct udx_pkt *p,
    uint64_t now)
{
	stream_delivered(s, p, now);
	r->delivered++;
	if (p->tx_count == 1 && (!r->have_best || p->time_sent > r->best_sent)) {
		r->best_sent = p->time_sent;
		r->have_best = true;
	}
	udx_pkt_release(s->u, p);
}

/* §12 step 12: everything below `ack` arrived. */
static void
stream_ack_cum(struct udx_stream *s, uint32_t ack, uint64_t now,
    struct ack_run *r)
{
	struct udx_pkt *p;
	uint32_t seq;

	if (!udx_seq_lt(s->snd_una, ack))
		return;
	for (seq = s->snd_una; seq != ack; seq++) {
		p = s->out[seq & s->out_mask];
		s->out[seq & s->out_mask] = NULL;
		if (p == NULL)
			s->sacked--;
		else
			ack_run_add(s, r, p, now);
	}
	s->snd_una = ack;
	if (s->snd_una == s->snd_next) {
		s->rto_due = 0;
		s->tlp_due = 0;
	} else {
		stream_rto_arm(s);
	}
}

/* §6: a valid SACK block acknowledges its packets at once. */
static void
stream_ack_sack(struct udx_stream *s, uint32_t start, uint32_t end,
    uint64_t now, struct ack_run *r)
{
	struct udx_pkt *p;
	uint32_t seq;

	if (!udx_seq_lt(start, end) || udx_seq_lt(s->snd_next, end) ||
	    udx_seq_lt(start, s->snd_una))
		return;
	for (seq = start; seq != end; seq++) {
		p = s->out[seq & s->out_mask];
		if (p == NULL)
			continue;
		s->out[seq & s->out_mask] = NULL;
		s->sacked++;
		ack_run_add(s, r, p, now);
	}
}

/* ------------------------------------------------------------ receive */

/*
 * §9 step 5 for a DATA/END packet with seq >= ack: deliver in order or
 * buffer.  Returns false if the stream closed from a callback.
 */
static bool
stream_recv_data(struct udx_stream *s, const struct udx_packet *p)
{
	uint32_t d = p->seq - s->rcv_ack;
	struct udx_rpkt *rp;

	if (s->remote_ending && udx_seq_lt(s->remote_end_seq, p->seq))
		return true;	/* beyond the peer's END */
	if (d == 0) {
		s->rcv_ack++;
		if ((p->type & UDX_TYPE_DATA) && p->payload_len > 0) {
			s->st.bytes_rx += p->payload_len;
			if (s->ops->on_data)
				s->ops->on_data(s, s->arg, p->payload,
				    p->payload_len);
		}
		return !s->closed;
	}
	if (d >= UDX_RCV_RING || p->payload_len > sizeof(rp->data))
		return true;	/* beyond our buffer: dropped, re-acked */
	if (s->ooo == NULL) {
		s->ooo = calloc(UDX_RCV_RING, sizeof(*s->ooo));
		if (s->ooo == NULL)
			return true;
	}
	if (s->ooo[p->seq & RCV_MASK] != NULL)
		return true;	/* duplicate */
	rp = udx_rpkt_alloc(s->u);
	if (rp == NULL)
		return true;
	rp->type = p->type;
	rp->len = (p->type & UDX_TYPE_DATA) ? (uint16_t)p->payload_len : 0;
	memcpy(rp->data, p->payload, rp->len);
	s->ooo[p->seq & RCV_MASK] = rp;
	s->ooo_count++;
	if (!udx_seq_lt(p->seq, s->rcv_high))
		s->rcv_high = p->seq + 1;
	return true;
}

/* §9 step 7: deliver buffered packets that are now in order. */
static bool
stream_drain_ooo(struct udx_stream *s)
{
	struct udx_rpkt *rp;

	while (s->ooo_count > 0 &&
	    (rp = s->ooo[s->rcv_ack & RCV_MASK]) != NULL) {
		s->ooo[s->rcv_ack & RCV_MASK] = NULL;
		s->ooo_count--;
		s->rcv_ack++;
		if (rp->len > 0) {
			s->st.bytes_rx += rp->len;
			if (s->ops->on_data)
				s->ops->on_data(s, s->arg, rp->data, rp->len);
		}
		udx_rpkt_release(s->u, rp);
		if (s->closed)
			return false;
	}
	if (s->ooo_count == 0)
		s->rcv_high = s->rcv_ack;
	return true;
}

/* §20: forward to the partner's peer with the id rewritten. */
static void
stream_relay(struct udx_stream *s, const struct udx_packet *p,
    const uint8_t *buf, size_t len)
{
	struct udx_stream *dst = s->relay;
	uint8_t *b = s->u->scratch;

	if (dst->connected && !dst->closed && len <= UDX_MAX_DATAGRAM) {
		memcpy(b, buf, len);
		store_u32le(b + 4, dst->remote_id);
		stream_send_datagram(dst, dst->sock, &dst->remote, b, len);
	}
	if (p->type & UDX_TYPE_DESTROY) {
		stream_close(s, -ECONNRESET);
		stream_close(dst, 0);
	}
}

/* §15: the TCP rule for taking a window from a packet. */
static void
stream_window_update(struct udx_stream *s, const struct udx_packet *p)
{
	if (udx_seq_lt(p->ack, s->snd_una))
		return;
	if (s->wl_set && !udx_seq_lt(s->wl1, p->seq) &&
	    !(p->seq == s->wl1 && !udx_seq_lt(p->ack, s->wl2)))
		return;
	s->snd_rwnd = p->rwnd;
	s->wl1 = p->seq;
	s->wl2 = p->ack;
	s->wl_set = true;
	if (p->rwnd > 0 && s->zwp_timer.armed)
		hn_timer_cancel(s->u->io, &s->zwp_timer);
}

/* §9 steps 12-14 for the ack side of a packet. */
static void
stream_process_acks(struct udx_stream *s, const struct udx_packet *p,
    uint64_t now, struct ack_run *r)
{
	uint32_t start, end;
	size_t i;

	stream_ack_cum(s, p->ack, now, r);
	for (i = 0; i < p->nsacks; i++) {
		udx_packet_sack(p, i, &start, &end);
		stream_ack_sack(s, start, end, now, r);
	}
	if (r->delivered == 0)
		return;
	if (r->have_best)
		stream_rtt_sample(s, now - r->best_sent, now);
	stream_rack_detect(s, now);
	if (s->ca_state == UDX_CA_OPEN)
		udx_cc_on_ack(&s->cc, r->delivered, s->inflight + r->delivered,
		    now, s->srtt_us);
	stream_tlp_arm(s);
}

/* Our END and everything before it acknowledged? */
static bool
stream_local_done(const struct udx_stream *s)
{
	return s->ending && s->uhead == NULL && s->snd_una == s->snd_next;
}

/* §9: a packet for this stream that passed the firewall. */
void
udx_stream_input(struct udx_stream *s, int sock, const struct hn_addr *from,
    const struct udx_packet *p, const uint8_t *buf, size_t len)
{
	bool data = (p->type & (UDX_TYPE_DATA | UDX_TYPE_END)) != 0;
	bool ack_now = false;
	struct ack_run r = { 0, 0, false };
	uint64_t now;

	if (s->relay != NULL) {
		stream_relay(s, p, buf, len);
		return;
	}
	if (p->type & UDX_TYPE_HEARTBEAT) {
		stream_send_ack(s);
		return;
	}
	if (p->offset_overrun)
		return;
	if (!udx_seq_lt(p->seq, s->rcv_ack)) {
		if (data && !s->remote_ended && !stream_recv_data(s, p))
			return;
		if ((p->type & UDX_TYPE_END) && !s->remote_ending) {
			s->remote_ending = true;
			s->remote_end_seq = p->seq;
		}
		if (p->type & UDX_TYPE_DESTROY) {
			stream_close(s, -ECONNRESET);
			return;
		}
	}
	if (data)
		s->rcvd_any = true;
	if (p->type & UDX_TYPE_MESSAGE) {
		if (s->ops->on_message)
			s->ops->on_message(s, s->arg, p->payload,
			    p->payload_len);
		if (s->closed)
			return;
	}
	if (!stream_drain_ooo(s))
		return;
	if (udx_seq_lt(s->snd_next, p->ack))
		return;		/* step 8: acks data we never sent */
	stream_window_update(s, p);
	if (s->change_pending && !udx_seq_lt(p->ack, s->switch_seq)) {
		s->change_pending = false;
		if (s->ops->on_remote_changed)
			s->ops->on_remote_changed(s, s->arg);
		if (s->closed)
			return;
	}
	if (s->ca_state != UDX_CA_OPEN && !udx_seq_lt(p->ack, s->high_seq))
		s->ca_state = UDX_CA_OPEN;
	now = now_us(s);
	stream_process_acks(s, p, now, &r);
	if (!s->ended && stream_local_done(s)) {
		s->ended = true;
		if (s->remote_ended) {
			stream_close(s, 0);
			return;
		}
		ack_now = true;		/* the "final state" ACK */
	}
	/* step 15 */
	if (data || ack_now) {
		if ((p->type & UDX_TYPE_END) || ack_now || s->remote_ending) {
			stream_send_ack(s);
		} else {
			s->ack_pending = true;
			udx_flush_add(s->u, s);
		}
		if (s->remote_ending && !s->remote_ended &&
		    udx_seq_lt(s->remote_end_seq, s->rcv_ack)) {
			s->remote_ended = true;
			if (s->ops->on_end)
				s->ops->on_end(s, s->arg);
			if (s->closed)
				return;
			if (s->ended) {
				stream_close(s, 0);
				return;
			}
		}
	}
	stream_pump(s);
	(void)sock;
	(void)from;
}

/* End of a batch: seal the partly filled packet, send it and the ACK. */
void
udx_stream_flush(struct udx_stream *s)
{
	if (s->utail != NULL)
		s->utail->sealed = true;
	stream_pump(s);
	if (s->ack_pending && !s->closed)
		stream_send_ack(s);
}

/* ------------------------------------------------------------ timers */

static void
stream_rto_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, rto_timer);
	struct udx_pkt *p = NULL, *q, *next;
	uint64_t now, reo;
	uint32_t seq;

	if (!timer_expired(s, t, &s->rto_due))
		return;
	for (seq = s->snd_una; seq != s->snd_next && p == NULL; seq++)
		p = s->out[seq & s->out_mask];
	if (p == NULL)
		return;
	udx_enter(s->u);
	if (p->rto_count >= UDX_RTO_GIVE_UP) {
		stream_close(s, -ETIMEDOUT);
		goto out;
	}
	p->rto_count++;
	s->st.rto_count++;
	now = now_us(s);
	s->ca_state = UDX_CA_LOSS;
	s->high_seq = s->snd_next;
	udx_cc_on_rto(&s->cc, now);
	s->tlp_out = false;
	s->tlp_due = 0;
	/* §13: the oldest packet, and any whose RACK deadline passed */
	if (!p->lost)
		stream_mark_lost(s, p);
	reo = stream_reo_wnd(s);
	for (q = s->tfirst; q != NULL; q = next) {
		next = q->tnext;
		if (q->time_sent + s->rack_rtt_us + reo <= now)
			stream_mark_lost(s, q);
	}
	timer_due(s, &s->rto_timer, &s->rto_due,
	    now_ms(s) + 2 * (uint64_t)s->rto_ms);
	stream_pump(s);
out:
	udx_leave(s->u);
}

static void
stream_tlp_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, tlp_timer);
	struct udx_pkt *p;

	if (!timer_expired(s, t, &s->tlp_due))
		return;
	if (s->ca_state != UDX_CA_OPEN || s->inflight == 0 || s->tlp_out ||
	    !s->rtt_since_probe || !s->connected)
		return;		/* the RTO takes over */
	udx_enter(s->u);
	s->tlp_out = true;
	s->rtt_since_probe = false;
	s->st.tlp_count++;
	if (s->uhead != NULL && stream_rwnd_pkts(s) > s->inflight) {
		s->uhead->sealed = true;
		stream_send_new(s);	/* new data, ignoring cwnd */
	} else {
		p = s->out[(s->snd_next - 1) & s->out_mask];
		if (p != NULL && p->in_flight)
			stream_retransmit(s, p);
	}
	udx_leave(s->u);
}

static void
stream_rack_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, rack_timer);

	if (!timer_expired(s, t, &s->rack_due))
		return;
	udx_enter(s->u);
	stream_rack_detect(s, now_us(s));
	stream_pump(s);
	udx_leave(s->u);
}

static void
stream_pace_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, pace_timer);

	udx_enter(s->u);
	stream_pump(s);
	udx_leave(s->u);
}

static void
stream_zwp_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, zwp_timer);

	if (s->snd_rwnd != 0 || s->uhead == NULL)
		return;
	udx_enter(s->u);
	stream_send_ctrl(s, UDX_TYPE_HEARTBEAT);
	s->zwp_ms = 2 * s->rto_ms;
	hn_timer_after(s->u->io, &s->zwp_timer, s->zwp_ms);
	udx_leave(s->u);
}

static void
stream_ka_cb(struct hn_timer *t)
{
	struct udx_stream *s = container_of(t, struct udx_stream, ka_timer);

	if (s->keepalive_ms == 0 || !s->connected)
		return;
	udx_enter(s->u);
	if (s->snd_una == s->snd_next && s->uhead == NULL)
		stream_send_ctrl(s, UDX_TYPE_HEARTBEAT);
	hn_timer_after(s->u->io, &s->ka_timer, s->keepalive_ms);
	udx_leave(s->u);
}

void
udx_stream_setup(struct udx_stream *s)
{
	hn_timer_init(&s->rto_timer, stream_rto_cb);
	hn_timer_init(&s->tlp_timer, stream_tlp_cb);
	hn_timer_init(&s->rack_timer, stream_rack_cb);
	hn_timer_init(&s->pace_timer, stream_pace_cb);
	hn_timer_init(&s->zwp_timer, stream_zwp_cb);
	hn_timer_init(&s->ka_timer, stream_ka_cb);
	s->rtt_since_probe = true;
}

/* ------------------------------------------------------------ close */

static void
stream_close(struct udx_stream *s, int err)
{
	struct udx *u = s->u;
	struct hn_io *io = u->io;

	if (s->closed)
		return;
	s->closed = true;
	if (err == 0 && s->ended && s->remote_ended && s->connected)
		udx_linger_add(u, s);
	udx_table_remove(u, s);
	udx_flush_del(u, s);
	hn_timer_cancel(io, &s->rto_timer);
	hn_timer_cancel(io, &s->tlp_timer);
	hn_timer_cancel(io, &s->rack_timer);
	hn_timer_cancel(io, &s->pace_timer);
	hn_timer_cancel(io, &s->zwp_timer);
	hn_timer_cancel(io, &s->ka_timer);
	if (s->relay_src != NULL && s->relay_src->relay == s)
		s->relay_src->relay = NULL;
	if (s->relay != NULL && s->relay->relay_src == s)
		s->relay->relay_src = NULL;
	s->znext = u->zombies;
	u->zombies = s;
	if (s->ops->on_close)
		s->ops->on_close(s, s->arg, err);
}

/* Free a stream's memory (closed, or the instance is going away). */
void
udx_stream_release(struct udx_stream *s)
{
	struct udx *u = s->u;
	struct udx_pkt *p;
	uint32_t seq, i;

	for (seq = s->snd_una; seq != s->snd_next; seq++)
		if ((p = s->out[seq & s->out_mask]) != NULL)
			udx_pkt_release(u, p);
	while ((p = s->uhead) != NULL) {
		s->uhead = p->next;
		udx_pkt_release(u, p);
	}
	if (s->ooo != NULL) {
		for (i = 0; i < UDX_RCV_RING; i++)
			if (s->ooo[i] != NULL)
				udx_rpkt_release(u, s->ooo[i]);
		free(s->ooo);
	}
	if (!s->closed) {
		/* udx_free(): nobody will fire these any more */
		hn_timer_cancel(u->io, &s->rto_timer);
		hn_timer_cancel(u->io, &s->tlp_timer);
		hn_timer_cancel(u->io, &s->rack_timer);
		hn_timer_cancel(u->io, &s->pace_timer);
		hn_timer_cancel(u->io, &s->zwp_timer);
		hn_timer_cancel(u->io, &s->ka_timer);
	}
	free(s->rtxq);
	free(s->out);
	free(s);
}

/* ------------------------------------------------------------ API */

int
udx_stream_connect(struct udx_stream *s, int sock, uint32_t remote_id,
    const struct hn_addr *to)
{
	if (s->closed || sock < 0)
		return -EINVAL;
	if (s->connected)
		return -EISCONN;
	udx_enter(s->u);
	s->sock = sock;
	s->remote_id = remote_id;
	s->remote = *to;
	s->connected = true;
	s->mtu_max = (uint16_t)s->u->mtu_max;
	s->mtu_state = s->mtu_max <= UDX_MTU_BASE ? UDX_MTU_STATE_DONE :
	    UDX_MTU_STATE_BASE;
	s->pace_stamp_us = now_us(s);
	if (s->rcvd_any)
		stream_send_ack(s);	/* §8: data arrived before connect */
	if (s->keepalive_ms)
		hn_timer_after(s->u->io, &s->ka_timer, s->keepalive_ms);
	stream_pump(s);
	if (s->uhead != NULL)
		udx_flush_add(s->u, s);
	udx_leave(s->u);
	return 0;
}

int
udx_stream_write(struct udx_stream *s, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	struct udx_pkt *p;
	size_t n;

	if (s->closed || s->ending)
		return -EPIPE;
	if (len == 0)
		return 0;
	udx_enter(s->u);
	while (len > 0) {
		p = s->utail;
		if (p == NULL || p->sealed) {
			p = udx_pkt_alloc(s->u);
			if (p == NULL) {
				udx_leave(s->u);
				return -ENOMEM;
			}
			p->cap = (uint16_t)stream_mss(s);
			p->type = UDX_TYPE_DATA;
			if (s->utail)
				s->utail->next = p;
			else
				s->uhead = p;
			s->utail = p;
		}
		n = p->cap - p->len;
		if (n > len)
			n = len;
		memcpy(UDX_PKT_PAYLOAD(p) + p->len, b, n);
		p->len += n;
		b += n;
		len -= n;
		s->queued += n;
		if (p->len == p->cap)
			p->sealed = true;
	}
	if (!stream_writable(s))
		s->want_drain = true;
	stream_pump(s);
	if (s->utail != NULL && !s->utail->sealed)
		udx_flush_add(s->u, s);
	udx_leave(s->u);
	return 0;
}

bool
udx_stream_writable(const struct udx_stream *s)
{
	return !s->closed && !s->ending && stream_writable(s);
}

int
udx_stream_end(struct udx_stream *s)
{
	struct udx_pkt *p = s->utail;

	if (s->closed || s->ending)
		return -EPIPE;
	if (p == NULL || p->sealed) {
		p = udx_pkt_alloc(s->u);
		if (p == NULL)
			return -ENOMEM;
		p->cap = 0;
		if (s->utail)
			s->utail->next = p;
		else
			s->uhead = p;
		s->utail = p;
	}
	udx_enter(s->u);
	p->type |= UDX_TYPE_END;
	p->sealed = true;
	s->ending = true;
	stream_pump(s);
	udx_leave(s->u);
	return 0;
}

int
udx_stream_send(struct udx_stream *s, const void *buf, size_t len)
{
	uint8_t *b = s->u->scratch;

	if (s->closed || !s->connected)
		return -ENOTCONN;
	if (len > UDX_MAX_DATAGRAM - UDX_HEADER_SIZE)
		return -EMSGSIZE;
	udx_header_write(b, UDX_TYPE_MESSAGE, 0, s->remote_id,
	    UDX_DEFAULT_RWND, s->snd_next, s->rcv_ack);
	if (len > 0)
		memcpy(b + UDX_HEADER_SIZE, buf, len);
	stream_send_datagram(s, s->sock, &s->remote, b, UDX_HEADER_SIZE + len);
	return 0;
}

void
udx_stream_destroy(struct udx_stream *s)
{
	struct udx_stream *partner = s->relay;

	if (s->closed)
		return;
	udx_enter(s->u);
	if (partner != NULL) {
		/* §20: a relay stream sends nothing and takes its partner */
		stream_close(s, 0);
		stream_close(partner, 0);
	} else {
		stream_send_ctrl(s, UDX_TYPE_DESTROY);
		stream_close(s, 0);
	}
	udx_leave(s->u);
}

int
udx_stream_change_remote(struct udx_stream *s, int sock, uint32_t remote_id,
    const struct hn_addr *to)
{
	if (s->closed || !s->connected)
		return -ENOTCONN;
	udx_enter(s->u);
	s->sock = sock;
	s->remote_id = remote_id;
	s->remote = *to;
	/* §21: MTU discovery starts over on the new path */
	s->mtu = UDX_MTU_BASE;
	s->mtu_state = s->mtu_max <= UDX_MTU_BASE ? UDX_MTU_STATE_DONE :
	    UDX_MTU_STATE_BASE;
	s->probe_out = false;
	s->probe_fails = 0;
	s->switch_seq = s->snd_next;
	if (s->switch_seq == s->snd_una) {
		s->change_pending = false;
		if (s->ops->on_remote_changed)
			s->ops->on_remote_changed(s, s->arg);
	} else {
		s->change_pending = true;
	}
	udx_leave(s->u);
	return 0;
}

int
udx_stream_relay_to(struct udx_stream *s, struct udx_stream *dst)
{
	if (s->closed || dst == NULL || dst->closed || dst == s)
		return -EINVAL;
	s->relay = dst;
	dst->relay_src = s;
	return 0;
}

void
udx_stream_set_keepalive(struct udx_stream *s, uint32_t ms)
{
	s->keepalive_ms = ms;
	if (ms == 0)
		hn_timer_cancel(s->u->io, &s->ka_timer);
	else if (s->connected && !s->closed)
		hn_timer_after(s->u->io, &s->ka_timer, ms);
}

void
udx_stream_get_info(const struct udx_stream *s, struct udx_stream_info *info)
{
	*info = s->st;
	info->mtu = s->mtu;
	info->srtt_us = (uint32_t)s->srtt_us;
	info->rto_ms = s->rto_ms;
	info->cwnd = stream_cwnd(s);
	info->inflight = s->inflight;
	info->snd_rwnd = s->snd_rwnd;
	info->queued = s->queued;
}

uint32_t
udx_stream_id(const struct udx_stream *s)
{
	return s->id;
}

bool
udx_stream_is_connected(const struct udx_stream *s)
{
	return s->connected && !s->closed;
}
