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
 *
 * Sections, in order, each opening with a `--- name ---` rule: common
 * types; the workers file (loading, diagnostics, lb workers and members);
 * balancing, then its parts: the shared zone, a request's decision, an
 * attempt's start and end, the timer and a member's activation; processes;
 * failure and recovery; status and admin; the AJP/1.3 codec. It stays one
 * header on purpose: the glue's whole view of the core.
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

/* --- common types -------------------------------------------------------- */

typedef struct sticky_config_s  sticky_config_t;   /* a loaded workers.properties */
typedef struct sticky_lb_s      sticky_lb_t;       /* one lb worker of a config */

typedef struct {
    char  message[512];
} sticky_error_t;

typedef struct {
    const char  *data;
    size_t       len;
} sticky_str_t;

/* --- the workers file ---------------------------------------------------- */

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
    unsigned      reply_timeout;     /* ms; 0: proxy_read_timeout applies */
    unsigned      connect_timeout;   /* ms, socket_connect_timeout; 0:
                                        proxy_connect_timeout applies */

    /* AJP/1.3 (ajp_pass), as mod_jk reads them */
    int           ajp14;             /* type=ajp14: spoken as ajp13 */
    sticky_str_t  secret;            /* the member's, else its lb's; may be
                                        empty (none sent) */
    unsigned      max_packet_size;   /* bytes, 8192..65536 */
    unsigned      cping_connect_timeout;  /* ms, mod_jk's connect_timeout:
                                        CPing after connecting; 0: none */
    unsigned      prepost_timeout;   /* ms: CPing before each request; 0: none */
    unsigned      ping_timeout;      /* ms: CPong wait of interval pings */
    unsigned      ping_interval;     /* s, connection_ping_interval; 0: none */
    unsigned      pool_size;         /* connection_pool_size; 0: not set */
    unsigned      pool_minsize;      /* connection_pool_minsize; 0: not set */
    unsigned      pool_timeout;      /* s, connection_pool_timeout; 0: none */
    int           socket_keepalive;  /* SO_KEEPALIVE on its connections */
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
 * The lb worker named `name`, else the ajp13/ajp14 worker of worker.list
 * of that name as a one-member balancer; with len 0 the default: the first
 * lb worker in worker.list, else the only lb worker, else the first
 * ajp13/ajp14 worker of worker.list. The handle lives as long as `cfg`.
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
sticky_str_t sticky_balancer_member_route(const sticky_balancer_t *b,
    size_t index) STICKY_NOEXCEPT;

/* nginx's options for the lb's own cookie (set_session_cookie), each a
 * value or empty (the default): domain, path (default: the lb's
 * session_cookie_path), samesite (strict, lax, none), secure (on, off, auto:
 * over TLS only). */
typedef struct {
    sticky_str_t  domain;
    sticky_str_t  path;
    sticky_str_t  samesite;
    sticky_str_t  secure;
} sticky_cookie_options_t;

/* 0 when `value` can be the cookie option `name` ("domain", "path",
 * "samesite", "secure"); -1 with *err saying why not (a value that could
 * add an attribute of its own is refused). */
int sticky_cookie_option_check(const char *name, size_t name_len,
    const char *value, size_t value_len, sticky_error_t *err) STICKY_NOEXCEPT;

/* Applies the options to the lb's cookie: -1 with *err when one is given
 * but the lb does not set set_session_cookie, when they do not fit together
 * (samesite=none with secure=off), or when the lb's own session_cookie or
 * session_cookie_path could add an attribute. */
int sticky_balancer_set_cookie(sticky_balancer_t *b,
    const sticky_cookie_options_t *options, sticky_error_t *err)
    STICKY_NOEXCEPT;

/* 1 with the cookie's name and what follows "NAME=.ROUTE" (without TLS, and
 * over TLS) when the lb sets set_session_cookie (mod_jk: `Set-Cookie:
 * NAME=.ROUTE; Path=...` on answers that were not sticky). */
