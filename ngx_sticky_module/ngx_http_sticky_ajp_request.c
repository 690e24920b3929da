/*
 * The FORWARD_REQUEST packet: what the request and nginx know of the client
 * (addresses, TLS, the authenticated user, ajp_param), encoded once per
 * request by the core's codec. Only its end (the member's route, secret and
 * activation) is rewritten for each attempt, by _ajp_send.c, which sends it.
 */

#include "ngx_http_sticky_ajp.h"


/* Request attributes that are not headers, as text. */
typedef struct {
    u_char   remote_port[NGX_INT_T_LEN];
    u_char   content_length[NGX_OFF_T_LEN];
    u_char   local_addr[NGX_SOCKADDR_STRLEN];
} ngx_http_sticky_ajp_text_t;


static ngx_int_t ngx_http_sticky_ajp_headers(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req,
    ngx_http_sticky_ajp_text_t *text);
static ngx_int_t ngx_http_sticky_ajp_attributes(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req,
    ngx_http_sticky_ajp_text_t *text);
static ngx_int_t ngx_http_sticky_ajp_params(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req);
static ngx_int_t ngx_http_sticky_ajp_uri(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_str_t *uri);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_sticky_ajp_ssl(ngx_http_request_t *r,
    sticky_ajp_request_t *req);
#endif


static const sticky_str_t  ngx_http_sticky_ajp_absent = { NULL, 0 };


ngx_int_t
ngx_http_sticky_ajp_create_request(ngx_http_request_t *r)
{
    size_t                       size;
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_http_upstream_t         *u;
    sticky_ajp_request_t         req;
    ngx_http_sticky_ajp_ctx_t   *ctx;
    ngx_http_sticky_ajp_text_t  *text;

    ctx = ngx_http_get_module_ctx(r, ngx_http_sticky_ajp_module);
    u = r->upstream;

    ngx_memzero(&req, sizeof(sticky_ajp_request_t));

    text = ngx_palloc(r->pool, sizeof(ngx_http_sticky_ajp_text_t));
    if (text == NULL) {
        return NGX_ERROR;
    }

    req.method.data = (const char *) r->method_name.data;
    req.method.len = r->method_name.len;
    req.protocol.data = (const char *) r->http_protocol.data;
    req.protocol.len = r->http_protocol.len;
    req.remote_addr.data = (const char *) r->connection->addr_text.data;
    req.remote_addr.len = r->connection->addr_text.len;
    req.remote_host = req.remote_addr;

    if (req.protocol.data == NULL) {            /* HTTP/0.9 */
        req.protocol.data = "HTTP/1.0";
        req.protocol.len = sizeof("HTTP/1.0") - 1;
    }

    if (ngx_http_sticky_ajp_uri(r, ctx, &req.uri) != NGX_OK
        || ngx_http_sticky_ajp_headers(r, ctx, &req, text) != NGX_OK
        || ngx_http_sticky_ajp_attributes(r, ctx, &req, text) != NGX_OK
        || ngx_http_sticky_ajp_params(r, ctx, &req) != NGX_OK)
    {
        return NGX_ERROR;
    }

    size = sticky_ajp_request_bytes(&req);

    if (size == (size_t) -1) {
        /* no member can take it: said when an attempt starts */
        size = 0;
    }

    ctx->common = size;

    b = ngx_create_temp_buf(r->pool, size + ctx->up->member_bytes);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (size) {
        sticky_ajp_encode_request(&req, b->pos);
    }

    /* not empty: nginx's output chain refuses empty buffers */
    b->last = b->start + size + 1;

    ctx->head = b;

    /* what only a body needs (most requests have none) */
    if (ctx->unbuffered) {
        ctx->copy = ngx_create_temp_buf(r->pool, ctx->up->max_packet);
        if (ctx->copy == NULL) {
            return NGX_ERROR;
        }

        ctx->unread_last = &ctx->unread;

    } else if (ctx->body_length > 0) {
        ctx->slices = ngx_palloc(r->pool,
                                 NGX_HTTP_STICKY_AJP_SLICES * sizeof(ngx_buf_t));
        if (ctx->slices == NULL) {
            return NGX_ERROR;
        }
    }

    /*
     * request_bufs only starts an attempt: nginx hands it to the output
     * filter once per attempt, which sends what the exchange allows.
     */
    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;
    u->request_bufs = cl;

    u->output.output_filter = ngx_http_sticky_ajp_output;
    u->output.filter_ctx = r;

    return NGX_OK;
}


