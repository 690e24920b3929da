/*
 * How sticky_status answers: the core's page object, short messages, the
 * headers every answer carries, and the small request helpers both the page
 * (ngx_http_sticky_status.c) and the actions (ngx_http_sticky_status_post.c)
 * use. This file calls neither of them.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_status.h"


static void ngx_http_sticky_status_cleanup(void *data);


/* The core's page object, freed with the request's pool. */
sticky_status_t *
ngx_http_sticky_status_create(ngx_http_request_t *r)
{
    sticky_error_t       err;
    sticky_status_t     *st;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    if (sticky_status_create(&st, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%s", err.message);
        return NULL;
    }

    cln->handler = ngx_http_sticky_status_cleanup;
    cln->data = st;

    return st;
}


/* A short answer: {"ok":...,"message":...} or "OK: ..." text. */
ngx_int_t
ngx_http_sticky_status_message(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t ok, const char *text, size_t len, ngx_uint_t allow_post)
{
    ngx_int_t         json;
    sticky_str_t      body;
    sticky_error_t    err;
    sticky_status_t  *st;

    st = ngx_http_sticky_status_create(r);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json = ngx_http_sticky_status_wants_json(r);

    if (sticky_status_message(st, (int) json, (int) ok, text, len, &body,
                              &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%s", err.message);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {
        if (allow_post) {
            if (ngx_http_sticky_status_add_header(r, "Allow",
                    (u_char *) "GET, HEAD, POST", 15) != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

        } else if (ngx_http_sticky_status_add_header(r, "Allow",
                       (u_char *) "GET, HEAD", 9) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_sticky_status_send(r, status,
               json ? "application/json" : "text/plain; charset=utf-8",
               &body, NULL);
}


/*
 * Sends `body` (memory owned by the core's page object, which lives as long
 * as the request's pool). HTML gets a Content-Security-Policy that allows
 * its own inline style and script only, and no framing.
 */
ngx_int_t
ngx_http_sticky_status_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, sticky_str_t *body, ngx_str_t *nonce)
{
    u_char       *csp;
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static const char  csp_start[] =
        "default-src 'none'; connect-src 'self'; img-src data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        "style-src 'nonce-";
    static const char  csp_script[] = "'; script-src 'nonce-";
    static const char  csp_end[] = "'";

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = body->len;

    if (ngx_http_sticky_status_add_header(r, "Cache-Control",
                                          (u_char *) "no-store", 8)
            != NGX_OK
        || ngx_http_sticky_status_add_header(r, "X-Content-Type-Options",
                                             (u_char *) "nosniff", 7)
            != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (nonce) {
        len = sizeof(csp_start) - 1 + nonce->len + sizeof(csp_script) - 1
              + nonce->len + sizeof(csp_end) - 1;

        csp = ngx_pnalloc(r->pool, len);
        if (csp == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(csp, "%s%V%s%V%s", csp_start, nonce, csp_script, nonce,
                    csp_end);

        if (ngx_http_sticky_status_add_header(r, "Content-Security-Policy",
                                              csp, len)
                != NGX_OK
            || ngx_http_sticky_status_add_header(r, "X-Frame-Options",
                                                 (u_char *) "DENY", 4)
               != NGX_OK
            || ngx_http_sticky_status_add_header(r, "Referrer-Policy",
                                                 (u_char *) "no-referrer", 11)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (body->len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) body->data;
    b->last = b->pos + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_sticky_status_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static void
ngx_http_sticky_status_cleanup(void *data)
{
    sticky_status_free(data);
}


/*
 * "no upstream NAME uses sticky_workers", with `status`; the name is quoted
 * (printable ASCII only: the text goes to the log and the answer).
 */
ngx_int_t
ngx_http_sticky_status_no_upstream(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t status, ngx_uint_t allow_post)
{
    u_char  *p, *start;

    start = ngx_pnalloc(r->pool, 4 * name->len + 64);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(start, "no upstream \"", sizeof("no upstream \"") - 1);
    p = ngx_http_sticky_status_quote(p, name);
    p = ngx_cpymem(p, "\" uses sticky_workers",
                   sizeof("\" uses sticky_workers") - 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "sticky_status: %*s", p - start, start);

    return ngx_http_sticky_status_message(r, status, 0, (char *) start,
                                          p - start, allow_post);
}


ngx_int_t
ngx_http_sticky_status_wants_json(ngx_http_request_t *r)
{
    ngx_str_t         v;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &v) == NGX_OK) {
        return v.len == 4 && ngx_strncmp(v.data, "json", 4) == 0;
    }

    h = ngx_http_sticky_status_header_in(r, "Accept");

    return h && ngx_strcasestrn(h->value.data, "application/json", 16 - 1);
}


u_char *
ngx_http_sticky_status_quote(u_char *p, ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] >= 0x20 && s->data[i] < 0x7f
            && s->data[i] != '"' && s->data[i] != '\\')
        {
            *p++ = s->data[i];

        } else {
            p = ngx_sprintf(p, "\\x%02xd", s->data[i]);
        }
    }

    return p;
}


/* The first request header named `name` (case-insensitive), or NULL. */
ngx_table_elt_t *
ngx_http_sticky_status_header_in(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != len
            || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
        {
            continue;
        }

        return &h[i];
    }
}
