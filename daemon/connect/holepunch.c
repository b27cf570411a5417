/*
 * holepunch.c - the puncher of one connection attempt (spec/connect.md §8)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/connect/holepunch.h"
#include "daemon/dht/dht.h"
#include "daemon/dht/msg.h"

#define HP_REMOTE_MAX		HOLEPUNCH_ADDRS_MAX
#define HP_CONSISTENT_TRIES	10
#define HP_CONSISTENT_MS	1000
#define HP_RANDOM_TRIES		1750	/* ~35 s */
#define HP_RANDOM_MS		20
#define HP_SAMPLE_PINGS		4
#define HP_PINGED_MAX		16

enum hp_strategy {
	HP_IDLE = 0,
	HP_CONSISTENT,		/* both consistent: probe every address */
	HP_RANDOM_PROBES,	/* remote random: random ports at its IP */
	HP_BIRTHDAY,		/* we are random: many sockets, one target */
};

struct hp_remote {
	struct hn_addr	addr;
	bool		verified;
};

/* An in-flight sampling ping; outlives the puncher if it must. */
struct hp_ping {
	struct holepuncher	*hp;	/* NULL once the puncher is gone */
	unsigned		 gen;
	struct hp_ping		*next;
};

struct holepuncher {
	struct hp_config	 cfg;
	struct hp_cbs		 cbs;
	int			*socks;		/* socks[0]: the puncher socket */
	size_t			 nsocks;

	/* NAT analysis of socks[0] */
	struct nat		 nat;
	unsigned		 gen;		/* bumped by each reopen */
	struct hn_addr		 pinged[HP_PINGED_MAX];
	size_t			 npinged;
	int			 pending;
	bool			 retried, ran_out;
	bool			 analyzed_told;
	int			 reopens;
	struct hp_ping		*pings;

	/* the peer's view */
	int			 remote_firewall;
	bool			 remote_punching;
	uint64_t		 remote_round;
	struct hp_remote	 remote[HP_REMOTE_MAX];
	size_t			 nremote;
	uint8_t			 local_secret[32];

	/* punching */
	enum hp_strategy	 strategy;
	int			 tries;
	size_t			 cycle;		/* birthday: next socket */
	int			 low_ttl_rounds;
	struct hn_addr		 target;
	uint64_t		 punch_start_ms;
	bool			 punching, connected, destroyed, randomized;
	struct hn_timer		 timer;		/* strategy ticks */
	struct hn_timer		 notify;	/* deferred on_analyzed */
	/* sockets replaced by hp_reopen(), closed from a clean frame */
	int			 dead[HP_MAX_REOPENS];
	int			 ndead;
	struct hn_timer		 reap;
};

static const uint8_t probe_byte[1] = { 0 };

static void	sample(struct holepuncher *hp, bool retry);
static int	punch_ttl(const struct holepuncher *hp);

static int
send_ttl(struct holepuncher *hp, int sock, const struct hn_addr *to, int ttl)
{
	if (hp->cfg.send_ttl != NULL)
		return hp->cfg.send_ttl(hp->cfg.ttl_arg, sock, to, probe_byte,
		    1, ttl);
	return hn_send(hp->cfg.io, sock, to, probe_byte, 1);
}

static void
randomized_begin(struct holepuncher *hp)
{
	if (hp->randomized || hp->cfg.throttle == NULL)
		return;
	hp->randomized = true;
	hp->cfg.throttle->random_punches++;
}

static void
randomized_end(struct holepuncher *hp)
{
	if (!hp->randomized)
		return;
	hp->randomized = false;
	hp->cfg.throttle->random_punches--;
	hp->cfg.throttle->last_random_punch_ms = hn_now_ms(hp->cfg.io);
}

/* Close every socket we own except `keep` (-1: all). */
static void
release_socks(struct holepuncher *hp, int keep)
{
	for (size_t i = 0; i < hp->nsocks; i++)
		if (hp->socks[i] != keep)
			hp->cfg.sock_close(hp->cfg.sock_arg, hp->socks[i]);
	hp->nsocks = 0;
}

