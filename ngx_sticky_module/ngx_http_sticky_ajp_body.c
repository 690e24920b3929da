/*
 * The body of an AJP response, read by nginx's buffered (event pipe) or
 * unbuffered input filter: SEND_BODY_CHUNK packets, GET_BODY_CHUNK requests
 * for more of the request body in between, and END_RESPONSE.
 */

#include "ngx_http_sticky_ajp.h"


static int ngx_http_sticky_ajp_body_event(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, u_char **pos, u_char *last,
    sticky_ajp_event_t *ev);
static void ngx_http_sticky_ajp_received(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, size_t len);


ngx_int_t
ngx_http_sticky_ajp_input_filter_init(void *data)
{
    ngx_http_request_t  *r = data;

    ngx_http_upstream_t        *u;
    ngx_http_sticky_ajp_ctx_t  *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);

    if (ctx->state == NGX_HTTP_STICKY_AJP_DONE) {
        u->pipe->length = 0;
        u->length = 0;
        return NGX_OK;
    }

    /* one byte at least is still due; eof before END_RESPONSE is an error */
    u->pipe->length = 1;
    u->length = 1;

    return NGX_OK;
}


/*
 * The next event of the response body in [*pos, last), all but its data
 * handled here; *pos is moved past what was read. After END_RESPONSE, or
 * a broken packet, the rest of the input is dropped.
 */
static int
ngx_http_sticky_ajp_body_event(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, u_char **pos, u_char *last,
    sticky_ajp_event_t *ev)
{
    sticky_error_t        err;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (ctx->state == NGX_HTTP_STICKY_AJP_DONE) {
        ngx_http_sticky_ajp_end(r, ctx, 0, 1);
        *pos = last;
        return STICKY_AJP_EV_END;
    }

    sticky_ajp_stream_next(&ctx->stream, *pos, last - *pos, ev, &err);
    *pos += ev->used;

    switch (ev->event) {

    case STICKY_AJP_EV_DATA:
        ngx_http_sticky_ajp_received(r, ctx, ev->data.len);
        break;

    case STICKY_AJP_EV_GET_BODY:
        ngx_http_sticky_ajp_want_body(r, ctx, ev->requested);
        break;

    case STICKY_AJP_EV_END:
        ngx_http_sticky_ajp_end(r, ctx, ev->reuse, *pos != last);
        *pos = last;
        break;

    case STICKY_AJP_EV_ERROR:
        /* nginx closes both ends: the client's answer is cut short */
        ngx_http_sticky_ajp_invalid(r, ctx, err.message);
        u->error = 1;

        if (u->buffering) {
            u->pipe->upstream_error = 1;
        }

        *pos = last;
        break;

    default:    /* MORE, FLUSH */
        break;
    }

    return ev->event;
}


/* Buffered: the body's data become shadows of the pipe's buffer. */
ngx_int_t
ngx_http_sticky_ajp_input_filter(ngx_event_pipe_t *p, ngx_buf_t *buf)
{
    ngx_buf_t                  *b, **prev;
    ngx_chain_t                *cl;
    ngx_http_request_t         *r;
    sticky_ajp_event_t          ev;
    ngx_http_sticky_ajp_ctx_t  *ctx;

    r = p->input_ctx;
    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);

    b = NULL;
    prev = &buf->shadow;

    if (p->upstream_error) {
        return ngx_event_pipe_add_free_buf(p, buf);
    }

    while (buf->pos < buf->last) {

        if (ngx_http_sticky_ajp_body_event(r, ctx, &buf->pos, buf->last, &ev)
            != STICKY_AJP_EV_DATA)
        {
            continue;
        }

        cl = ngx_chain_get_free_buf(p->pool, &p->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;
        ngx_memzero(b, sizeof(ngx_buf_t));

        b->pos = (u_char *) ev.data.data;
        b->last = b->pos + ev.data.len;
        b->start = buf->start;
        b->end = buf->end;
        b->tag = p->tag;
        b->temporary = 1;
        b->recycled = 1;
        b->num = buf->num;

        *prev = b;
        prev = &b->shadow;

        if (p->in) {
            *p->last_in = cl;
        } else {
            p->in = cl;
        }

        p->last_in = &cl->next;
    }

    if (b) {
        b->shadow = buf;
        b->last_shadow = 1;
        return NGX_OK;
    }

    /* no data in this buffer: it can be reused */
    return ngx_event_pipe_add_free_buf(p, buf);
}


/*
 * Unbuffered: `bytes` more at u->buffer.last. Data chunks are passed on as
 * they come, each flushed (an empty chunk, Tomcat's flush, needs nothing
 * more).
 */
ngx_int_t
ngx_http_sticky_ajp_non_buffered_filter(void *data, ssize_t bytes)
{
    ngx_http_request_t *r = data;

    u_char                     *pos, *last;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl, **ll;
    sticky_ajp_event_t          ev;
    ngx_http_upstream_t        *u;
    ngx_http_sticky_ajp_ctx_t  *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);

    pos = u->buffer.last;
    last = pos + bytes;
    u->buffer.last = last;

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }

    while (pos < last) {

        if (ngx_http_sticky_ajp_body_event(r, ctx, &pos, last, &ev)
            != STICKY_AJP_EV_DATA)
        {
            continue;
        }

        cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;
        b->flush = 1;
        b->memory = 1;
        b->pos = (u_char *) ev.data.data;
        b->last = b->pos + ev.data.len;
        b->tag = u->output.tag;

        *ll = cl;
        ll = &cl->next;
    }

    return NGX_OK;
}


/*
 * Once the body's Content-Length is in, the client has its whole answer
 * and may close its connection: that is no abort any more, and END_RESPONSE
 * is still to be read to know whether the connection may be kept.
 */
static void
ngx_http_sticky_ajp_received(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, size_t len)
{
    off_t  length;

    ctx->body_received += len;
    length = r->upstream->headers_in.content_length_n;

    if (length >= 0 && ctx->body_received >= length) {
        r->read_event_handler = ngx_http_block_reading;
    }
}
