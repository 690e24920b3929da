/*
 * ngx_http_sticky_workers_module: mod_jk's load balancer for stock nginx.
 *
 *     upstream tomcats {
 *         sticky_workers /etc/nginx/workers.properties [lb=NAME];
 *     }
 *
 * This file holds the module definition, its configurations (the main one
 * lists the sticky upstreams), the upstream initialisation and the 503 of
 * sticky_session_force. The other files: _directive.c reads sticky_workers'
 * parameters, _workers.c turns the file into servers, _zone.c keeps the
 * shared state and _processes.c the processes that use it, _peer.c balances
 * each request, _variables.c, _timer.c (maintenance), _probe.c and
 * _probe_ssl.c (active probes), _status*.c the sticky_status page. The _ajp
 * files are ajp_pass, a module of their own in the same library.
 */

#include "ngx_http_sticky_module.h"


static ngx_int_t ngx_http_sticky_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_sticky_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_sticky_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_sticky_create_srv_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_sticky_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_sticky_init_process(ngx_cycle_t *cycle);
static void ngx_http_sticky_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_sticky_header_filter(ngx_http_request_t *r);
static void *ngx_http_sticky_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_sticky_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


static ngx_command_t  ngx_http_sticky_commands[] = {

    { ngx_string("sticky_workers"),
      NGX_HTTP_UPS_CONF|NGX_CONF_1MORE,
      ngx_http_sticky_workers,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sticky_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_sticky_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_sticky_workers_module_ctx = {
    ngx_http_sticky_preconfiguration,      /* preconfiguration */
    ngx_http_sticky_postconfiguration,     /* postconfiguration */

    ngx_http_sticky_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_sticky_create_srv_conf,       /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_sticky_create_loc_conf,       /* create location configuration */
    ngx_http_sticky_merge_loc_conf         /* merge location configuration */
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


ngx_module_t  ngx_http_sticky_workers_module = {
    NGX_MODULE_V1,
    &ngx_http_sticky_workers_module_ctx,   /* module context */
    ngx_http_sticky_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_sticky_init_module,           /* init module */
    ngx_http_sticky_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_sticky_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * Called once per upstream at the end of the http block. The servers were
 * created by sticky_workers; `server` lines beside them would silently get
 * no route, so they are refused.
 */
ngx_int_t
ngx_http_sticky_init_upstream(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_sticky_srv_conf_t  *scf;

    scf = ngx_http_conf_upstream_srv_conf(us, ngx_http_sticky_workers_module);

    if (us->servers->nelts != scf->nmembers) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"server\" directives cannot be combined with "
                      "\"sticky_workers\" in upstream \"%V\" in %s:%ui",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_sticky_init_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sticky_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_sticky_add_variables(cf);
}


static ngx_int_t
ngx_http_sticky_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_sticky_header_filter;

    return NGX_OK;
}


/*
 * nginx answers 502 when a balancer has no peer (NGX_BUSY), and 502 or 504
 * when the last attempt could not connect. mod_jk answers 503 then (when
 * sticky_session_force refuses to move a session, when no member is usable,
 * when none could be reached), and so do we: nginx's own page is replaced by
 * its 503 (error_page 503 applies). An error_page for 502 or 504 is handled
 * by nginx before it gets here, and wins. A 502 sent by a backend is left
 * alone: it came after a successful connect.
 */
static ngx_int_t
ngx_http_sticky_header_filter(ngx_http_request_t *r)
{
    ngx_http_sticky_peer_data_t  *sp;

    sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);

    if (sp && (sp->force_503 || sp->unavailable) && !sp->rewrote_503
        && (r->headers_out.status == NGX_HTTP_BAD_GATEWAY
            || (sp->unavailable
                && r->headers_out.status == NGX_HTTP_GATEWAY_TIME_OUT)))
    {
        sp->rewrote_503 = 1;
        return ngx_http_filter_finalize_request(r,
                                                &ngx_http_sticky_workers_module,
                                                NGX_HTTP_SERVICE_UNAVAILABLE);
    }

    if (sp && sp->conf->session_cookie
        && ngx_http_sticky_set_session_cookie(r, sp) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * nginx calls init_module once the configuration is loaded and its sockets
 * are open: from here it cannot fail, and its state becomes the current one.
 */
static ngx_int_t
ngx_http_sticky_init_module(ngx_cycle_t *cycle)
{
    ngx_http_sticky_commit_zones(cycle);

    return NGX_OK;
}


static void
ngx_http_sticky_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_process == NGX_PROCESS_WORKER) {
        ngx_http_sticky_detach_process(cycle);
    }
}


/*
 * Worker processes (not the cache manager or loader) take their slots and
 * run the maintenance.
 */
static ngx_int_t
ngx_http_sticky_init_process(ngx_cycle_t *cycle)
{
    ngx_array_t  *upstreams;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    upstreams = ngx_http_sticky_upstreams(cycle);
    if (upstreams == NULL || upstreams->nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_sticky_attach_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_sticky_init_timer(cycle);
}


static void *
ngx_http_sticky_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_sticky_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sticky_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&smcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_sticky_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return smcf;
}


/* The sticky upstreams of `cycle`; NULL when it has no http{} block. */
ngx_array_t *
ngx_http_sticky_upstreams(ngx_cycle_t *cycle)
{
    ngx_http_sticky_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_sticky_workers_module);

    return smcf ? &smcf->upstreams : NULL;
}


ngx_http_sticky_srv_conf_t *
ngx_http_sticky_find_upstream(ngx_cycle_t *cycle, ngx_str_t *name)
{
    ngx_uint_t                    i;
    ngx_array_t                  *upstreams;
    ngx_http_sticky_srv_conf_t  **scfp;

    upstreams = ngx_http_sticky_upstreams(cycle);
    if (upstreams == NULL) {
        return NULL;
    }

    scfp = upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {
        if (scfp[i]->upstream->host.len == name->len
            && ngx_strncmp(scfp[i]->upstream->host.data, name->data,
                           name->len) == 0)
        {
            return scfp[i];
        }
    }

    return NULL;
}


static void *
ngx_http_sticky_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_sticky_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sticky_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->file = { 0, NULL };
     *     conf->lb_name = { 0, NULL };
     *     conf->config = NULL;
     *     conf->lb = NULL;
     *     conf->balancer = NULL;
     *     conf->nmembers = 0;
     *     conf->session_cookie = 0;
     *     conf->upstream = NULL;
     *     conf->cycle = NULL;
     *     conf->shm_zone = NULL;
     *     conf->generation = NULL;
     *     conf->state = NULL;
     *     conf->state_bytes = 0;
     *     conf->process_slots = 0;
     *     conf->zone_reused = 0;
     *     conf->committed = 0;
     *     conf->peers = NULL;
     *     conf->peers_ready = 0;
     *     conf->probe_uri = { 0, NULL };
     *     conf->probe_requests = NULL;
     *     conf->read_timeouts = NULL;
     *     conf->connect_timeouts = NULL;
     *     conf->member_timeouts = 0;
     *     conf->member_confs = NULL;
     */

    conf->process_slot = -1;

    sticky_health_options_init(&conf->health);

    return conf;
}


static void *
ngx_http_sticky_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_sticky_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sticky_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->status_cscf = NULL;
     *     conf->status_pool = NULL;
     *     conf->status_names = NULL;
     *     conf->status_nnames = 0;
     */

    return conf;
}


/*
 * Called for every location, after the merges of the static modules (a
 * dynamic module comes after them in cycle->modules, and nginx merges one
 * module at a time): the proxy module's settings of the location are final
 * here, which the probes' TLS needs.
 */
static char *
ngx_http_sticky_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_sticky_loc_conf_t *prev = parent;
    ngx_http_sticky_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* "if" and "limit_except" blocks run their location's content handler */
    if (clcf->noname && conf->status_cscf == NULL && prev->status_cscf) {
        if (ngx_http_sticky_status_names(cf, conf, prev->status_cscf)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

#if (NGX_HTTP_SSL)
    return ngx_http_sticky_probe_ssl_location(cf);
#else
    return NGX_CONF_OK;
#endif
}