int sticky_balancer_session_cookie(const sticky_balancer_t *b,
    sticky_str_t *name, sticky_str_t *attributes, sticky_str_t *tls_attributes)
    STICKY_NOEXCEPT;

/* The path parameter that carries a session id, with its ';' (mod_jk's
 * session_path, ";jsessionid" by default). */
sticky_str_t sticky_balancer_session_path(const sticky_balancer_t *b)
    STICKY_NOEXCEPT;

/* --- balancing: the shared zone ------------------------------------------ */

/* Bytes of zone state for `members` members, `processes` process slots and
 * a sessions window of `window_minutes` (8-byte aligned memory). */
size_t sticky_zone_bytes(size_t members, size_t processes,
    unsigned window_minutes) STICKY_NOEXCEPT;

/* Counts of what a reload did to the zone's records. */
typedef struct {
    size_t  kept;
    size_t  added;
    size_t  removed;
    int     fresh;          /* no usable previous state */
} sticky_zone_stats_t;

/*
 * Builds the zone state for `b` in `memory`, with `processes` free process
 * slots, carrying over the records of the previous configuration's zone at
 * `old` (NULL: none) by worker name. Configuration time.
 */
int sticky_zone_build(const sticky_balancer_t *b, void *memory, size_t bytes,
    size_t processes, const void *old, size_t old_bytes, uint64_t now_ms,
    sticky_zone_stats_t *stats, sticky_error_t *err) STICKY_NOEXCEPT;

/* --- balancing: a request's decision ------------------------------------- */

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
 * never chosen again; NULL: none tried. *session (when not NULL) gets the
 * hash the chosen member counts the request's session by (0: none), for
 * sticky_report_start(); it is not kept in the decision, which lives in the
 * request's pool and is kept small.
 */
void sticky_select(const sticky_balancer_t *b, const void *zone,
    const sticky_sessions_t *sessions, const uint64_t *tried, uint64_t now_ms,
    sticky_decision_t *out, uint64_t *session) STICKY_NOEXCEPT;

/* --- balancing: an attempt's start and end ------------------------------- */

/* How loud a transition is: into an error, back out of one, or routine. */
enum {
    STICKY_LOG_INFO = 0,        /* OK <-> OK/IDLE, OK/BUSY, ERR/REC, ERR/PRB */
    STICKY_LOG_NOTICE = 1,      /* recovered: back to OK from an error */
    STICKY_LOG_WARN = 2         /* ERR, ERR/FRC */
};

/* A change of a member's health, for one log line; texts are static. */
typedef struct {
    size_t       member;
    const char  *from;
    const char  *to;
    const char  *cause;
    int          level;         /* STICKY_LOG_... */
} sticky_transition_t;

enum {
    STICKY_OUTCOME_SUCCESS = 0,         /* the member answered with `status` */
    STICKY_OUTCOME_CONNECT_FAILED = 1,  /* refused, or timed out, before sending */
    STICKY_OUTCOME_READ_FAILED = 2,     /* broken connection, invalid reply */
    STICKY_OUTCOME_NEUTRAL = 3,         /* says nothing of the member */
    STICKY_OUTCOME_REPLY_TIMEOUT = 4,   /* no reply within the read timeout */
    STICKY_OUTCOME_FAIL_ON_STATUS = 5   /* judged: a status of fail_on_status */
};

/* Request time, zone locked: an attempt on decision->member starts, in the
 * process of slot `process` (-1: none), for the session `session` (as
 * sticky_select() gave it; 0: none). Returns 1 and fills *t when the
 * member's health changed. */
int sticky_report_start(const sticky_balancer_t *b, void *zone,
    const sticky_decision_t *decision, uint64_t session, int process,
    uint64_t now_ms, sticky_transition_t *t) STICKY_NOEXCEPT;

