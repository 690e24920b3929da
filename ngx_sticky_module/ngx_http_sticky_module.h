/*
 * Shared declarations of the nginx glue. The glue knows nginx and nothing of
 * balancing; everything about workers.properties and routing is asked of the
 * C++ core through sticky_core.h.
 */
#ifndef NGX_HTTP_STICKY_MODULE_H
#define NGX_HTTP_STICKY_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "sticky_core.h"


/*
 * The state of one configuration of an upstream, in the upstream's shared
 * zone. Processes write only to their own configuration's state; it is
 * freed when no process of that configuration is left.
 */
typedef struct ngx_http_sticky_generation_s  ngx_http_sticky_generation_t;

struct ngx_http_sticky_generation_s {
    ngx_http_sticky_generation_t  *next;       /* older */
    void                          *state;      /* the core's zone */
    size_t                         bytes;
    ngx_uint_t                     serial;     /* 1, 2, ... per zone */
    ngx_uint_t                     status;     /* NGX_HTTP_STICKY_GEN_... */
    ngx_uint_t                     pinned;     /* processes it may have are
                                                  unknown: never freed */
};

#define NGX_HTTP_STICKY_GEN_BUILT    0   /* its configuration is loading */
#define NGX_HTTP_STICKY_GEN_CURRENT  1   /* the master runs it */
#define NGX_HTTP_STICKY_GEN_RETIRED  2   /* replaced; its processes finish */

/* What hangs on the zone's slab pool. */
typedef struct {
    ngx_http_sticky_generation_t  *generations;  /* newest first */
    ngx_http_sticky_generation_t  *current;
    ngx_uint_t                     serial;       /* the latest given */
} ngx_http_sticky_shctx_t;


/*
 * The upstream settings of one location (u->conf as its handler set it) as
 * each member's attempts use them: a copy with the member's own timeouts,
 * or the location's settings themselves. Per process, made on first use.
 */
typedef struct ngx_http_sticky_member_confs_s  ngx_http_sticky_member_confs_t;

struct ngx_http_sticky_member_confs_s {
    ngx_http_upstream_conf_t         *location;
    ngx_http_upstream_conf_t        **member;     /* by member index */
    ngx_http_sticky_member_confs_t   *next;
};


/* Per upstream{} block that uses sticky_workers. */
typedef struct {
    ngx_str_t                      file;       /* workers.properties, full path */
    ngx_str_t                      lb_name;    /* lb=NAME, empty: the default */
    sticky_config_t               *config;     /* freed with the cycle's pool */
    const sticky_lb_t             *lb;
    sticky_balancer_t             *balancer;   /* freed with the cycle's pool */
    ngx_uint_t                     nmembers;   /* servers we created */
    ngx_uint_t                     session_cookie;  /* set_session_cookie */
    sticky_cookie_options_t        cookie;     /* cookie_*=, into the conf's
                                                  strings */

    ngx_http_upstream_srv_conf_t  *upstream;
    ngx_cycle_t                   *cycle;      /* the configuration's */
    ngx_shm_zone_t                *shm_zone;   /* state shared by all workers */
    ngx_http_sticky_generation_t  *generation; /* this configuration's, in it */
    void                          *state;      /* the core's zone, in it */
    size_t                         state_bytes;
    ngx_uint_t                     process_slots;  /* in state */
    ngx_int_t                      process_slot;   /* this process's, or -1 */
    unsigned                       zone_reused:1;  /* the running config's
                                                      memory */
    unsigned                       committed:1;    /* its generation became
                                                      the current one */

    /* member i -> its round robin peer; filled once per worker process */
    ngx_http_upstream_rr_peer_t  **peers;
    ngx_uint_t                     peers_ready;

    /* failure and recovery */
    sticky_health_options_t        health;     /* probe=, slow_start=, ... */
    ngx_str_t                      probe_uri;  /* empty: a request probes */
    ngx_uint_t                     probe_params;     /* probe_* given */
    ngx_str_t                     *probe_requests;   /* per member */
    ngx_msec_t                    *read_timeouts;    /* per member, 0: none */
    ngx_msec_t                    *connect_timeouts; /* per member, 0: none */
    ngx_uint_t                     member_timeouts;  /* any of them set */
    ngx_http_sticky_member_confs_t *member_confs;    /* per process */
    u_char                        *socket_keepalive; /* per member, 0 or 1 */

#if (NGX_HTTP_SSL)
    /* probes over TLS: set when a proxy_pass https:// uses this upstream */
    ngx_http_upstream_conf_t      *probe_ssl;  /* that location's, the first */
    ngx_str_t                      probe_ssl_name;   /* null-terminated */
    ngx_uint_t                     probe_ssl_sni;    /* sent as SNI */
    ngx_str_t                      probe_ssl_location;
    ngx_str_t                      probe_plain_location;
    ngx_uint_t                     probe_ssl_noted;  /* other settings seen */
#endif

    /* AJP: set when an ajp_pass uses this upstream */
    void                          *ajp;        /* ngx_http_sticky_ajp_upstream_t */
} ngx_http_sticky_srv_conf_t;


