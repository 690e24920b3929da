/*
 * The admin actions of a read_write sticky_status location: a POST with the
 * form fields upstream, worker and one of activation=, lbfactor=, action=,
 * once ngx_http_sticky_status_guard.c has let it in.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_status.h"


#define NGX_HTTP_STICKY_RELOADED                                              \
    "nginx was reloaded while this request came in: nothing was changed; "   \
    "send the change again"


static ngx_int_t ngx_http_sticky_status_form(ngx_http_request_t *r,
    ngx_str_t *form);
static ngx_int_t ngx_http_sticky_status_post(ngx_http_request_t *r);
static void ngx_http_sticky_admin_cleanup(void *data);


/*
 * The form of an admin POST, in one buffer: NGX_DECLINED when it is larger
 * than NGX_HTTP_STICKY_STATUS_MAX_BODY (or was written to a file).
 */
static ngx_int_t
ngx_http_sticky_status_form(ngx_http_request_t *r, ngx_str_t *form)
{
    u_char       *p;
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            return NGX_DECLINED;
        }

        len += b->last - b->pos;
    }

    if (len > NGX_HTTP_STICKY_STATUS_MAX_BODY) {
        return NGX_DECLINED;
    }

    form->data = ngx_pnalloc(r->pool, len + 1);
    if (form->data == NULL) {
        return NGX_ERROR;
    }

    p = form->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    form->len = len;

    return NGX_OK;
}


/* The body of an admin POST has been read. */
void
ngx_http_sticky_status_post_body(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_sticky_status_post(r));
}


static ngx_int_t
ngx_http_sticky_status_post(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     form, upstream;
    sticky_str_t                  s;
    sticky_error_t                err;
    sticky_admin_t               *a;
    ngx_slab_pool_t              *shpool;
    ngx_pool_cleanup_t           *cln;
    sticky_admin_result_t         res;
    ngx_http_sticky_srv_conf_t   *scf;

    static const char  too_big[] = "the form is too large";

    rc = ngx_http_sticky_status_form(r, &form);

    if (rc == NGX_DECLINED) {
        return ngx_http_sticky_status_message(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, 0,
                   too_big, sizeof(too_big) - 1, 1);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (sticky_admin_parse((const char *) form.data, form.len, &a, &err) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: change refused: %s", err.message);
        return ngx_http_sticky_status_message(r, NGX_HTTP_BAD_REQUEST, 0,
                   err.message, ngx_strlen(err.message), 1);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        sticky_admin_free(a);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_sticky_admin_cleanup;
    cln->data = a;

    s = sticky_admin_upstream(a);
    upstream.data = (u_char *) s.data;
    upstream.len = s.len;

    scf = ngx_http_sticky_find_upstream((ngx_cycle_t *) ngx_cycle, &upstream);

    if (scf == NULL) {
        return ngx_http_sticky_status_no_upstream(r, &upstream,
                                                  NGX_HTTP_BAD_REQUEST, 1);
    }

    /*
     * A process of a replaced configuration still finishes its requests;
     * a change written to its state would be lost with it.
     */
    if (!ngx_http_sticky_zone_current(scf)) {
        return ngx_http_sticky_status_message(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, 0,
                   NGX_HTTP_STICKY_RELOADED, sizeof(NGX_HTTP_STICKY_RELOADED)
                   - 1, 1);
    }

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    rc = sticky_admin_apply(scf->balancer, scf->state,
                            (const char *) upstream.data, upstream.len, a,
                            ngx_current_msec, &res, &err);
    ngx_shmtx_unlock(&shpool->mutex);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: %V: change refused: %s",
                      &r->connection->addr_text, err.message);
        return ngx_http_sticky_status_message(r, NGX_HTTP_BAD_REQUEST, 0,
                   err.message, ngx_strlen(err.message), 1);
    }

    if (res.changed) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "sticky_status: %V: %s", &r->connection->addr_text,
                      res.message);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: %V: %s", &r->connection->addr_text,
                      res.message);
    }

    return ngx_http_sticky_status_message(r, NGX_HTTP_OK, 1, res.message,
                                          ngx_strlen(res.message), 1);
}


static void
ngx_http_sticky_admin_cleanup(void *data)
{
    sticky_admin_free(data);
}