static void
stop(struct holepuncher *hp)
{
	hp->punching = false;
	hp->strategy = HP_IDLE;
	hn_timer_cancel(hp->cfg.io, &hp->timer);
	hn_timer_cancel(hp->cfg.io, &hp->notify);
}

/* The strategy ran out: give up (the reference's _autoDestroy). */
static void
fail(struct holepuncher *hp, int err)
{
	if (hp->destroyed || hp->connected)
		return;
	hp->destroyed = true;
	stop(hp);
	release_socks(hp, -1);
	randomized_end(hp);
	if (hp->cbs.on_fail != NULL)
		hp->cbs.on_fail(hp, err, hp->cbs.arg);
}

/* ------------------------------------------------------------- sampling */

static bool
analysis_done(const struct holepuncher *hp)
{
	return nat_finished(&hp->nat) || hp->ran_out;
}

static void
maybe_tell_analyzed(struct holepuncher *hp)
{
	if (hp->analyzed_told || !analysis_done(hp) || hp->destroyed)
		return;
	hp->analyzed_told = true;
	hn_timer_after(hp->cfg.io, &hp->notify, 0);
}

static void
on_notify(struct hn_timer *t)
{
	struct holepuncher *hp = container_of(t, struct holepuncher, notify);

	if (hp->cbs.on_analyzed != NULL)
		hp->cbs.on_analyzed(hp, hp->cbs.arg);
}

static void
ping_done(struct holepuncher *hp)
{
	if (--hp->pending > 0 || hp->nat.sampled >= hp->nat.min_samples)
		return;
	if (!hp->retried) {
		hp->retried = true;
		sample(hp, false);
		if (hp->pending > 0)
			return;
	}
	hp->ran_out = true;
	maybe_tell_analyzed(hp);
}

static void
on_pong(void *arg, int err, const struct dht_reply *r)
{
	struct hp_ping *p = arg, **pp;
	struct holepuncher *hp = p->hp;

	if (hp != NULL) {
		for (pp = &hp->pings; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		}
	}
	if (hp == NULL || p->gen != hp->gen || hp->destroyed) {
		free(p);
		return;
	}
	free(p);
	if (err == 0 && r != NULL)
		hp_add_sample(hp, &r->to, &r->from);
	ping_done(hp);
}

static bool
was_pinged(const struct holepuncher *hp, const struct hn_addr *a)
{
	for (size_t i = 0; i < hp->npinged; i++)
		if (addr_eq(&hp->pinged[i], a))
			return true;
	return false;
}

static int
ping(struct holepuncher *hp, const struct hn_addr *node)
{
	struct dht_request_opts o;
	struct hp_ping *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	memset(&o, 0, sizeof(o));
	o.to = *node;
	o.internal = true;
	o.command = DHT_CMD_PING;
	o.retries = 0;
	o.sock = hp->socks[0];
	p->hp = hp;
	p->gen = hp->gen;
	if (dht_request(hp->cfg.dht, &o, on_pong, p) != 0) {
		free(p);
		return -ENOMEM;
	}
	p->next = hp->pings;
	hp->pings = p;
	return 0;
}

/*
 * spec/connect.md §8.1: ping up to 4 nodes from the puncher socket, from
 * the most recently added, skipping the 5 latest when 8 or more are known.
 */
static void
sample(struct holepuncher *hp, bool retry)
{
	const struct dht_table *t;
	const struct dht_node *n;
	int skip;

	if (hp->cfg.dht == NULL) {
		hp->ran_out = !retry;
		return;
	}
	t = dht_get_table(hp->cfg.dht);
	skip = t->size >= 8 ? 5 : 0;
	for (n = t->latest; n != NULL &&
	    hp->nat.sampled + hp->pending < HP_SAMPLE_PINGS; n = n->prev) {
		if (skip > 0) {
			skip--;
			continue;
		}
		if (was_pinged(hp, &n->addr) || hp->npinged == HP_PINGED_MAX)
			continue;
		hp->pinged[hp->npinged++] = n->addr;
		if (ping(hp, &n->addr) == 0)
			hp->pending++;
	}
}