/*
 * $uri (nginx's location matching saw it: decoded, dot segments resolved)
 * percent-encoded again, or the client's own path (ajp_forward_uri
 * unparsed).
 *
 * Tomcat removes path parameters (";name=value") from every segment before
 * it maps a path: "/admin;x/page" would reach /admin/page, which a
 * "location /admin/" never saw. So every ';' travels as %3B, a plain
 * character of the segment, except the one that starts the session's path
 * parameter (";jsessionid=") in the last segment, which Tomcat must see.
 */
static ngx_int_t
ngx_http_sticky_ajp_uri(ngx_http_request_t *r, ngx_http_sticky_ajp_ctx_t *ctx,
    sticky_str_t *uri)
{
    u_char        *p, *src, *end, *keep, *dst;
    size_t         n;
    sticky_str_t   param;

    if (ctx->conf->forward_uri == NGX_HTTP_STICKY_AJP_URI_UNPARSED) {
        p = ngx_strlchr(r->unparsed_uri.data,
                        r->unparsed_uri.data + r->unparsed_uri.len, '?');
        uri->data = (const char *) r->unparsed_uri.data;
        uri->len = p ? (size_t) (p - r->unparsed_uri.data) : r->unparsed_uri.len;
        return NGX_OK;
    }

    src = r->uri.data;
    end = src + r->uri.len;

    /* the session parameter: in the last segment, followed by '=' */
    param = sticky_balancer_session_path(ctx->conf->sticky->balancer);
    keep = NULL;

    for (p = end; p > src && p[-1] != '/'; p--) { /* void */ }

    if (param.len > 1) {
        keep = ngx_strlcasestrn(p, end, (u_char *) param.data, param.len - 1);

        if (keep && (keep + param.len >= end || keep[param.len] != '=')) {
            keep = NULL;
        }
    }

    n = ngx_escape_uri(NULL, src, r->uri.len, NGX_ESCAPE_URI);

    for (p = src; p < end; p++) {
        n += (*p == ';' && p != keep);
    }

    if (n == 0) {
        uri->data = (const char *) src;
        uri->len = r->uri.len;
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, r->uri.len + 2 * n);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    uri->data = (const char *) dst;

    for (p = src; p < end; p++) {
        if (*p == ';' && p != keep) {
            dst = ngx_cpymem(dst, "%3B", 3);

        } else {
            dst = (u_char *) ngx_escape_uri(dst, p, 1, NGX_ESCAPE_URI);
        }
    }

    uri->len = dst - (u_char *) uri->data;

    return NGX_OK;
}


/*
 * 400 for a path that nginx and Tomcat would read differently: a segment
 * that is "." or ".." once Tomcat removes its path parameters (";..."),
 * which nginx's location matching took for an ordinary name. (Forwarded as
 * ajp_forward_uri normalized sends it, only the session's parameter would
 * survive; either way, no one asks for such a path in good faith.)
 */
ngx_int_t
ngx_http_sticky_ajp_check_path(ngx_http_request_t *r)
{
    u_char  *p, *end, *seg, *semi;
    size_t   len;

    p = r->uri.data;
    end = p + r->uri.len;

    while (p < end) {
        seg = p;

        while (p < end && *p != '/') {
            p++;
        }

        semi = ngx_strlchr(seg, p, ';');

        if (semi) {
            len = semi - seg;

            if ((len == 1 && seg[0] == '.')
                || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "ajp_pass refused \"%V\": a dot segment "
                              "with path parameters", &r->uri);
                return NGX_HTTP_BAD_REQUEST;
            }
        }

        p++;
    }

    return NGX_OK;
}


