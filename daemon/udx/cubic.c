/*
 * cubic.c - CUBIC congestion control in packets (RFC 9438), the local
 * choice of spec/udx.md §14 (see udx.h for why)
 */
#include <math.h>

#include "udx_int.h"

#define CUBIC_BETA	0.7
#define CUBIC_C		0.4
/* RFC 9438 §4.3: Reno-friendly additive increase for beta 0.7 */
#define CUBIC_ALPHA	(3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))
#define CUBIC_MAX_CWND	65536.0

void
udx_cc_init(struct udx_cubic *cc)
{
	cc->cwnd = UDX_INIT_CWND;
	cc->ssthresh = CUBIC_MAX_CWND;
	cc->w_max = 0;
	cc->k = 0;
	cc->w_est = 0;
	cc->epoch_us = 0;
}

bool
udx_cc_in_slow_start(const struct udx_cubic *cc)
{
	return cc->cwnd < cc->ssthresh;
}

uint32_t
udx_cc_cwnd(const struct udx_cubic *cc)
{
	return (uint32_t)cc->cwnd;
}

/* `acked` packets were newly delivered; `inflight` is what was in flight. */
void
udx_cc_on_ack(struct udx_cubic *cc, uint32_t acked, uint32_t inflight,
    uint64_t now_us, uint64_t srtt_us)
{
	double t, target, w_cubic;

	/* RFC 9438 §4.8 / RFC 7661: do not grow when the application,
	 * not the window, limits what is in flight */
	if ((double)inflight + acked < cc->cwnd * 0.5)
		return;
	if (udx_cc_in_slow_start(cc)) {
		cc->cwnd += acked;
		if (cc->cwnd > cc->ssthresh && cc->ssthresh < CUBIC_MAX_CWND)
			cc->cwnd = cc->ssthresh;
		return;
	}
	if (cc->epoch_us == 0) {
		cc->epoch_us = now_us;
		if (cc->w_max < cc->cwnd) {
			cc->w_max = cc->cwnd;
			cc->k = 0;
		} else {
			cc->k = cbrt((cc->w_max - cc->cwnd) / CUBIC_C);
		}
		cc->w_est = cc->cwnd;
	}
	t = (double)(now_us - cc->epoch_us + srtt_us) / 1e6;
	w_cubic = CUBIC_C * (t - cc->k) * (t - cc->k) * (t - cc->k) +
	    cc->w_max;
	cc->w_est += CUBIC_ALPHA * acked / cc->cwnd;
	if (w_cubic < cc->w_est) {
		target = cc->w_est;	/* Reno-friendly region */
	} else {
		target = w_cubic;
		if (target > 1.5 * cc->cwnd)
			target = 1.5 * cc->cwnd;
	}
	if (target > cc->cwnd)
		cc->cwnd += (target - cc->cwnd) / cc->cwnd * acked;
	if (cc->cwnd > CUBIC_MAX_CWND)
		cc->cwnd = CUBIC_MAX_CWND;
}

/* A loss event (entering recovery): multiplicative decrease. */
void
udx_cc_on_loss(struct udx_cubic *cc, uint64_t now_us)
{
	/* §4.7 fast convergence */
	if (cc->cwnd < cc->w_max)
		cc->w_max = cc->cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		cc->w_max = cc->cwnd;
	cc->ssthresh = cc->cwnd * CUBIC_BETA;
	if (cc->ssthresh < UDX_MIN_CWND)
		cc->ssthresh = UDX_MIN_CWND;
	cc->cwnd = cc->ssthresh;
	cc->k = cbrt(cc->w_max * (1.0 - CUBIC_BETA) / CUBIC_C);
	cc->epoch_us = 0;
	(void)now_us;
}

/* A retransmission timeout: collapse to the minimum window. */
void
udx_cc_on_rto(struct udx_cubic *cc, uint64_t now_us)
{
	udx_cc_on_loss(cc, now_us);
	cc->cwnd = UDX_MIN_CWND;
}