static void
sample_start(struct holepuncher *hp)
{
	hp->pending = 1;	/* held until the walk is done */
	hp->retried = false;
	hp->ran_out = false;
	hp->npinged = 0;
	sample(hp, true);
	ping_done(hp);
}

static void
detach_pings(struct holepuncher *hp)
{
	for (struct hp_ping *p = hp->pings; p != NULL; p = p->next)
		p->hp = NULL;
	hp->pings = NULL;
}

static int
open_sock(struct holepuncher *hp)
{
	int s;

	if (hp->nsocks == HP_BIRTHDAY_SOCKETS)
		return -ENOSPC;
	if ((s = hp->cfg.sock_open(hp->cfg.sock_arg)) < 0)
		return s;
	hp->socks[hp->nsocks++] = s;
	return s;
}

/*
 * hp_reopen() runs from a datagram that arrived on the very socket it
 * replaces; the adapter may still be walking that socket's receive batch,
 * so the old socket is closed from a timer.
 */
static void
on_reap(struct hn_timer *t)
{
	struct holepuncher *hp = container_of(t, struct holepuncher, reap);

	while (hp->ndead > 0)
		hp->cfg.sock_close(hp->cfg.sock_arg, hp->dead[--hp->ndead]);
}

/* ---------------------------------------------------------------- API */

struct holepuncher *
hp_new(const struct hp_config *cfg, const struct hp_cbs *cbs)
{
	struct holepuncher *hp = calloc(1, sizeof(*hp));

	if (hp == NULL)
		return NULL;
	hp->socks = calloc(HP_BIRTHDAY_SOCKETS, sizeof(*hp->socks));
	if (hp->socks == NULL)
		goto out_free;
	hp->cfg = *cfg;
	hp->cbs = *cbs;
	hp->remote_firewall = cfg->remote_firewall;
	hn_timer_init(&hp->timer, NULL);
	hn_timer_init(&hp->notify, on_notify);
	hn_timer_init(&hp->reap, on_reap);
	hn_random(cfg->io, hp->local_secret, sizeof(hp->local_secret));
	if (open_sock(hp) < 0)
		goto out_socks;
	nat_init(&hp->nat, cfg->dht == NULL || dht_is_firewalled(cfg->dht));
	sample_start(hp);
	return hp;

out_socks:
	free(hp->socks);
out_free:
	free(hp);
	return NULL;
}

void
hp_free(struct holepuncher *hp)
{
	if (hp == NULL)
		return;
	stop(hp);
	detach_pings(hp);
	release_socks(hp, -1);
	hn_timer_cancel(hp->cfg.io, &hp->reap);
	on_reap(&hp->reap);
	randomized_end(hp);
	sodium_memzero(hp->local_secret, sizeof(hp->local_secret));
	free(hp->socks);
	free(hp);
}

int
hp_socket(const struct holepuncher *hp)
{
	return hp->nsocks > 0 ? hp->socks[0] : -1;
}

bool
hp_owns(const struct holepuncher *hp, int sock)
{
	for (size_t i = 0; i < hp->nsocks; i++)
		if (hp->socks[i] == sock)
			return true;
	return false;
}

bool
hp_input(struct holepuncher *hp, int sock, const struct hn_addr *from,
    const uint8_t *buf, size_t len)
{
	if (len > 1 || !hp_owns(hp, sock))
		return false;
	if (!hp->cfg.initiator) {
		/* spec/connect.md §8.2: the responder answers each one */
		(void)send_ttl(hp, sock, from, HP_TTL_DEFAULT);
		return true;
	}
	if (hp->connected || hp->destroyed)
		return true;
	/* §7.6 step 12: the first datagram wins, from any address */
	hp->connected = true;
	stop(hp);
	detach_pings(hp);
	release_socks(hp, sock);
	randomized_end(hp);
	if (hp->cbs.on_connect != NULL)
		hp->cbs.on_connect(hp, sock, from, hp->cbs.arg);
	return true;
}

