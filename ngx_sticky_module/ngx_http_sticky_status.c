/*
 * sticky_status [read_write]: the status page and the admin actions.
 *
 *     location /sticky-status {
 *         sticky_status read_write;
 *         allow 10.0.0.0/8;
 *         deny all;
 *     }
 *
 * GET and HEAD show every upstream that uses sticky_workers (or the one of
 * ?upstream=NAME) as HTML, JSON, Prometheus text or mod_jk's properties
 * (?format=, else the Accept header). As nginx's stub_status does, the state
 * is copied under each zone's lock and formatted after unlocking; the core
 * renders (sticky_core.h, "status and admin").
 *
 * POST changes a worker (ngx_http_sticky_status_post.c). A GET never
 * changes anything, mod_jk's ?cmd=update included.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_status.h"


static ngx_int_t ngx_http_sticky_status_ro_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_sticky_status_rw_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_sticky_status_handler(ngx_http_request_t *r,
    ngx_uint_t read_write);
static ngx_int_t ngx_http_sticky_status_get(ngx_http_request_t *r,
    ngx_uint_t read_write);
static ngx_int_t ngx_http_sticky_status_snapshot(ngx_http_request_t *r,
    sticky_status_t *st, ngx_str_t *name);
static ngx_int_t ngx_http_sticky_status_nonce(ngx_http_request_t *r,
    ngx_str_t *nonce);
static ngx_int_t ngx_http_sticky_status_format(ngx_http_request_t *r,
    ngx_int_t *format, ngx_str_t *problem);
static ngx_int_t ngx_http_sticky_status_upstream_arg(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *problem);
static void ngx_http_sticky_status_copy_names(void *data);


/* sticky_status [read_write]; */
char *
ngx_http_sticky_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sticky_loc_conf_t  *slcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_core_srv_conf_t  *cscf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_sticky_status_ro_handler
        || clcf->handler == ngx_http_sticky_status_rw_handler)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1) {
        clcf->handler = ngx_http_sticky_status_ro_handler;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "read_write") == 0) {
        cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

        if (ngx_http_sticky_status_names(cf, slcf, cscf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        clcf->handler = ngx_http_sticky_status_rw_handler;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\", it must be \"read_write\"",
                       &value[1]);
    return NGX_CONF_ERROR;
}


/*
 * The server_name list of `cscf` is copied into `slcf` once the
 * configuration is read: server_name may still follow in the server block.
 * Called by the directive, and by merge_loc_conf for the locations that
 * inherit the content handler (if, limit_except).
 */
ngx_int_t
ngx_http_sticky_status_names(ngx_conf_t *cf, ngx_http_sticky_loc_conf_t *slcf,
    ngx_http_core_srv_conf_t *cscf)
{
    ngx_pool_cleanup_t  *cln;

    slcf->status_cscf = cscf;
    slcf->status_pool = cf->pool;

    cln = ngx_pool_cleanup_add(cf->temp_pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_sticky_status_copy_names;
    cln->data = slcf;

    return NGX_OK;
}


/*
 * Runs when the configuration's temporary pool is destroyed: every
 * server_name has been read, and nginx's list (in that pool) is still
 * there. The names and compiled expressions themselves live in the
 * configuration's pool. If the configuration failed, the copy goes with it.
 */
static void
ngx_http_sticky_status_copy_names(void *data)
{
    ngx_http_sticky_loc_conf_t  *slcf = data;

    ngx_uint_t  n;

    n = slcf->status_cscf->server_names.nelts;

    if (n == 0) {
        return;
    }

    /* out of memory: no name, only the address and localhost are taken */
    slcf->status_names = ngx_palloc(slcf->status_pool,
                                    n * sizeof(ngx_http_server_name_t));
    if (slcf->status_names == NULL) {
        return;
    }

    ngx_memcpy(slcf->status_names, slcf->status_cscf->server_names.elts,
               n * sizeof(ngx_http_server_name_t));
    slcf->status_nnames = n;
}


static ngx_int_t
ngx_http_sticky_status_ro_handler(ngx_http_request_t *r)
{
    return ngx_http_sticky_status_handler(r, 0);
}


static ngx_int_t
ngx_http_sticky_status_rw_handler(ngx_http_request_t *r)
{
    return ngx_http_sticky_status_handler(r, 1);
}


/* The content handler: called once per request. */
static ngx_int_t
ngx_http_sticky_status_handler(ngx_http_request_t *r, ngx_uint_t read_write)
{
    ngx_int_t  rc;

    if (r->method == NGX_HTTP_POST && read_write) {

        rc = ngx_http_sticky_status_post_check(r);
        if (rc != NGX_DECLINED) {
            return rc;     /* refused, the answer is sent */
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r,
                                         ngx_http_sticky_status_post_body);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (r->method == NGX_HTTP_POST) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r, NGX_HTTP_NOT_ALLOWED, 0,
                   "this status page is read-only: changes need "
                   "\"sticky_status read_write;\"",
                   sizeof("this status page is read-only: changes need "
                          "\"sticky_status read_write;\"") - 1, 0);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r, NGX_HTTP_NOT_ALLOWED, 0,
                   "method not allowed",
                   sizeof("method not allowed") - 1, read_write);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sticky_status_get(r, read_write);
}


/* GET and HEAD: copy each zone under its lock, unlock, render, send. */
static ngx_int_t
ngx_http_sticky_status_get(ngx_http_request_t *r, ngx_uint_t read_write)
{
    ngx_int_t                 format, found;
    ngx_str_t                 arg, name, problem, nonce;
    ngx_time_t               *tp;
    sticky_str_t              body;
    sticky_error_t            err;
    sticky_status_t          *st;
    sticky_status_options_t   opt;

    static const char  changes[] =
        "mod_jk's cmd=update, reset and recover change state: here they are "
        "POST requests with the header X-Sticky-Admin: 1 "
        "(form fields upstream, worker, activation|lbfactor|action)";

    /* mod_jk's state-changing GETs are refused, never carried out */
    if (ngx_http_arg(r, (u_char *) "cmd", 3, &arg) == NGX_OK
        && ((arg.len == 6 && ngx_strncmp(arg.data, "update", 6) == 0)
            || (arg.len == 5 && ngx_strncmp(arg.data, "reset", 5) == 0)
            || (arg.len == 7 && ngx_strncmp(arg.data, "recover", 7) == 0)
            || (arg.len == 4 && ngx_strncmp(arg.data, "edit", 4) == 0)))
    {
        return ngx_http_sticky_status_message(r, NGX_HTTP_NOT_ALLOWED, 0,
                   changes, sizeof(changes) - 1, read_write);
    }

    if (ngx_http_sticky_status_format(r, &format, &problem) != NGX_OK) {
        return ngx_http_sticky_status_message(r, NGX_HTTP_BAD_REQUEST, 0,
                   (char *) problem.data, problem.len, read_write);
    }

    switch (ngx_http_sticky_status_upstream_arg(r, &name, &problem)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_sticky_status_message(r, NGX_HTTP_BAD_REQUEST, 0,
                   (char *) problem.data, problem.len, read_write);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_sticky_status_create(r);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    found = ngx_http_sticky_status_snapshot(r, st, &name);

    if (found == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (name.len && found == 0) {
        return ngx_http_sticky_status_no_upstream(r, &name, NGX_HTTP_NOT_FOUND,
                                                  read_write);
    }

    tp = ngx_timeofday();

    ngx_memzero(&opt, sizeof(sticky_status_options_t));
    opt.format = (int) format;
    opt.read_write = read_write ? 1 : 0;
    opt.fragment = ngx_http_arg(r, (u_char *) "fragment", 8, &arg) == NGX_OK
                   && arg.len == 1 && arg.data[0] == '1';
    opt.now_ms = ngx_current_msec;
    opt.wall_ms = (int64_t) tp->sec * 1000 + tp->msec;
    opt.version.data = NGINX_VER;
    opt.version.len = sizeof(NGINX_VER) - 1;

    nonce.len = 0;

    if (format == STICKY_STATUS_HTML) {
        if (ngx_http_sticky_status_nonce(r, &nonce) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        opt.nonce.data = (const char *) nonce.data;
        opt.nonce.len = nonce.len;
    }

    if (sticky_status_render(st, &opt, &body, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%s", err.message);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sticky_status_send(r, NGX_HTTP_OK,
                                       sticky_status_content_type(format),
                                       &body, nonce.len ? &nonce : NULL);
}


/*
 * Adds to `st` a copy of the state of every sticky upstream (or of the one
 * `name` names), each copied under its zone's lock: the page is rendered
 * after unlocking. Returns how many were added, or NGX_ERROR.
 */
static ngx_int_t
ngx_http_sticky_status_snapshot(ngx_http_request_t *r, sticky_status_t *st,
    ngx_str_t *name)
{
    void                         *copy;
    ngx_int_t                     found;
    ngx_uint_t                    i;
    sticky_error_t                err;
    ngx_slab_pool_t              *shpool;
    ngx_http_sticky_srv_conf_t   *scf, **scfp;
    ngx_http_sticky_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sticky_workers_module);
    scfp = smcf->upstreams.elts;
    found = 0;

    for (i = 0; i < smcf->upstreams.nelts; i++) {
        scf = scfp[i];

        if (name->len
            && (name->len != scf->upstream->host.len
                || ngx_strncmp(name->data, scf->upstream->host.data,
                               name->len) != 0))
        {
            continue;
        }

        copy = ngx_palloc(r->pool, scf->state_bytes);
        if (copy == NULL) {
            return NGX_ERROR;
        }

        shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);
        ngx_memcpy(copy, scf->state, scf->state_bytes);
        ngx_shmtx_unlock(&shpool->mutex);

        if (sticky_status_add(st, scf->balancer,
                              (const char *) scf->upstream->host.data,
                              scf->upstream->host.len, copy, scf->state_bytes,
                              &err)
            != 0)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%s",
                          err.message);
            return NGX_ERROR;
        }

        found++;
    }

    return found;
}


/* 128 random bits in hex: the page's Content-Security-Policy nonce. */
static ngx_int_t
ngx_http_sticky_status_nonce(ngx_http_request_t *r, ngx_str_t *nonce)
{
    u_char      *p;
    ngx_uint_t   i;

    nonce->data = ngx_pnalloc(r->pool, 32);
    if (nonce->data == NULL) {
        return NGX_ERROR;
    }

    p = nonce->data;

    for (i = 0; i < 4; i++) {
        p = ngx_sprintf(p, "%08xD", (uint32_t) ngx_random());
    }

    nonce->len = p - nonce->data;

    return NGX_OK;
}


/*
 * ?upstream=NAME, %-decoded: NGX_OK with name->len 0 when there is none;
 * NGX_DECLINED with the problem when it is empty or holds a bad %-escape
 * (a name that is not what was meant must not show every upstream).
 */
static ngx_int_t
ngx_http_sticky_status_upstream_arg(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *problem)
{
    u_char     *p, *d;
    ngx_int_t   hi, lo;
    ngx_str_t   arg;

    name->len = 0;
    name->data = NULL;

    if (ngx_http_arg(r, (u_char *) "upstream", 8, &arg) != NGX_OK) {
        return NGX_OK;
    }

    if (arg.len == 0) {
        ngx_str_set(problem, "?upstream= names no upstream");
        return NGX_DECLINED;
    }

    d = ngx_pnalloc(r->pool, arg.len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    name->data = d;

    for (p = arg.data; p < arg.data + arg.len; p++) {

        if (*p != '%') {
            *d++ = *p;
            continue;
        }

        hi = (p + 2 < arg.data + arg.len) ? ngx_hextoi(p + 1, 1) : NGX_ERROR;
        lo = (hi != NGX_ERROR) ? ngx_hextoi(p + 2, 1) : NGX_ERROR;

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            ngx_str_set(problem, "?upstream= holds an invalid %-escape");
            return NGX_DECLINED;
        }

        *d++ = (u_char) (hi * 16 + lo);
        p += 2;
    }

    name->len = d - name->data;

    return NGX_OK;
}


/* ?format=, mod_jk's ?mime=, else the Accept header; HTML by default. */
static ngx_int_t
ngx_http_sticky_status_format(ngx_http_request_t *r, ngx_int_t *format,
    ngx_str_t *problem)
{
    ngx_str_t         v;
    ngx_table_elt_t  *h;

    *format = STICKY_STATUS_HTML;

    if (ngx_http_arg(r, (u_char *) "format", 6, &v) == NGX_OK
        || ngx_http_arg(r, (u_char *) "mime", 4, &v) == NGX_OK)
    {
        if (v.len == 4 && ngx_strncmp(v.data, "html", 4) == 0) {
            return NGX_OK;
        }

        if (v.len == 4 && ngx_strncmp(v.data, "json", 4) == 0) {
            *format = STICKY_STATUS_JSON;
            return NGX_OK;
        }

        if ((v.len == 10 && ngx_strncmp(v.data, "prometheus", 10) == 0)
            || (v.len == 7 && ngx_strncmp(v.data, "metrics", 7) == 0))
        {
            *format = STICKY_STATUS_PROMETHEUS;
            return NGX_OK;
        }

        if ((v.len == 10 && ngx_strncmp(v.data, "properties", 10) == 0)
            || (v.len == 4 && ngx_strncmp(v.data, "prop", 4) == 0))
        {
            *format = STICKY_STATUS_PROPERTIES;
            return NGX_OK;
        }

        ngx_str_set(problem, "unknown format: use html, json, prometheus "
                             "or properties");
        return NGX_ERROR;
    }

    h = ngx_http_sticky_status_header_in(r, "Accept");
    if (h == NULL) {
        return NGX_OK;
    }

    if (ngx_strcasestrn(h->value.data, "application/json", 16 - 1)) {
        *format = STICKY_STATUS_JSON;

    } else if (ngx_strcasestrn(h->value.data, "application/openmetrics-text",
                               28 - 1)
               || ngx_strcasestrn(h->value.data, "version=0.0.4", 13 - 1))
    {
        *format = STICKY_STATUS_PROMETHEUS;
    }

    return NGX_OK;
}
