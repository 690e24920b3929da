/*
 * The container's side of an AJP exchange, up to its headers: CPONG and
 * GET_BODY_CHUNK before the headers, then SEND_HEADERS; and END_RESPONSE,
 * which alone says whether the connection may be kept. The body
 * (SEND_BODY_CHUNK, more GET_BODY_CHUNKs) is read by
 * ngx_http_sticky_ajp_body.c.
 *
 * Every packet is checked by the core's codec; a packet it refuses, or one
 * that comes out of order, ends the attempt as an invalid reply (502, the
 * connection closed, the member judged as for a broken HTTP reply).
 */

#include "ngx_http_sticky_ajp.h"


static ngx_int_t ngx_http_sticky_ajp_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_packet_t *pkt,
    const u_char *start);
static ngx_int_t ngx_http_sticky_ajp_headers_in(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_packet_t *pkt,
    const u_char *start);
static ngx_int_t ngx_http_sticky_ajp_header(ngx_http_request_t *r,
    sticky_str_t *name, sticky_str_t *value);


ngx_int_t
ngx_http_sticky_ajp_reinit_request(ngx_http_request_t *r)
{
    ngx_http_sticky_ajp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);

    if (ctx) {
        /* the next attempt starts afresh in the output filter */
        ctx->attempt = (ngx_uint_t) -1;
        ctx->state = NGX_HTTP_STICKY_AJP_SENT;
        ctx->body_wanted = 0;
    }

    return NGX_OK;
}


/*
 * Reads whole packets from u->buffer (ajp_buffer_size holds the largest
 * one) until the response headers; a partial packet is moved to the
 * buffer's start to be completed.
 */
ngx_int_t
ngx_http_sticky_ajp_process_header(ngx_http_request_t *r)
{
    int                         rc;
    size_t                      n;
    ngx_buf_t                  *b;
    ngx_int_t                   rv;
    sticky_error_t              err;
    sticky_ajp_packet_t         pkt;
    ngx_http_sticky_ajp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);
    b = &r->upstream->buffer;

    for ( ;; ) {
        n = b->last - b->pos;

        rc = sticky_ajp_read_packet(b->pos, n, ctx->member->max_packet,
                                    &pkt, &err);

        if (rc == 0) {
            if (b->pos != b->start) {
                ngx_memmove(b->start, b->pos, n);
                b->pos = b->start;
                b->last = b->start + n;
            }

            return NGX_AGAIN;
        }

        if (rc < 0) {
            ngx_http_sticky_ajp_invalid(r, ctx, err.message);
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        b->pos += pkt.size;

        rv = ngx_http_sticky_ajp_packet(r, ctx, &pkt, b->pos - pkt.size);

        if (rv != NGX_AGAIN) {
            return rv;
        }
    }
}


/* One packet before the body: NGX_AGAIN to read on, NGX_OK at the headers. */
static ngx_int_t
ngx_http_sticky_ajp_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_packet_t *pkt,
    const u_char *start)
{
    ngx_connection_t             *c;
    ngx_http_sticky_peer_data_t  *sp;

    c = r->upstream->peer.connection;

    switch (pkt->type) {

    case STICKY_AJP_CPONG:
        if (ctx->state != NGX_HTTP_STICKY_AJP_CPING_WAIT) {
            break;
        }

        sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);
        sp->cping_pending = 0;
        ctx->state = NGX_HTTP_STICKY_AJP_CPONG;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        ngx_post_event(c->write, &ngx_posted_events);
        return NGX_AGAIN;

    case STICKY_AJP_GET_BODY_CHUNK:
        if (ctx->state != NGX_HTTP_STICKY_AJP_SENT) {
            break;
        }

        ngx_http_sticky_ajp_want_body(r, ctx, pkt->requested);
        return NGX_AGAIN;

    case STICKY_AJP_SEND_HEADERS:
        if (ctx->state != NGX_HTTP_STICKY_AJP_SENT) {
            break;
        }

        return ngx_http_sticky_ajp_headers_in(r, ctx, pkt, start);

    case STICKY_AJP_SEND_BODY_CHUNK:
        if (ctx->state != NGX_HTTP_STICKY_AJP_NO_BODY) {
            break;
        }

        /* a body to a HEAD request: dropped, as mod_jk does */
        return NGX_AGAIN;

    case STICKY_AJP_END_RESPONSE:
        if (ctx->state != NGX_HTTP_STICKY_AJP_NO_BODY) {
            break;
        }

        ngx_http_sticky_ajp_end(r, ctx, pkt->reuse,
                                r->upstream->buffer.pos
                                != r->upstream->buffer.last);
        return NGX_OK;

    default:
        break;
    }

    ngx_http_sticky_ajp_invalid(r, ctx, pkt->type == STICKY_AJP_CPONG
                                        ? "an unexpected CPONG"
                                        : "a packet out of order");
    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}


