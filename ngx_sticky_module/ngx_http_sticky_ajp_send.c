/*
 * Sending an AJP exchange: the forward request (its member part finished
 * for the attempt's member), the CPing before it, and the request body, one
 * packet each time the container asks (GET_BODY_CHUNK), also after the
 * response headers came back.
 *
 * Everything goes out through ngx_http_sticky_ajp_output(), the upstream's
 * output filter: nginx calls it when the request is to be sent and on every
 * write event, and it sends what the exchange allows at that moment.
 */

#include "ngx_http_sticky_ajp.h"


static ngx_int_t ngx_http_sticky_ajp_start_attempt(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll);
static ngx_msec_t ngx_http_sticky_ajp_cping_wait(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx);
static ngx_int_t ngx_http_sticky_ajp_body_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll);
static ngx_int_t ngx_http_sticky_ajp_keep_body(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_sticky_ajp_copy_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll);
static ngx_chain_t *ngx_http_sticky_ajp_link(ngx_http_request_t *r,
    ngx_buf_t *b, ngx_chain_t ***ll);


/*
 * The upstream's output filter. `in` is request_bufs, given once per
 * attempt (and again when a CPong lets the request go); NULL on every other
 * write event. Returns NGX_AGAIN while something is unsent or a CPong is
 * awaited.
 */
ngx_int_t
ngx_http_sticky_ajp_output(void *data, ngx_chain_t *in)
{
    ngx_http_request_t *r = data;

    ngx_int_t                     rc;
    ngx_msec_t                    wait;
    ngx_chain_t                  *out, **ll;
    ngx_connection_t             *c;
    ngx_http_upstream_t          *u;
    ngx_http_sticky_ajp_ctx_t    *ctx;
    ngx_http_sticky_peer_data_t  *sp;

    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);
    sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);
    u = r->upstream;
    c = u->peer.connection;

    out = NULL;
    ll = &out;

    if (ctx->unbuffered && in
        && ngx_http_sticky_ajp_keep_body(r, ctx, in) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (in && ctx->attempt != sp->attempts) {
        rc = ngx_http_sticky_ajp_start_attempt(r, ctx, &ll);
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (ctx->state == NGX_HTTP_STICKY_AJP_CPONG) {
        if (ngx_http_sticky_ajp_link(r, ctx->head, &ll) == NULL) {
            return NGX_ERROR;
        }

        ctx->state = NGX_HTTP_STICKY_AJP_SENT;
    }

    if (ctx->state >= NGX_HTTP_STICKY_AJP_SENT && ctx->body_wanted
        && u->writer.out == NULL)
    {
        rc = ctx->unbuffered ? ngx_http_sticky_ajp_copy_packet(r, ctx, &ll)
                             : ngx_http_sticky_ajp_body_packet(r, ctx, &ll);
        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    rc = ngx_chain_writer(&u->writer, out);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ctx->state == NGX_HTTP_STICKY_AJP_CPING_WAIT) {
        /*
         * Nothing of the request went out: nginx may still pass it to
         * another member, as after a failed connect, whatever its method
         * (not an unbuffered body: nginx has moved it out of request_bufs).
         */
        if (!ctx->unbuffered) {
            u->request_sent = 0;
        }

        sp->cping_pending = 1;

        wait = ngx_http_sticky_ajp_cping_wait(r, ctx);

        if (!c->read->timer_set) {
            ngx_add_timer(c->read, wait);
        }

        return NGX_AGAIN;
    }

    return rc;
}


/* The first call of an attempt on a new or kept-alive connection. */
static ngx_int_t
ngx_http_sticky_ajp_start_attempt(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll)
{
    size_t                        size;
    ngx_buf_t                    *b;
    ngx_http_sticky_srv_conf_t   *scf;
    ngx_http_sticky_peer_data_t  *sp;
    ngx_http_sticky_ajp_member_t *m;
    sticky_str_t                  route, secret;

    sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);
    scf = sp->conf;

    ctx->attempt = sp->attempts;
    ctx->member = &ctx->up->members[sp->member];
    m = ctx->member;

    size = 0;

    if (ctx->common) {
        route.data = (const char *) m->route.data;
        route.len = m->route.len;
        secret.data = (const char *) m->secret.data;
        secret.len = m->secret.len;

        size = sticky_ajp_finish_request(ctx->head->start, ctx->common,
                                         route, secret,
                                         sticky_member_activation(
                                             scf->balancer, scf->state,
                                             sp->member),
                                         m->max_packet);
    }

    if (size == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "the request's headers do not fit in an AJP packet "
                      "of max_packet_size %uz of worker \"%V\"",
                      m->max_packet, &m->name);
        return NGX_HTTP_REQUEST_HEADER_TOO_LARGE;
    }

    b = ctx->head;
    b->pos = b->start;
    b->last = b->start + size;

    ctx->body_cl = r->request_body ? r->request_body->bufs : NULL;
    ctx->body_offset = 0;
    ctx->body_left = ctx->body_length;

    /* with a length, the container reads the first packet unasked */
    ctx->body_wanted = ctx->body_left > 0 ? m->max_packet : 0;

    sticky_ajp_stream_init(&ctx->stream, m->max_packet);

    if (ngx_http_sticky_ajp_cping_wait(r, ctx)) {
        if (ctx->cping == NULL) {
            ctx->cping = ngx_create_temp_buf(r->pool, STICKY_AJP_CPING_SIZE);
            if (ctx->cping == NULL) {
                return NGX_ERROR;
            }

            sticky_ajp_cping(ctx->cping->start);
        }

        b = ctx->cping;
        b->pos = b->start;
        b->last = b->start + STICKY_AJP_CPING_SIZE;
        ctx->state = NGX_HTTP_STICKY_AJP_CPING_WAIT;

    } else {
        ctx->state = NGX_HTTP_STICKY_AJP_SENT;
    }

    return ngx_http_sticky_ajp_link(r, b, ll) ? NGX_OK : NGX_ERROR;
}