/*
 * The request's headers, except those of the body's framing: the body is
 * read whole before the request goes out, so its length is known, and sent
 * as Content-Length.
 */
static ngx_int_t
ngx_http_sticky_ajp_headers(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req,
    ngx_http_sticky_ajp_text_t *text)
{
    size_t               n;
    ngx_uint_t           i;
    ngx_chain_t         *cl;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h;
    sticky_ajp_pair_t   *pair;
    ngx_http_upstream_t *u;

    u = r->upstream;
    ctx->body_length = 0;

    if (r->request_body_no_buffering) {
        ctx->body_length = r->headers_in.content_length_n;
        ctx->unbuffered = 1;

    } else if (u->conf->pass_request_body && r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            ctx->body_length += ngx_buf_size(cl->buf);
        }
    }

    n = 1;

    if (u->conf->pass_request_headers) {
        for (part = &r->headers_in.headers.part; part; part = part->next) {
            n += part->nelts;
        }
    }

    pair = ngx_palloc(r->pool, n * sizeof(sticky_ajp_pair_t));
    if (pair == NULL) {
        return NGX_ERROR;
    }

    req->headers = pair;
    n = 0;

    if (u->conf->pass_request_headers) {
        for (part = &r->headers_in.headers.part; part; part = part->next) {
            h = part->elts;

            for (i = 0; i < part->nelts; i++) {
                if (h[i].hash == 0
                    || (h[i].key.len == sizeof("Content-Length") - 1
                        && ngx_strncasecmp(h[i].key.data,
                                           (u_char *) "Content-Length",
                                           h[i].key.len) == 0)
                    || (h[i].key.len == sizeof("Transfer-Encoding") - 1
                        && ngx_strncasecmp(h[i].key.data,
                                           (u_char *) "Transfer-Encoding",
                                           h[i].key.len) == 0))
                {
                    continue;
                }

                pair[n].name.data = (const char *) h[i].key.data;
                pair[n].name.len = h[i].key.len;
                pair[n].value.data = (const char *) h[i].value.data;
                pair[n].value.len = h[i].value.len;
                n++;
            }
        }
    }

    /* the container reads the first body packet when it is above zero */
    if (ctx->body_length > 0 || r->headers_in.content_length_n >= 0
        || r->headers_in.chunked)
    {
        pair[n].name.data = "Content-Length";
        pair[n].name.len = sizeof("Content-Length") - 1;
        pair[n].value.data = (const char *) text->content_length;
        pair[n].value.len = ngx_sprintf(text->content_length, "%O",
                                        ctx->body_length)
                            - text->content_length;
        n++;
    }

    req->nheaders = n;

    return NGX_OK;
}


/* What AJP carries besides headers: addresses, TLS, the user nginx
 * authenticated. */