/*
 * Per location. sticky_status read_write keeps its server block's
 * server_name list here, for the Host check of changes: nginx frees its own
 * list once the configuration is read (it keeps only hashes, and only when
 * an address has several server blocks), so it is copied then.
 */
typedef struct {
    ngx_http_core_srv_conf_t      *status_cscf;    /* NULL: not read_write */
    ngx_pool_t                    *status_pool;
    ngx_http_server_name_t        *status_names;
    ngx_uint_t                     status_nnames;
} ngx_http_sticky_loc_conf_t;


/* The http{} block's: every upstream balanced by sticky_workers. */
typedef struct {
    ngx_array_t                    upstreams;  /* ngx_http_sticky_srv_conf_t * */
} ngx_http_sticky_main_conf_t;


/*
 * Per request. The round robin data comes first so that nginx's SSL session
 * hooks and the keepalive module can treat it as rr data. It is kept small:
 * the request pool's first blocks have little room left when it is made,
 * and a block more is a malloc() and a free() per request. The session ids
 * are not kept: each attempt reads them again from the request.
 */
typedef struct {
    ngx_http_upstream_rr_peer_data_t   rrp;

    ngx_http_request_t                *request;
    ngx_http_sticky_srv_conf_t        *conf;
    ngx_http_upstream_conf_t         **member_confs;  /* u->conf per member,
                                                         with member timeouts */
    sticky_decision_t                  decision;    /* of the latest attempt */
    ngx_int_t                          member;      /* in flight, or -1 */
    ngx_uint_t                         attempts;

    unsigned                           force_503:1;
    unsigned                           rewrote_503:1;
    unsigned                           unavailable:1;  /* nothing usable, or
                                                          the last attempt
                                                          could not connect */
    unsigned                           cping_pending:1;  /* AJP: a CPong is
                                                            awaited; no answer
                                                            is a failed connect */

    uint64_t                          *tried;       /* one bit per member */
} ngx_http_sticky_peer_data_t;


extern ngx_module_t  ngx_http_sticky_workers_module;


/* ngx_http_sticky_module.c: the sticky upstreams of a cycle (NULL: none) */
ngx_array_t *ngx_http_sticky_upstreams(ngx_cycle_t *cycle);
ngx_http_sticky_srv_conf_t *ngx_http_sticky_find_upstream(ngx_cycle_t *cycle,
    ngx_str_t *name);


/* ngx_http_sticky_directive.c: sticky_workers and its parameters */
char *ngx_http_sticky_workers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_sticky_module.c: the upstream's init, after the http{} block */
ngx_int_t ngx_http_sticky_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);