/*
 * How long to wait for a CPong before this attempt's request, 0: no CPing.
 * mod_jk: after a new connection with connect_timeout (else
 * prepost_timeout), before every request with prepost_timeout; and here,
 * for ping_mode I, before reusing a kept-alive connection.
 */
static ngx_msec_t
ngx_http_sticky_ajp_cping_wait(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx)
{
    ngx_http_sticky_ajp_member_t  *m;

    m = ctx->member;

    if (!r->upstream->peer.cached && m->cping_connect) {
        return m->cping_connect;
    }

    if (m->cping_prepost) {
        return m->cping_prepost;
    }

    return r->upstream->peer.cached ? m->cping_reuse : 0;
}


/* The container asked for `requested` bytes of the body. */
void
ngx_http_sticky_ajp_want_body(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, size_t requested)
{
    ctx->body_wanted = requested ? requested : 1;
    ngx_post_event(r->upstream->peer.connection->write, &ngx_posted_events);
}


/*
 * One body packet: its header, then views of the request body's buffers
 * (in memory or in its temporary file), without copying. After the body's
 * end, the empty packet.
 */
static ngx_int_t
ngx_http_sticky_ajp_body_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll)
{
    off_t                          size, take, room;
    ngx_buf_t                     *b, *s;
    ngx_uint_t                     n;
    ngx_http_sticky_ajp_member_t  *m;

    m = ctx->member;
    room = ngx_min(ctx->body_wanted, m->max_packet - STICKY_AJP_BODY_OVERHEAD);
    room = ngx_min(room, ctx->body_left);
    size = 0;

    if (ctx->body_header == NULL) {
        ctx->body_header = ngx_create_temp_buf(r->pool,
                                               STICKY_AJP_BODY_OVERHEAD);
        if (ctx->body_header == NULL) {
            return NGX_ERROR;
        }
    }

    b = ctx->body_header;

    if (ngx_http_sticky_ajp_link(r, b, ll) == NULL) {
        return NGX_ERROR;
    }

    for (n = 0; size < room && n < NGX_HTTP_STICKY_AJP_SLICES && ctx->body_cl;
         /* void */)
    {
        b = ctx->body_cl->buf;
        take = ngx_min(ngx_buf_size(b) - ctx->body_offset, room - size);

        if (take > 0) {
            s = &ctx->slices[n++];
            ngx_memzero(s, sizeof(ngx_buf_t));

            if (ngx_buf_in_memory(b)) {
                s->memory = 1;
                s->pos = b->pos + ctx->body_offset;
                s->last = s->pos + take;

            } else {
                s->in_file = 1;
                s->file = b->file;
                s->file_pos = b->file_pos + ctx->body_offset;
                s->file_last = s->file_pos + take;
            }

            if (ngx_http_sticky_ajp_link(r, s, ll) == NULL) {
                return NGX_ERROR;
            }

            size += take;
            ctx->body_offset += take;
        }

        if (ctx->body_offset == ngx_buf_size(b)) {
            ctx->body_cl = ctx->body_cl->next;
            ctx->body_offset = 0;
        }
    }

    b = ctx->body_header;
    b->pos = b->start;
    b->last = b->start + STICKY_AJP_BODY_OVERHEAD;
    sticky_ajp_body_header(b->pos, (size_t) size);

    ctx->body_left -= size;
    ctx->body_wanted = 0;

    return NGX_OK;
}