/*
 * Request time: the attempt on `member`, started in the process of slot
 * `process` (as given to sticky_report_start()), ended; in two steps, so
 * that the usual end takes no lock.
 *
 * sticky_end_attempt(), zone NOT locked: gives back the attempt's count in
 * flight and adds its bytes (atomic operations on the zone). With
 * STICKY_OUTCOME_SUCCESS, `status` is the response status (0: unknown),
 * judged by the member's fail_on_status: positive, the member goes to ERR;
 * negative, the attempt counts as neutral. Returns -1 when that was the
 * whole end (a success on a healthy member, the usual case); otherwise the
 * judged outcome (a STICKY_OUTCOME_...), for sticky_finish_end().
 *
 * sticky_finish_end(), zone locked: the rest of the end (errors, health,
 * the load of the Traffic and Busyness methods), for the judged outcome.
 * Returns 1 and fills *t when the member's health changed.
 */
int sticky_end_attempt(const sticky_balancer_t *b, void *zone, size_t member,
    int process, int outcome, int status, uint64_t bytes_sent,
    uint64_t bytes_received) STICKY_NOEXCEPT;
int sticky_finish_end(const sticky_balancer_t *b, void *zone, size_t member,
    int judged, uint64_t bytes_sent, uint64_t bytes_received,
    uint64_t now_ms, sticky_transition_t *t) STICKY_NOEXCEPT;

/* --- balancing: the timer, and a member's activation --------------------- */

/*
 * Timer, zone locked: recovery and load decay (worker.maintain). Every
 * change is applied; the first `n` are written to `out` (which may be
 * NULL with n 0) and their count returned. A member changes at most once
 * per call: n = sticky_balancer_members(b) gets them all.
 */
size_t sticky_maintain(const sticky_balancer_t *b, void *zone,
    uint64_t now_ms, sticky_transition_t *out, size_t n) STICKY_NOEXCEPT;

/* Zone locked: mod_jk's forced recovery when nothing is usable. Reports
 * as sticky_maintain() does (at most one transition per member). */
size_t sticky_force_recovery(const sticky_balancer_t *b, void *zone,
    uint64_t now_ms, sticky_transition_t *out, size_t n) STICKY_NOEXCEPT;

/* Request time, without the zone lock (one aligned word is read): the
 * member's live activation, STICKY_ACTIVE, ... as the status page sets it. */
int sticky_member_activation(const sticky_balancer_t *b, const void *zone,
    size_t member) STICKY_NOEXCEPT;

/* --- processes ----------------------------------------------------------- */

/*
 * The processes that use a zone. Each worker process takes a slot; the
 * attempts it starts and the probes it claims are its own, so that when it
 * dies without ending them, releasing its slot gives them back. Zone
 * locked. A slot is an index, -1 for none.
 */
int sticky_process_attach(void *zone, unsigned pid, uint64_t start_token)
    STICKY_NOEXCEPT;
int sticky_process_find(const void *zone, unsigned pid) STICKY_NOEXCEPT;

typedef struct {
    int       slot;
    unsigned  pid;
    uint64_t  start_token;      /* when it started, as the kernel says; 0: unknown */
} sticky_process_t;

/* The slots in use: writes up to `n` to `out`, returns how many are used. */
size_t sticky_processes(const void *zone, sticky_process_t *out, size_t n)
    STICKY_NOEXCEPT;

/* The process of `slot` is gone: its attempts leave the members' in-flight
 * counts, its probe claims are dropped, busy members may leave OK/BUSY.
 * Reports as sticky_maintain() does. */
size_t sticky_process_release(const sticky_balancer_t *b, void *zone,
    int slot, uint64_t now_ms, sticky_transition_t *out, size_t n)
    STICKY_NOEXCEPT;

/* 1 (and the time kept) when no process checked the slots for `period_ms`:
 * then this process asks the kernel which of them are gone. */
