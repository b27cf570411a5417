/*
 * log.h - logging to stderr, with journald priority prefixes
 *
 * Under systemd (JOURNAL_STREAM names our stderr) each line starts with
 * "<N>", the syslog priority journald reads; otherwise lines are plain, with
 * the program name first when not a daemon.  Messages are lower case,
 * context first ("tunnel udp/7913: ..."), no trailing period.
 */
#ifndef HN_LOG_H
#define HN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* `ident` prefixes plain lines; `level` is the most verbose one printed. */
void	log_init(const char *ident, enum log_level level);
void	log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int	log_level_parse(const char *s);
const char *log_level_name(enum log_level level);
/* True when lines carry journald "<N>" prefixes. */
bool	log_is_journal(void);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void	log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Start-up only: log at error priority and exit(1). */
void	fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	log_vmsg(enum log_level level, const char *errstr, const char *fmt,
	    va_list ap) LOG_PRINTF(3, 0);

#endif