/* SEND_HEADERS becomes the upstream's status and headers_in. */
static ngx_int_t
ngx_http_sticky_ajp_headers_in(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_packet_t *pkt,
    const u_char *start)
{
    u_char                 c, *p;
    size_t                 i, letters;
    ngx_int_t              rc;
    sticky_str_t           name, value;
    ngx_http_upstream_t   *u;
    sticky_ajp_headers_t   it;

    u = r->upstream;

    sticky_ajp_headers_begin(start, pkt, &it);

    while (sticky_ajp_headers_next(&it, &name, &value)) {
        rc = ngx_http_sticky_ajp_header(r, &name, &value);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    u->headers_in.status_n = pkt->status;
    u->state->status = pkt->status;

    /*
     * A reason phrase is passed on only when it is plain printable text
     * with a letter: Tomcat sends the status's digits instead of a reason,
     * and nginx has the standard one for those.
     */
    letters = 0;

    for (i = 0; i < pkt->reason.len; i++) {
        c = (u_char) pkt->reason.data[i];

        if (c < 0x20 || c > 0x7e) {
            break;
        }

        letters += ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    }

    if (letters && i == pkt->reason.len) {
        p = ngx_pnalloc(r->pool, sizeof("999 ") - 1 + pkt->reason.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        u->headers_in.status_line.data = p;
        u->headers_in.status_line.len =
            ngx_sprintf(p, "%03i %*s", (ngx_int_t) pkt->status,
                        pkt->reason.len, pkt->reason.data)
            - p;
    }

    /*
     * A response without a body (HEAD, 204, 304, length 0) is passed on
     * with its END_RESPONSE: it alone says whether nginx may keep the
     * connection, and once the client has its answer it may well close.
     */
    if (r->method == NGX_HTTP_HEAD
        || pkt->status == NGX_HTTP_NO_CONTENT
        || pkt->status == NGX_HTTP_NOT_MODIFIED
        || u->headers_in.content_length_n == 0)
    {
        ctx->state = NGX_HTTP_STICKY_AJP_NO_BODY;
        return NGX_AGAIN;
    }

    ctx->state = NGX_HTTP_STICKY_AJP_BODY;
    ctx->body_received = 0;

    return NGX_OK;
}


/*
 * One response header into headers_in, as the other upstream modules do.
 * A name or value that would break the client's response (control
 * characters, a name that is no token) makes the reply invalid.
 */
static ngx_int_t
ngx_http_sticky_ajp_header(ngx_http_request_t *r, sticky_str_t *name,
    sticky_str_t *value)
{
    u_char                          c, *p;
    size_t                          i;
    ngx_table_elt_t                *h;
    ngx_http_upstream_header_t     *hh;
    ngx_http_upstream_main_conf_t  *umcf;

    for (i = 0; i < name->len; i++) {
        c = (u_char) name->data[i];

        if (c <= 0x20 || c >= 0x7f || c == ':') {
            goto invalid;
        }
    }

    for (i = 0; i < value->len; i++) {
        c = (u_char) value->data[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            goto invalid;
        }
    }

    if (name->len == 0) {
        goto invalid;
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);

    h = ngx_list_push(&r->upstream->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * name->len + value->len + 2);
    if (p == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    h->key.len = name->len;
    h->key.data = p;
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '\0';

    h->value.len = value->len;
    h->value.data = p;
    p = ngx_cpymem(p, value->data, value->len);
    *p++ = '\0';

    h->lowcase_key = p;
    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

    hh = ngx_hash_find(&umcf->headers_in_hash, h->hash, h->lowcase_key,
                       h->key.len);

    if (hh && hh->handler(r, h, hh->offset) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "upstream sent an invalid AJP response header \"%*s\"",
                  ngx_min(name->len, 64), name->data);

    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}


/*
 * END_RESPONSE: the response is complete. The connection goes back to the
 * keepalive pool only when the container allows it, nothing of the request
 * body is owed, and nothing followed the packet.
 */
void
ngx_http_sticky_ajp_end(ngx_http_request_t *r, ngx_http_sticky_ajp_ctx_t *ctx,
    int reuse, ngx_uint_t extra)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (extra) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "worker \"%V\" sent data after END_RESPONSE",
                      &ctx->member->name);
    }

    u->keepalive = reuse && !extra && ctx->body_wanted == 0
                   && u->writer.out == NULL;

    /*
     * Tomcat refuses a request without its connector's secret with a 403
     * and closes the connection; an application's 403 keeps it.
     */
    if (u->headers_in.status_n == NGX_HTTP_FORBIDDEN && !reuse) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "worker \"%V\" answered 403 and closed the connection: "
                      "if it always does, %s",
                      &ctx->member->name,
                      ctx->member->secret.len
                      ? "its \"secret\" differs from the secret of its AJP "
                        "connector"
                      : "its AJP connector requires a secret and the "
                        "workers file sets none");
    }

    ctx->state = NGX_HTTP_STICKY_AJP_DONE;

    u->length = 0;

    if (u->pipe) {
        u->pipe->length = 0;
        u->pipe->upstream_done = 1;
    }
}


/* A packet the codec refused, or out of order: the connection is not kept. */
void
ngx_http_sticky_ajp_invalid(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, const char *what)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "worker \"%V\" sent an invalid AJP reply: %s",
                  &ctx->member->name, what);

    r->upstream->keepalive = 0;
}


void
ngx_http_sticky_ajp_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "abort http ajp request");
}


void
ngx_http_sticky_ajp_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "finalize http ajp request");
}
