/*
 * timerq.h - a binary min-heap of struct hn_timer, shared by the io
 * implementations (libev adapter and simulation) so both order and fire
 * timers the same way.
 *
 * The heap stores pointers; a timer's `slot` is its index.  Ties on `due`
 * fire in arming order (a sequence number breaks them), so simulations are
 * reproducible.
 */
#ifndef HN_TIMERQ_H
#define HN_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

struct timerq {
	struct timerq_ent {
		struct hn_timer	*t;
		uint64_t	 seq;
	}		*heap;
	size_t		 n;
	size_t		 cap;
	uint64_t	 seq;
};

void		 timerq_init(struct timerq *q);
/* Frees the heap; armed timers are simply forgotten (marked disarmed). */
void		 timerq_free(struct timerq *q);
/* Arm or move `t`.  Returns 0 or -ENOMEM (then `t` is unchanged). */
int		 timerq_arm(struct timerq *q, struct hn_timer *t, uint64_t due);
void		 timerq_cancel(struct timerq *q, struct hn_timer *t);
/* The earliest armed timer, or NULL. */
struct hn_timer	*timerq_peek(const struct timerq *q);
/*
 * Fire every timer due at or before `now`, earliest first, each disarmed
 * before its callback runs.  Timers armed by a callback for a time <= now
 * fire in the same call.  Returns how many fired.
 */
size_t		 timerq_run(struct timerq *q, uint64_t now);

#endif