/* Unbuffered: keeps the links of what nginx read of the body so far. */
static ngx_int_t
ngx_http_sticky_ajp_keep_body(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_chain_t  *cl;

    for ( /* void */ ; in; in = in->next) {
        if (in->buf == ctx->head || ngx_buf_size(in->buf) == 0) {
            continue;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = in->buf;
        cl->next = NULL;
        *ctx->unread_last = cl;
        ctx->unread_last = &cl->next;
    }

    return NGX_OK;
}


/*
 * Unbuffered: a packet of what has been read, up to what the container
 * asked for; none until something was read. Taking the bytes lets nginx
 * read on into its buffer.
 */
static ngx_int_t
ngx_http_sticky_ajp_copy_packet(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, ngx_chain_t ***ll)
{
    size_t        room, take;
    u_char       *p;
    ngx_buf_t    *b, *in;
    ngx_chain_t  *cl;

    room = ngx_min(ctx->body_wanted,
                   ctx->member->max_packet - STICKY_AJP_BODY_OVERHEAD);
    room = ngx_min((off_t) room, ctx->body_left);

    if (room && ctx->unread == NULL) {
        return NGX_OK;
    }

    b = ctx->copy;
    p = b->start + STICKY_AJP_BODY_OVERHEAD;

    while (room && ctx->unread) {
        in = ctx->unread->buf;
        take = ngx_min((size_t) (in->last - in->pos), room);

        p = ngx_cpymem(p, in->pos, take);
        in->pos += take;
        room -= take;

        if (in->pos == in->last) {
            cl = ctx->unread;
            ctx->unread = cl->next;
            ngx_free_chain(r->pool, cl);
        }
    }

    if (ctx->unread == NULL) {
        ctx->unread_last = &ctx->unread;
    }

    take = p - b->start - STICKY_AJP_BODY_OVERHEAD;
    sticky_ajp_body_header(b->start, take);

    b->pos = b->start;
    b->last = p;

    ctx->body_left -= take;
    ctx->body_wanted = 0;

    return ngx_http_sticky_ajp_link(r, b, ll) ? NGX_OK : NGX_ERROR;
}


/* Appends `b` to the chain being built. */
static ngx_chain_t *
ngx_http_sticky_ajp_link(ngx_http_request_t *r, ngx_buf_t *b,
    ngx_chain_t ***ll)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;
    **ll = cl;
    *ll = &cl->next;

    return cl;
}