/* ngx_http_sticky_workers.c: read the file, create servers, balancer, zone */
char *ngx_http_sticky_load_workers(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf, ngx_http_sticky_srv_conf_t *scf);

/* ngx_http_sticky_zone.c: the shared state of one upstream */
ngx_int_t ngx_http_sticky_add_zone(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf);
void ngx_http_sticky_commit_zones(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_sticky_zone_current(ngx_http_sticky_srv_conf_t *scf);
void ngx_http_sticky_unlink_generation(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_log_t *log);

/* ngx_http_sticky_processes.c: the processes that use a zone */
ngx_int_t ngx_http_sticky_attach_process(ngx_cycle_t *cycle);
void ngx_http_sticky_detach_process(ngx_cycle_t *cycle);
void ngx_http_sticky_check_processes(ngx_http_sticky_srv_conf_t *scf,
    ngx_log_t *log);
ngx_uint_t ngx_http_sticky_children(sticky_process_t *out, ngx_uint_t n);
ngx_uint_t ngx_http_sticky_reap_generations(ngx_slab_pool_t *shpool,
    ngx_log_t *log);
void ngx_http_sticky_log_transition(ngx_log_t *log,
    ngx_http_sticky_srv_conf_t *scf, sticky_transition_t *t);

/* ngx_http_sticky_peer.c: the balancer callbacks */
ngx_int_t ngx_http_sticky_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
void ngx_http_sticky_find_sessions(ngx_http_request_t *r,
    ngx_http_sticky_srv_conf_t *scf, sticky_sessions_t *sessions);
ngx_int_t ngx_http_sticky_preview_member(ngx_http_request_t *r,
    ngx_http_sticky_srv_conf_t *scf);

/* ngx_http_sticky_cookie.c: mod_jk's set_session_cookie */
ngx_int_t ngx_http_sticky_set_session_cookie(ngx_http_request_t *r,
    ngx_http_sticky_peer_data_t *sp);

/* ngx_http_sticky_variables.c */
ngx_int_t ngx_http_sticky_add_variables(ngx_conf_t *cf);

/* ngx_http_sticky_timer.c: per-process maintenance */
ngx_int_t ngx_http_sticky_init_timer(ngx_cycle_t *cycle);

/* ngx_http_sticky_member_conf.c: worker.X.reply_timeout,
 * socket_connect_timeout and socket_keepalive; the per-process copies of a
 * location's upstream settings with them */
char *ngx_http_sticky_init_member_timeouts(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf);
ngx_http_upstream_conf_t **ngx_http_sticky_member_confs(
    ngx_http_sticky_srv_conf_t *scf, ngx_http_upstream_conf_t *location,
    ngx_log_t *log);

/* ngx_http_sticky_peer.c: room for the transitions of one attempt of an
 * upstream of `members` members (configuration time, in the master) */
ngx_int_t ngx_http_sticky_size_transitions(ngx_conf_t *cf, ngx_uint_t members);

/* ngx_http_sticky_probe.c: active probes (probe=URI) */
char *ngx_http_sticky_init_probes(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf);
void ngx_http_sticky_probe(ngx_http_sticky_srv_conf_t *scf, ngx_uint_t member,
    ngx_log_t *log);

#if (NGX_HTTP_SSL)
/* ngx_http_sticky_probe_ssl.c: from merge_loc_conf, whether the location
 * reaches a sticky_workers upstream with proxy_pass https:// */
char *ngx_http_sticky_probe_ssl_location(ngx_conf_t *cf);
#endif

/* ngx_http_sticky_status.c: the sticky_status directive; the server_name
 * list of a read_write location, copied when the configuration is read */
char *ngx_http_sticky_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_sticky_status_names(ngx_conf_t *cf,
    ngx_http_sticky_loc_conf_t *slcf, ngx_http_core_srv_conf_t *cscf);

#endif /* NGX_HTTP_STICKY_MODULE_H */