int sticky_process_check_due(void *zone, uint64_t now_ms, uint64_t period_ms)
    STICKY_NOEXCEPT;

/* --- failure and recovery ------------------------------------------------ */

/* `sticky_workers FILE probe=URI ...`: recovery options from nginx.conf. */
typedef struct {
    int       probes;           /* probe=URI given: the timer tests members */
    uint64_t  interval_ms;      /* probe_interval */
    uint64_t  timeout_ms;       /* probe_timeout */
    unsigned  passes;           /* probe_passes, >= 1 */
    unsigned  fails;            /* probe_fails; 0: healthy members not probed */
    uint64_t  slow_start_ms;    /* slow_start; 0: mod_jk's rule */
    unsigned  sessions_window;  /* sessions_window in minutes, 0..60; 0: sessions
                                   not counted */
} sticky_health_options_t;

/* The defaults (probes off, interval 5 s, timeout 5 s, passes 1, fails 0,
 * sessions window 30 minutes). */
void sticky_health_options_init(sticky_health_options_t *o) STICKY_NOEXCEPT;

/* Configuration time, before the zone is built. */
void sticky_balancer_set_health(sticky_balancer_t *b,
    const sticky_health_options_t *o) STICKY_NOEXCEPT;

/* The period of the maintenance timer, in ms: 1 s, or probe_interval when
 * that is shorter. worker.maintain's decay runs at the first tick after each
 * of its intervals. */
uint64_t sticky_balancer_tick_ms(const sticky_balancer_t *b) STICKY_NOEXCEPT;

/* A probe the timer must send now (see sticky_probe_claim()). */
typedef struct {
    size_t               member;
    int                  recovering;   /* ERR/REC -> ERR/PRB; else a health probe */
    int                  changed;      /* t holds the transition */
    sticky_transition_t  t;
} sticky_probe_claim_t;

/*
 * Timer, zone locked: claims, for process `owner` (its pid), the members
 * due for a probe; up to `n`, returns how many. Each claimed member is
 * probed by this process only, until sticky_probe_end() or its deadline.
 */
size_t sticky_probe_claim(const sticky_balancer_t *b, void *zone,
    uint64_t now_ms, unsigned owner, sticky_probe_claim_t *out, size_t n)
    STICKY_NOEXCEPT;

enum {
    STICKY_PROBE_PASSED = 0,    /* 2xx or 3xx */
    STICKY_PROBE_FAILED = 1,
    STICKY_PROBE_ABANDONED = 2  /* not sent, or cut short by a quit: no verdict */
};

/* Zone locked: the probe of `member` by `owner` ended. Returns 1 and fills
 * *t when the member's health changed. */
int sticky_probe_end(const sticky_balancer_t *b, void *zone, size_t member,
    unsigned owner, int verdict, uint64_t now_ms, sticky_transition_t *t)
    STICKY_NOEXCEPT;

/* --- status and admin ---------------------------------------------------- */

/*
 * The status page and the admin actions of `sticky_status`. Handler time:
 * these functions may allocate (the status handler is not the proxied
 * request path), except sticky_admin_apply(), which runs under the zone
 * lock and neither allocates nor blocks.
 */

enum {
    STICKY_STATUS_HTML = 0,
    STICKY_STATUS_JSON = 1,
    STICKY_STATUS_PROMETHEUS = 2,
    STICKY_STATUS_PROPERTIES = 3
};

/* Content-Type of a format, a static NUL-terminated string. */
const char *sticky_status_content_type(int format) STICKY_NOEXCEPT;

/* A status page being put together. */
typedef struct sticky_status_s  sticky_status_t;

int sticky_status_create(sticky_status_t **out, sticky_error_t *err)
    STICKY_NOEXCEPT;
void sticky_status_free(sticky_status_t *st) STICKY_NOEXCEPT;