static ngx_int_t
ngx_http_sticky_ajp_attributes(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req,
    ngx_http_sticky_ajp_text_t *text)
{
    ngx_str_t                  s, user;
    ngx_connection_t          *c;
    ngx_http_core_srv_conf_t  *cscf;

    c = r->connection;

    if (r->headers_in.server.len) {
        req->server_name.data = (const char *) r->headers_in.server.data;
        req->server_name.len = r->headers_in.server.len;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        req->server_name.data = (const char *) cscf->server_name.data;
        req->server_name.len = cscf->server_name.len;
    }

    s.data = text->local_addr;
    s.len = NGX_SOCKADDR_STRLEN;

    if (ngx_connection_local_sockaddr(c, &s, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    req->local_addr.data = (const char *) s.data;
    req->local_addr.len = s.len;
    req->server_port = ngx_inet_get_port(c->local_sockaddr);

    req->remote_port.data = (const char *) text->remote_port;
    req->remote_port.len = ngx_sprintf(text->remote_port, "%ui",
                                       (ngx_uint_t) ngx_inet_get_port(
                                           c->sockaddr))
                           - text->remote_port;

    req->query_string = ngx_http_sticky_ajp_absent;

    if (r->args.len) {
        req->query_string.data = (const char *) r->args.data;
        req->query_string.len = r->args.len;
    }

    req->remote_user = ngx_http_sticky_ajp_absent;
    req->auth_type = ngx_http_sticky_ajp_absent;
    req->ssl_key_size = -1;

    if (ctx->conf->remote_user) {
        if (ngx_http_complex_value(r, ctx->conf->remote_user, &user)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (user.len) {
            req->remote_user.data = (const char *) user.data;
            req->remote_user.len = user.len;
            req->auth_type.data = "Basic";
            req->auth_type.len = sizeof("Basic") - 1;

            if (ctx->conf->auth_type) {
                if (ngx_http_complex_value(r, ctx->conf->auth_type, &s)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                req->auth_type.data = (const char *) s.data;
                req->auth_type.len = s.len;
            }
        }
    }

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        return ngx_http_sticky_ajp_ssl(r, req);
    }
#endif

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

/*
 * The TLS facts of the client's connection. The client certificate is
 * passed on only when nginx verified it (ssl_verify_client on, or optional
 * with a good certificate): Tomcat takes it as the user's identity.
 */
static ngx_int_t
ngx_http_sticky_ajp_ssl(ngx_http_request_t *r, sticky_ajp_request_t *req)
{
    ngx_str_t          s;
    ngx_connection_t  *c;
    const SSL_CIPHER  *cipher;

    c = r->connection;
    req->is_ssl = 1;

    /* nginx's getters of static texts set only the pointer */
#define ngx_http_sticky_ajp_ssl_text(get, field, nul_terminated)             \
    ngx_str_null(&s);                                                        \
    if (get(c, r->pool, &s) != NGX_OK) {                                     \
        return NGX_ERROR;                                                    \
    }                                                                        \
    if (nul_terminated && s.data) {                                          \
        s.len = ngx_strlen(s.data);                                          \
    }                                                                        \
    if (s.len) {                                                             \
        req->field.data = (const char *) s.data;                             \
        req->field.len = s.len;                                              \
    }

    ngx_http_sticky_ajp_ssl_text(ngx_ssl_get_cipher_name, ssl_cipher, 1);
    ngx_http_sticky_ajp_ssl_text(ngx_ssl_get_session_id, ssl_session, 0);
    ngx_http_sticky_ajp_ssl_text(ngx_ssl_get_protocol, ssl_protocol, 1);

    ngx_str_null(&s);

    if (ngx_ssl_get_client_verify(c, r->pool, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s.len == sizeof("SUCCESS") - 1
        && ngx_strncmp(s.data, "SUCCESS", s.len) == 0)
    {
        ngx_http_sticky_ajp_ssl_text(ngx_ssl_get_raw_certificate, ssl_cert, 0);
    }

#undef ngx_http_sticky_ajp_ssl_text

    cipher = SSL_get_current_cipher(c->ssl->connection);
    if (cipher) {
        req->ssl_key_size = SSL_CIPHER_get_bits(cipher, NULL);
    }

    return NGX_OK;
}

#endif


/* ajp_param: request attributes, values with variables evaluated. */
static ngx_int_t
ngx_http_sticky_ajp_params(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, sticky_ajp_request_t *req)
{
    ngx_str_t                     value;
    ngx_uint_t                    i, n;
    sticky_ajp_pair_t            *pair;
    ngx_http_sticky_ajp_param_t  *param;

    if (ctx->conf->params == NULL) {
        return NGX_OK;
    }

    param = ctx->conf->params->elts;
    n = ctx->conf->params->nelts;

    pair = ngx_palloc(r->pool, n * sizeof(sticky_ajp_pair_t));
    if (pair == NULL) {
        return NGX_ERROR;
    }

    req->attributes = pair;

    for (i = 0; i < n; i++) {
        if (ngx_http_complex_value(r, &param[i].value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len == 0 && param[i].skip_empty) {
            continue;
        }

        pair->name.data = (const char *) param[i].name.data;
        pair->name.len = param[i].name.len;
        pair->value.data = (const char *) value.data;
        pair->value.len = value.len;
        pair++;
    }

    req->nattributes = pair - (sticky_ajp_pair_t *) req->attributes;

    return NGX_OK;
}