void
hp_take_socket(struct holepuncher *hp, int sock)
{
	if (!hp_owns(hp, sock))
		return;
	hp->connected = true;
	stop(hp);
	detach_pings(hp);
	release_socks(hp, sock);
	randomized_end(hp);
}

void
hp_add_sample(struct holepuncher *hp, const struct hn_addr *to,
    const struct hn_addr *from)
{
	if (hp->destroyed || hp->connected)
		return;
	if (hp->cfg.dht != NULL && !dht_is_firewalled(hp->cfg.dht))
		hp->nat.firewalled = false;
	(void)nat_add(&hp->nat, to, from);
	maybe_tell_analyzed(hp);
}

bool
hp_analyzed(const struct holepuncher *hp)
{
	return analysis_done(hp);
}

int
hp_firewall(const struct holepuncher *hp)
{
	return hp->nat.firewall;
}

size_t
hp_addresses(const struct holepuncher *hp, struct hn_addr *out, size_t max)
{
	return nat_addresses(&hp->nat, out, max);
}

bool
hp_unstable(const struct holepuncher *hp)
{
	int fw = hp->nat.firewall;

	return fw == NOISE_FIREWALL_UNKNOWN ||
	    (fw >= NOISE_FIREWALL_RANDOM &&
	    hp->remote_firewall >= NOISE_FIREWALL_RANDOM);
}

int
hp_reopen(struct holepuncher *hp)
{
	int s;

	if (hp->reopens >= HP_MAX_REOPENS || hp->punching || hp->connected ||
	    hp->destroyed)
		return -EAGAIN;
	hp->reopens++;
	detach_pings(hp);
	hp->gen++;
	if ((s = hp->cfg.sock_open(hp->cfg.sock_arg)) < 0)
		return s;
	hp->dead[hp->ndead++] = hp->socks[0];	/* reopens <= HP_MAX_REOPENS */
	hn_timer_after(hp->cfg.io, &hp->reap, 0);
	hp->socks[0] = s;
	nat_init(&hp->nat, hp->cfg.dht == NULL ||
	    dht_is_firewalled(hp->cfg.dht));
	hp->analyzed_told = false;
	hn_timer_cancel(hp->cfg.io, &hp->notify);
	sample_start(hp);
	return 0;
}

void
hp_freeze(struct holepuncher *hp)
{
	nat_freeze(&hp->nat);
}

void
hp_token(const struct holepuncher *hp, const uint8_t ip[4], uint8_t out[32])
{
	holepunch_token(out, hp->local_secret, ip);
}

void
hp_fill_payload(const struct holepuncher *hp, struct holepunch_payload *p,
    uint64_t round)
{
	p->error = NOISE_ERROR_NONE;
	p->firewall = (uint64_t)hp->nat.firewall;
	p->round = round;
	p->naddresses = nat_addresses(&hp->nat, p->addresses,
	    HOLEPUNCH_ADDRS_MAX);
	p->has_addresses = p->naddresses > 0;
}

static bool
remote_verified(const struct holepuncher *hp, const uint8_t ip[4])
{
	for (size_t i = 0; i < hp->nremote; i++)
		if (hp->remote[i].verified &&
		    memcmp(hp->remote[i].addr.ip, ip, 4) == 0)
			return true;
	return false;
}

void
hp_remote_update(struct holepuncher *hp, const struct holepunch_payload *p,
    const uint8_t *verified_ip)
{
	struct hp_remote next[HP_REMOTE_MAX];
	size_t n = 0;

	if (p->round < hp->remote_round)
		return;
	hp->remote_round = p->round;
	for (size_t i = 0; i < p->naddresses && n < HP_REMOTE_MAX; i++) {
		const struct hn_addr *a = &p->addresses[i];
		uint8_t tok[32];
		bool v = verified_ip != NULL &&
		    memcmp(verified_ip, a->ip, 4) == 0;

		/* §7.4: the peer echoed our token for this host */
		if (!v && p->has_remote_token) {
			hp_token(hp, a->ip, tok);
			v = sodium_memcmp(tok, p->remote_token, 32) == 0;
		}
		next[n].addr = *a;
		next[n++].verified = v || remote_verified(hp, a->ip);
	}
	memcpy(hp->remote, next, n * sizeof(next[0]));
	hp->nremote = n;
	hp->remote_firewall = (int)p->firewall;
	hp->remote_punching = p->punching;
}

