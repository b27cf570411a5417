/*
 * notify.h - systemd service notifications (sd_notify) and the watchdog
 *
 * DESIGN.md §7.  Every call is a no-op when not started by systemd
 * (NOTIFY_SOCKET unset), so the daemon runs the same by hand and in tests.
 */
#ifndef HN_NOTIFY_H
#define HN_NOTIFY_H

#include <ev.h>

#include "log.h"

/* READY=1 with a STATUS= line. */
void	notify_ready(const char *status);
/* STATUS=... */
void	notify_status(const char *fmt, ...) LOG_PRINTF(1, 2);
/* RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload wants it). */
void	notify_reloading(void);
/* READY=1 again after a reload, with a STATUS= line. */
void	notify_reloaded(const char *status);
/* STOPPING=1 */
void	notify_stopping(void);
/*
 * If systemd set WATCHDOG_USEC for us, send WATCHDOG=1 from `loop` every
 * half of it; the timer lives in this module.  Returns the interval in
 * microseconds, 0 when there is no watchdog.
 */
unsigned long long notify_watchdog_start(struct ev_loop *loop);
void	notify_watchdog_stop(struct ev_loop *loop);

#endif
