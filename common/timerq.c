/*
 * timerq.c - binary min-heap of timers
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "timerq.h"

static bool
ent_before(const struct timerq_ent *a, const struct timerq_ent *b)
{
	if (a->t->due != b->t->due)
		return a->t->due < b->t->due;
	return a->seq < b->seq;
}

static void
heap_set(struct timerq *q, size_t i, struct timerq_ent e)
{
	q->heap[i] = e;
	e.t->slot = i;
}

static void
sift_up(struct timerq *q, size_t i)
{
	struct timerq_ent e = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!ent_before(&e, &q->heap[parent]))
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, e);
}

static void
sift_down(struct timerq *q, size_t i)
{
	struct timerq_ent e = q->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct timerq_ent *best = &e;

		if (l < q->n && ent_before(&q->heap[l], best)) {
			m = l;
			best = &q->heap[l];
		}
		if (r < q->n && ent_before(&q->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(q, i, q->heap[m]);
		i = m;
	}
	heap_set(q, i, e);
}

static void
heap_remove(struct timerq *q, size_t i)
{
	struct hn_timer *t = q->heap[i].t;

	t->armed = false;
	q->n--;
	if (i == q->n)
		return;
	heap_set(q, i, q->heap[q->n]);
	if (i > 0 && ent_before(&q->heap[i], &q->heap[(i - 1) / 2]))
		sift_up(q, i);
	else
		sift_down(q, i);
}

void
timerq_init(struct timerq *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->seq = 0;
}

void
timerq_free(struct timerq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		q->heap[i].t->armed = false;
	free(q->heap);
	timerq_init(q);
}

int
timerq_arm(struct timerq *q, struct hn_timer *t, uint64_t due)
{
	struct timerq_ent e;

	if (t->armed)
		heap_remove(q, t->slot);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct timerq_ent *h = realloc(q->heap, cap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		q->heap = h;
		q->cap = cap;
	}
	t->due = due;
	t->armed = true;
	e.t = t;
	e.seq = q->seq++;
	q->heap[q->n] = e;
	t->slot = q->n++;
	sift_up(q, t->slot);
	return 0;
}

void
timerq_cancel(struct timerq *q, struct hn_timer *t)
{
	if (t->armed && t->slot < q->n && q->heap[t->slot].t == t)
		heap_remove(q, t->slot);
	t->armed = false;
}

struct hn_timer *
timerq_peek(const struct timerq *q)
{
	return q->n ? q->heap[0].t : NULL;
}

size_t
timerq_run(struct timerq *q, uint64_t now)
{
	struct hn_timer *t;
	size_t fired = 0;

	while ((t = timerq_peek(q)) != NULL && t->due <= now) {
		heap_remove(q, 0);
		fired++;
		t->cb(t);
	}
	return fired;
}