void
hp_remote_add(struct holepuncher *hp, const struct hn_addr *a, bool verified)
{
	for (size_t i = 0; i < hp->nremote; i++) {
		if (addr_eq(&hp->remote[i].addr, a)) {
			hp->remote[i].verified |= verified;
			return;
		}
	}
	if (hp->nremote == HP_REMOTE_MAX)
		return;
	hp->remote[hp->nremote].addr = *a;
	hp->remote[hp->nremote++].verified = verified;
}

int
hp_remote_firewall(const struct holepuncher *hp)
{
	return hp->remote_firewall;
}

bool
hp_remote_punching(const struct holepuncher *hp)
{
	return hp->remote_punching;
}

/*
 * The reference's TTL 5 for the open-session datagram, meant to open our
 * own NAT only; with early_low_ttl configured (natlab.md §5.3) that TTL
 * instead, since 5 hops can reach the peer's router and spring the
 * conntrack trap.  Birthday sockets keep TTL 5: in the lab, TTL 2 there
 * only delayed connections to public peers (measured), and the birthday
 * side's peer is the consistent one that probes it anyway.
 */
static int
low_ttl(const struct holepuncher *hp)
{
	return hp->cfg.early_low_ttl_ms > 0 && hp->cfg.early_low_ttl > 0 ?
	    hp->cfg.early_low_ttl : HP_TTL_LOW;
}

int
hp_send_probe(struct holepuncher *hp, const struct hn_addr *to, bool low)
{
	if (hp->nsocks == 0)
		return -EBADF;
	return send_ttl(hp, hp->socks[0], to, low ? low_ttl(hp) :
	    punch_ttl(hp));
}

bool
hp_random_allowed(const struct holepuncher *hp)
{
	const struct hp_throttle *t = hp->cfg.throttle;

	if (t == NULL || !t->enabled)
		return true;
	return t->random_punches == 0 && (t->last_random_punch_ms == 0 ||
	    hn_now_ms(hp->cfg.io) - t->last_random_punch_ms >=
	    HP_RANDOM_PUNCH_INTERVAL_MS);
}

/* ------------------------------------------------------------ strategies */

/* Early punches at a low TTL against the conntrack trap (natlab §5.3). */
static int
punch_ttl(const struct holepuncher *hp)
{
	if (hp->cfg.early_low_ttl_ms > 0 &&
	    hn_now_ms(hp->cfg.io) - hp->punch_start_ms < hp->cfg.early_low_ttl_ms)
		return hp->cfg.early_low_ttl;
	return HP_TTL_DEFAULT;
}

static uint16_t
random_port(struct holepuncher *hp)
{
	uint32_t r;

	hn_random(hp->cfg.io, &r, sizeof(r));
	return (uint16_t)(1000 + r % 64536);	/* [1000, 65535] */
}

static void
tick_consistent(struct holepuncher *hp)
{
	int t = ++hp->tries;

	if (t > HP_CONSISTENT_TRIES) {
		fail(hp, -ETIMEDOUT);
		return;
	}
	for (size_t i = 0; i < hp->nremote; i++) {
		/* unverified addresses only every 4th tick */
		if (!hp->remote[i].verified && (t & 3) != 0)
			continue;
		(void)send_ttl(hp, hp->socks[0], &hp->remote[i].addr,
		    punch_ttl(hp));
	}
	hn_timer_after(hp->cfg.io, &hp->timer, HP_CONSISTENT_MS);
}

static void
tick_random(struct holepuncher *hp)
{
	struct hn_addr to = hp->target;

	if (hp->tries-- <= 0) {
		fail(hp, -ETIMEDOUT);
		return;
	}
	to.port = random_port(hp);
	(void)send_ttl(hp, hp->socks[0], &to, punch_ttl(hp));
	hn_timer_after(hp->cfg.io, &hp->timer, HP_RANDOM_MS);
}