/*
 * Adds the upstream `name` balanced by `b`. `zone_copy` is a copy of its
 * zone (sticky_zone_bytes(members) bytes, 8-byte aligned) made under the
 * zone lock; it must stay valid until the page is rendered.
 */
int sticky_status_add(sticky_status_t *st, const sticky_balancer_t *b,
    const char *name, size_t len, const void *zone_copy, size_t bytes,
    sticky_error_t *err) STICKY_NOEXCEPT;

typedef struct {
    int           format;       /* STICKY_STATUS_... */
    int           read_write;   /* HTML: offer the admin buttons */
    int           fragment;     /* HTML: <main> only, for the page's refresh */
    uint64_t      now_ms;       /* the zones' clock when the copies were made */
    int64_t       wall_ms;      /* Unix time in ms at the same moment */
    sticky_str_t  nonce;        /* HTML: CSP nonce of the inline script, or empty */
    sticky_str_t  version;      /* e.g. "nginx/1.22.1" */
} sticky_status_options_t;

/* Renders the page; *out lives until sticky_status_free(st). */
int sticky_status_render(sticky_status_t *st,
    const sticky_status_options_t *opt, sticky_str_t *out,
    sticky_error_t *err) STICKY_NOEXCEPT;

/*
 * The answer to an admin request, `message` as JSON
 * ({"ok":true,"message":"..."}) or text ("OK: ...\n"); *out lives until
 * sticky_status_free(st).
 */
int sticky_status_message(sticky_status_t *st, int json, int ok,
    const char *message, size_t len, sticky_str_t *out, sticky_error_t *err)
    STICKY_NOEXCEPT;

/* One admin action parsed from an application/x-www-form-urlencoded body. */
typedef struct sticky_admin_s  sticky_admin_t;

/* -1 with a message naming the problem when the form is invalid. */
int sticky_admin_parse(const char *body, size_t len, sticky_admin_t **out,
    sticky_error_t *err) STICKY_NOEXCEPT;
void sticky_admin_free(sticky_admin_t *a) STICKY_NOEXCEPT;

/* The upstream it is for; the worker (empty: every worker, reset only). */
sticky_str_t sticky_admin_upstream(const sticky_admin_t *a) STICKY_NOEXCEPT;
sticky_str_t sticky_admin_worker(const sticky_admin_t *a) STICKY_NOEXCEPT;

typedef struct {
    int   changed;              /* 0: it already was so */
    char  message[512];         /* what was done, printable ASCII, for the
                                   log and the answer */
} sticky_admin_result_t;

/*
 * Zone locked: applies `a` to the zone of `b` (whose upstream is
 * `upstream`, for messages). -1 with a message when the worker is unknown
 * or the action is refused (recover of a member not in error).
 */
int sticky_admin_apply(const sticky_balancer_t *b, void *zone,
    const char *upstream, size_t len, const sticky_admin_t *a,
    uint64_t now_ms, sticky_admin_result_t *res, sticky_error_t *err)
    STICKY_NOEXCEPT;

/* --- AJP/1.3 codec ------------------------------------------------------- */

/*
 * The AJP/1.3 protocol between nginx (the web server) and a servlet
 * container, without I/O: the glue owns every buffer. Request time: these
 * functions never allocate.
 *
 * Packets from nginx start with 0x12 0x34, packets from the container with
 * 'A' 'B'; then a 2-byte big-endian payload length. A whole packet, header
 * included, is at most the member's max_packet_size bytes.
 */

#define STICKY_AJP_HEADER_SIZE      4      /* magic + length */
#define STICKY_AJP_BODY_OVERHEAD    6      /* header + data length */
#define STICKY_AJP_CPING_SIZE       5
#define STICKY_AJP_MIN_PACKET       8192
#define STICKY_AJP_MAX_PACKET       65536

typedef struct {
    sticky_str_t  name;
    sticky_str_t  value;
} sticky_ajp_pair_t;

