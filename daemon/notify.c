/*
 * notify.c - sd_notify wrappers and the watchdog timer
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

static ev_timer watchdog;

void
notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

void
notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_reloaded(const char *status)
{
	notify_ready(status);
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sd_notify(0, "WATCHDOG=1");
}

unsigned long long
notify_watchdog_start(struct ev_loop *loop)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	ev_timer_init(&watchdog, watchdog_cb, 0., (double)usec / 2e6);
	ev_timer_again(loop, &watchdog);
	sd_notify(0, "WATCHDOG=1");
	return usec;
}

void
notify_watchdog_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &watchdog);
}
