/*
 * sticky_core.h: the whole boundary between the nginx glue (C) and the C++
 * core. The glue includes this header and nothing else from src/.
 *
 * Conventions:
 *  - Objects are opaque handles; the glue never sees a C++ type.
 *  - Strings are pointer + length (they map onto ngx_str_t) and are never
 *    NUL-terminated unless said so. Strings returned by the core point into
 *    the object they came from and live as long as it does.
 *  - Functions that can fail return 0 on success and -1 on failure, and take
 *    `sticky_error_t *err` as their last argument; on failure err->message
 *    holds one NUL-terminated sentence in nginx's voice.
 *  - No argument may be NULL unless said so.
 *  - No C++ exception crosses this boundary: every entry point is noexcept
 *    and catches everything inside (an allocation failure becomes -1).
 *  - Configuration-time functions may allocate; functions marked
 *    "request time" never allocate and never block.
 *  - A configuration is read-only once loaded, so worker processes share the
 *    master's copy after fork() without locking.
 */
#ifndef STICKY_CORE_H
#define STICKY_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define STICKY_NOEXCEPT noexcept
extern "C" {
#else
#define STICKY_NOEXCEPT
#endif

typedef struct sticky_config_s  sticky_config_t;   /* a loaded workers.properties */
typedef struct sticky_lb_s      sticky_lb_t;       /* one lb worker of a config */

typedef struct {
    char  message[512];
} sticky_error_t;

typedef struct {
    const char  *data;
    size_t       len;
} sticky_str_t;

/* Severity of a diagnostic about the file. */
enum {
    STICKY_NOTICE = 0,      /* e.g. an AJP-only attribute nginx does not use */
    STICKY_WARNING = 1,     /* mod_jk accepts it, but it is probably a mistake */
    STICKY_ERROR = 2        /* mod_jk refuses to start: so does nginx */
};

/* Member activation, as mod_jk's `activation=` A/D/S. */
enum {
    STICKY_ACTIVE = 0,
    STICKY_DISABLED = 1,
    STICKY_STOPPED = 2
};

/* What the glue needs to know of a member to create an upstream server. */
typedef struct {
    sticky_str_t  name;          /* worker name */
    sticky_str_t  host;
    unsigned      port;          /* 0: provisioned but stopped (mod_jk) */
    unsigned      lbfactor;      /* >= 1 */
    unsigned      distance;
    int           activation;    /* STICKY_ACTIVE, ... */
    sticky_str_t  route;
    sticky_str_t  domain;
    sticky_str_t  redirect;
    unsigned      line;          /* where the member is defined in the file */
} sticky_member_t;

/*
 * Parses `text`, the content of the file `file` (used in messages only).
 * On success *out is a configuration that may still hold errors: check
 * sticky_config_ok() after logging its diagnostics. -1 only when memory ran
 * out. Free with sticky_config_free().
 */
int sticky_config_load(const char *file, size_t file_len, const char *text,
    size_t text_len, sticky_config_t **out, sticky_error_t *err)
    STICKY_NOEXCEPT;

void sticky_config_free(sticky_config_t *cfg) STICKY_NOEXCEPT;

/* 1 when the file has no error diagnostic. */
int sticky_config_ok(const sticky_config_t *cfg) STICKY_NOEXCEPT;

/* Diagnostics in file order; index < sticky_config_diagnostics(cfg). The
 * text reads "FILE:LINE: what is wrong", and names the key. */
size_t sticky_config_diagnostics(const sticky_config_t *cfg) STICKY_NOEXCEPT;
void sticky_config_diagnostic(const sticky_config_t *cfg, size_t index,
    int *severity, sticky_str_t *text) STICKY_NOEXCEPT;

/* worker.maintain in seconds (0: off). */
unsigned sticky_config_maintain(const sticky_config_t *cfg) STICKY_NOEXCEPT;

/*
 * The lb worker named `name`, or with len 0 the default one (the first lb
 * worker in worker.list, else the only lb worker). The handle lives as long
 * as `cfg`.
 */
int sticky_config_lb(const sticky_config_t *cfg, const char *name, size_t len,
    const sticky_lb_t **out, sticky_error_t *err) STICKY_NOEXCEPT;

sticky_str_t sticky_lb_name(const sticky_lb_t *lb) STICKY_NOEXCEPT;
unsigned sticky_lb_recover_time(const sticky_lb_t *lb) STICKY_NOEXCEPT;
size_t sticky_lb_members(const sticky_lb_t *lb) STICKY_NOEXCEPT;
void sticky_lb_member(const sticky_lb_t *lb, size_t index,
    sticky_member_t *out) STICKY_NOEXCEPT;


/* --- balancing ----------------------------------------------------------- */

/*
 * A balancer: what one upstream needs at request time, built from an lb
 * worker at configuration time and read-only afterwards. Its shared state
 * (load, health, counters) lives in a zone the glue maps in shared memory
 * and locks around every call that takes `zone`.
 */
typedef struct sticky_balancer_s  sticky_balancer_t;

int sticky_balancer_create(const sticky_config_t *cfg, const sticky_lb_t *lb,
    sticky_balancer_t **out, sticky_error_t *err) STICKY_NOEXCEPT;
void sticky_balancer_free(sticky_balancer_t *b) STICKY_NOEXCEPT;
size_t sticky_balancer_members(const sticky_balancer_t *b) STICKY_NOEXCEPT;
sticky_str_t sticky_balancer_member_name(const sticky_balancer_t *b,
    size_t index) STICKY_NOEXCEPT;

/* Bytes of zone state for `members` members (8-byte aligned memory). */
size_t sticky_zone_bytes(size_t members) STICKY_NOEXCEPT;

/* Counts of what a reload did to the zone's records. */
typedef struct {
    size_t  kept;
    size_t  added;
    size_t  removed;
    int     fresh;          /* no usable previous state */
} sticky_zone_stats_t;

/*
 * Builds the zone state for `b` in `memory`, carrying over the records of
 * the previous configuration's zone at `old` (NULL: none) by worker name.
 * Configuration time.
 */
int sticky_zone_build(const sticky_balancer_t *b, void *memory, size_t bytes,
    const void *old, size_t old_bytes, uint64_t now_ms,
    sticky_zone_stats_t *stats, sticky_error_t *err) STICKY_NOEXCEPT;

/* The session ids of one request, in the order they are tried. */
#define STICKY_MAX_SESSIONS  16

typedef struct {
    sticky_str_t  id;       /* points into the request */
    sticky_str_t  route;    /* text after the id's first '.'; may be empty */
} sticky_session_t;

typedef struct {
    size_t            count;
    sticky_session_t  session[STICKY_MAX_SESSIONS];
} sticky_sessions_t;

/*
 * Request time. Finds the session ids of a request: the path parameter in
 * the raw URI, then every session cookie of every Cookie header (raw values,
 * in request order).
 */
void sticky_find_sessions(const sticky_balancer_t *b, const char *uri,
    size_t uri_len, const sticky_str_t *cookies, size_t ncookies,
    sticky_sessions_t *out) STICKY_NOEXCEPT;

enum {
    STICKY_PICK_MEMBER = 0,     /* use decision.member */
    STICKY_PICK_NONE = 1,       /* nothing usable */
    STICKY_PICK_FORCE_503 = 2   /* sticky_session_force: the session's member is down */
};

typedef struct {
    int           verdict;          /* STICKY_PICK_... */
    int           member;           /* index, when STICKY_PICK_MEMBER */
    int           sticky_hit;       /* went where the session's route says */
    int           route_changed;    /* had a route, and did not go there */
    int           new_session;      /* carried no session id */
    sticky_str_t  route;            /* route read from the request, or empty */
    const char   *reason;           /* static text, for debug logs */
} sticky_decision_t;

/*
 * Request time, zone locked. Chooses a member; reads the zone, writes
 * nothing. `tried` has one bit per member (bit i of word i / 64): those are
 * never chosen again.
 */
void sticky_select(const sticky_balancer_t *b, const void *zone,
    const sticky_sessions_t *sessions, const uint64_t *tried, uint64_t now_ms,
    sticky_decision_t *out) STICKY_NOEXCEPT;

/* A change of a member's health, for one log line; texts are static. */
typedef struct {
    size_t       member;
    const char  *from;
    const char  *to;
    const char  *cause;
} sticky_transition_t;

enum {
    STICKY_OUTCOME_SUCCESS = 0,
    STICKY_OUTCOME_CONNECT_FAILED = 1,
    STICKY_OUTCOME_READ_FAILED = 2,
    STICKY_OUTCOME_NEUTRAL = 3      /* says nothing of the member */
};

/* Request time, zone locked: an attempt on decision->member starts. Returns
 * 1 and fills *t when the member's health changed. */
int sticky_report_start(const sticky_balancer_t *b, void *zone,
    const sticky_decision_t *decision, uint64_t now_ms,
    sticky_transition_t *t) STICKY_NOEXCEPT;

/* Request time, zone locked: the attempt on `member` ended. */
int sticky_report_end(const sticky_balancer_t *b, void *zone, size_t member,
    int outcome, uint64_t bytes_sent, uint64_t bytes_received,
    uint64_t now_ms, sticky_transition_t *t) STICKY_NOEXCEPT;

/* Timer, zone locked: recovery and load decay (worker.maintain). Writes up
 * to `n` transitions and returns how many. */
size_t sticky_maintain(const sticky_balancer_t *b, void *zone,
    uint64_t now_ms, sticky_transition_t *out, size_t n) STICKY_NOEXCEPT;

/* Zone locked: mod_jk's forced recovery when nothing is usable. */
size_t sticky_force_recovery(const sticky_balancer_t *b, void *zone,
    uint64_t now_ms, sticky_transition_t *out, size_t n) STICKY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* STICKY_CORE_H */