/* What a FORWARD_REQUEST carries, except what depends on the member. A
 * string with data == NULL is absent (not sent); with len 0 it is sent
 * empty. */
typedef struct {
    sticky_str_t              method;        /* e.g. "GET"; unknown methods
                                                travel as stored_method */
    sticky_str_t              protocol;      /* "HTTP/1.1" */
    sticky_str_t              uri;           /* path, percent-encoded, no query */
    sticky_str_t              remote_addr;
    sticky_str_t              remote_host;
    sticky_str_t              server_name;
    unsigned                  server_port;
    int                       is_ssl;
    const sticky_ajp_pair_t  *headers;       /* request headers, in order */
    size_t                    nheaders;
    sticky_str_t              query_string;  /* without '?'; absent: none */
    sticky_str_t              remote_user;   /* absent: not authenticated */
    sticky_str_t              auth_type;
    sticky_str_t              ssl_cert;      /* PEM */
    sticky_str_t              ssl_cipher;
    sticky_str_t              ssl_session;
    int                       ssl_key_size;  /* bits; -1: absent */
    sticky_str_t              ssl_protocol;  /* AJP_SSL_PROTOCOL */
    sticky_str_t              remote_port;   /* AJP_REMOTE_PORT */
    sticky_str_t              local_addr;    /* AJP_LOCAL_ADDR */
    const sticky_ajp_pair_t  *attributes;    /* ajp_param: req_attribute */
    size_t                    nattributes;
} sticky_ajp_request_t;

/*
 * The bytes sticky_ajp_encode_request() writes for `req`: the packet header
 * and everything but the member's attributes and the terminator. Headers or
 * attributes whose name or value is longer than a packet make it return
 * (size_t) -1.
 */
size_t sticky_ajp_request_bytes(const sticky_ajp_request_t *req)
    STICKY_NOEXCEPT;

/* Writes that part into `buf` (sticky_ajp_request_bytes(req) bytes). */
void sticky_ajp_encode_request(const sticky_ajp_request_t *req,
    unsigned char *buf) STICKY_NOEXCEPT;

/* Bytes the member's part adds: route, secret (when not empty),
 * JK_LB_ACTIVATION and the terminator. */
size_t sticky_ajp_member_bytes(sticky_str_t route, sticky_str_t secret)
    STICKY_NOEXCEPT;

/*
 * Appends the member's part after the `len` bytes of sticky_ajp_encode_request
 * at `buf` (which has room for sticky_ajp_member_bytes() more) and sets the
 * packet's length. `activation` is STICKY_ACTIVE, ... (sent as ACT, DIS,
 * STP; any other value as STP). Returns the packet's size, or 0 when it
 * exceeds `max_packet` (then nothing is sent: the glue answers 4xx).
 */
size_t sticky_ajp_finish_request(unsigned char *buf, size_t len,
    sticky_str_t route, sticky_str_t secret, int activation,
    size_t max_packet) STICKY_NOEXCEPT;

/* A body packet's 6-byte header for `len` bytes of data (len 0: the empty
 * packet that ends the body). */
void sticky_ajp_body_header(unsigned char out[STICKY_AJP_BODY_OVERHEAD],
    size_t len) STICKY_NOEXCEPT;

/* The CPING packet. */
void sticky_ajp_cping(unsigned char out[STICKY_AJP_CPING_SIZE])
    STICKY_NOEXCEPT;

/* The container's packets. */
enum {
    STICKY_AJP_SEND_BODY_CHUNK = 3,
    STICKY_AJP_SEND_HEADERS = 4,
    STICKY_AJP_END_RESPONSE = 5,
    STICKY_AJP_GET_BODY_CHUNK = 6,
    STICKY_AJP_CPONG = 9
};