static void
tick_birthday(struct holepuncher *hp)
{
	if (hp->tries-- <= 0) {
		fail(hp, -ETIMEDOUT);
		return;
	}
	if (hp->cycle >= hp->nsocks) {
		hp->cycle = 0;
		if (hp->low_ttl_rounds > 0)
			hp->low_ttl_rounds--;
	}
	(void)send_ttl(hp, hp->socks[hp->cycle++], &hp->target,
	    hp->low_ttl_rounds > 0 ? HP_TTL_LOW : punch_ttl(hp));
	hn_timer_after(hp->cfg.io, &hp->timer, HP_RANDOM_MS);
}

static void
on_tick(struct hn_timer *t)
{
	struct holepuncher *hp = container_of(t, struct holepuncher, timer);

	if (!hp->punching)
		return;
	switch (hp->strategy) {
	case HP_CONSISTENT:
		tick_consistent(hp);
		break;
	case HP_RANDOM_PROBES:
		tick_random(hp);
		break;
	case HP_BIRTHDAY:
		tick_birthday(hp);
		break;
	case HP_IDLE:
		break;
	}
}

static int
coerce(int fw)
{
	return fw == NOISE_FIREWALL_OPEN ? NOISE_FIREWALL_CONSISTENT : fw;
}

static const struct hp_remote *
first_verified(const struct holepuncher *hp)
{
	for (size_t i = 0; i < hp->nremote; i++)
		if (hp->remote[i].verified)
			return &hp->remote[i];
	return NULL;
}

/* The birthday sockets: open them all, each one TTL-5 datagram. */
static void
open_birthday(struct holepuncher *hp)
{
	while (hp->nsocks < HP_BIRTHDAY_SOCKETS) {
		int s = open_sock(hp);

		if (s < 0)
			break;		/* punch with what we have */
		(void)send_ttl(hp, s, &hp->target, HP_TTL_LOW);
	}
}

int
hp_punch(struct holepuncher *hp)
{
	int local = coerce(hp->nat.firewall);
	int remote = coerce(hp->remote_firewall);
	const struct hp_remote *v = first_verified(hp);

	if (hp->punching)
		return -EALREADY;
	if (hp->destroyed || hp->connected || hp->nremote == 0)
		return -EOPNOTSUPP;
	hn_timer_init(&hp->timer, on_tick);
	hp->punch_start_ms = hn_now_ms(hp->cfg.io);
	if (local == NOISE_FIREWALL_CONSISTENT &&
	    remote == NOISE_FIREWALL_CONSISTENT) {
		hp->strategy = HP_CONSISTENT;
		hp->tries = 0;
		hp->punching = true;
		/* the server waits: its fast mode already fired (§8.3) */
		hn_timer_after(hp->cfg.io, &hp->timer,
		    hp->cfg.initiator ? 0 : HP_CONSISTENT_MS);
		return 0;
	}
	if (v == NULL || local == NOISE_FIREWALL_UNKNOWN ||
	    remote == NOISE_FIREWALL_UNKNOWN ||
	    (local == NOISE_FIREWALL_RANDOM && remote == NOISE_FIREWALL_RANDOM))
		return -EOPNOTSUPP;
	if (!hp_random_allowed(hp))
		return -EAGAIN;
	hp->target = v->addr;
	hp->tries = HP_RANDOM_TRIES;
	hp->punching = true;
	randomized_begin(hp);
	if (local == NOISE_FIREWALL_CONSISTENT) {
		hp->strategy = HP_RANDOM_PROBES;
		hn_timer_after(hp->cfg.io, &hp->timer, 0);
		return 0;
	}
	hp->strategy = HP_BIRTHDAY;
	hp->cycle = 0;
	hp->low_ttl_rounds = 1;
	open_birthday(hp);
	/* a pause after the burst, as the reference */
	hn_timer_after(hp->cfg.io, &hp->timer, 100);
	return 0;
}

bool
hp_punching(const struct holepuncher *hp)
{
	return hp->punching;
}
