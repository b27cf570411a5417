/*
 * control.h - the control socket: hypernatctl's way in (DESIGN.md §6)
 *
 * An AF_UNIX SOCK_SEQPACKET listener speaking common/ctl_proto.h.  Every
 * socket is non-blocking; each client has a bounded output queue: while
 * its replies wait, the daemon reads no more of its requests, one record
 * may not queue more than CONTROL_QUEUE_MAX bytes of replies, and dumps
 * produce their next record only when the queue is empty, so a client
 * that does not read stalls only itself.  A client silent for
 * CONTROL_IDLE_SECONDS is closed.  Accept pauses when the process
 * is out of descriptors (EMFILE/ENFILE) or CONTROL_CLIENTS_MAX clients are
 * connected, and resumes by itself.  The peer credentials (SO_PEERCRED)
 * of every state-changing request are logged.
 */
#ifndef HN_CONTROL_H
#define HN_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "ctl_msg.h"
#include "hnd.h"

#define CONTROL_CLIENTS_MAX	64
/*
 * Replies queued for one client past which the rest of its record gets
 * -ENOBUFS; reading stops anyway while anything is queued.
 */
#define CONTROL_QUEUE_MAX	(4 * HNCTL_RECORD_MAX)
#define CONTROL_IDLE_SECONDS	60.	/* a client that says nothing is closed */

struct control;

/*
 * Hooks main.c gives the control socket: reload (so the systemd
 * notifications wrap it) returns as hnd_reload() does; changed is called
 * after a request changed the tunnel table (to update STATUS=).  Either
 * may be NULL.
 */
struct control_hooks {
	int	(*reload)(void *ctx, struct tuntab_diff *diff, char *msg);
	void	(*changed)(void *ctx);
	void	*ctx;
};

/* A control socket for `h` on `loop`; NULL when out of memory. */
struct control	*control_new(struct hnd *h, struct ev_loop *loop,
		    const struct control_hooks *hooks);
/*
 * Listen on `path` with mode 0660, owned by `group` when that group
 * exists ("" or NULL: leave it).  A socket file nobody listens on is
 * replaced; one a live daemon listens on is not: -EADDRINUSE.  Returns 0
 * or -errno with a message in err (HND_MSG_LEN bytes).
 */
int		 control_listen(struct control *c, const char *path,
		    const char *group, char *err);
/* Close every client and the listener, and remove the socket file. */
void		 control_close(struct control *c);
void		 control_free(struct control *c);

/*
 * Decode the attributes of an add/del request into a definition, checking
 * everything (kind, proto, ports, keys, allow-list).  Returns 0 or -EINVAL
 * with a sentence in why.  Exposed for the fuzz target.
 */
int		 control_tundef_from_attrs(const struct ctl_attrs *a,
		    uint16_t type, struct tundef *d, char *why, size_t cap);

#endif