/* One whole packet from the container, checked from end to end. */
typedef struct {
    int           type;         /* STICKY_AJP_... */
    size_t        size;         /* bytes of the packet, header included */
    int           status;       /* SEND_HEADERS: 100..999 */
    sticky_str_t  reason;       /* SEND_HEADERS: may be empty */
    unsigned      nheaders;     /* SEND_HEADERS */
    sticky_str_t  body;         /* SEND_BODY_CHUNK: the data (len 0: a flush) */
    unsigned      requested;    /* GET_BODY_CHUNK: bytes the container asks */
    int           reuse;        /* END_RESPONSE: the connection may be reused */
} sticky_ajp_packet_t;

/*
 * Reads the packet at the start of `in`. Returns 1 with *out filled, 0 when
 * `in` holds only part of a packet (nothing consumed), -1 when the bytes
 * cannot be a valid packet of at most `max_packet` bytes (a wrong magic, a
 * length over the limit, an unknown type, strings running past their
 * packet, a status outside 100..999, ...) with the reason in err.
 */
int sticky_ajp_read_packet(const unsigned char *in, size_t len,
    size_t max_packet, sticky_ajp_packet_t *out, sticky_error_t *err)
    STICKY_NOEXCEPT;

/* Walks the headers of a SEND_HEADERS packet that sticky_ajp_read_packet()
 * accepted. */
typedef struct {
    const unsigned char  *pos;
    const unsigned char  *end;
    unsigned              left;
} sticky_ajp_headers_t;

void sticky_ajp_headers_begin(const unsigned char *packet,
    const sticky_ajp_packet_t *p, sticky_ajp_headers_t *it) STICKY_NOEXCEPT;

/* 1 with the next header (coded names become their usual spelling, e.g.
 * "Content-Type"; strings point into the packet or are static), 0 at the
 * end. */
int sticky_ajp_headers_next(sticky_ajp_headers_t *it, sticky_str_t *name,
    sticky_str_t *value) STICKY_NOEXCEPT;

/*
 * The response body, read as it arrives in pieces of any size (the glue's
 * buffers need not hold whole packets). Plain data, initialised by
 * sticky_ajp_stream_init(); the glue never reads the fields.
 */
typedef struct {
    uint32_t       state;
    uint32_t       need;        /* bytes still wanted by the current step */
    uint32_t       packet_left; /* payload bytes of the packet not yet read */
    uint32_t       max_packet;
    uint32_t       chunk_left;
    unsigned char  type;
    unsigned char  got;
    unsigned char  scratch[6];
} sticky_ajp_stream_t;

void sticky_ajp_stream_init(sticky_ajp_stream_t *s, size_t max_packet)
    STICKY_NOEXCEPT;

enum {
    STICKY_AJP_EV_MORE = 0,     /* all of the input consumed, nothing else */
    STICKY_AJP_EV_DATA = 1,     /* ev.data: body bytes (part of a chunk) */
    STICKY_AJP_EV_FLUSH = 2,    /* an empty SEND_BODY_CHUNK */
    STICKY_AJP_EV_GET_BODY = 3, /* ev.requested */
    STICKY_AJP_EV_END = 4,      /* ev.reuse; the response is complete */
    STICKY_AJP_EV_ERROR = 5     /* err says why: a bad or out-of-order packet */
};

typedef struct {
    int           event;        /* STICKY_AJP_EV_... */
    size_t        used;         /* bytes of the input consumed */
    sticky_str_t  data;         /* EV_DATA: points into the input */
    unsigned      requested;    /* EV_GET_BODY */
    int           reuse;        /* EV_END */
} sticky_ajp_event_t;

/*
 * Consumes bytes of `in` up to and including the next event; call again
 * with the rest. After EV_END the response is over: any further byte is
 * an error. SEND_HEADERS or CPONG here are out of order: EV_ERROR.
 */
void sticky_ajp_stream_next(sticky_ajp_stream_t *s, const unsigned char *in,
    size_t len, sticky_ajp_event_t *ev, sticky_error_t *err) STICKY_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* STICKY_CORE_H */
