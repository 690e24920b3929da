/*
 * Who may change state through a read_write sticky_status location, checked
 * before the body of a POST is read: only with the header X-Sticky-Admin: 1
 * (a cross-site form cannot send it), a Host that names this server (a page
 * whose own name was rebound to our address by DNS sends its own name) and,
 * when the browser sends Origin, an Origin naming that host (the
 * balancer-manager CVEs were cross-site requests); and only a form of
 * urlencoded fields, small enough.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_status.h"


static ngx_int_t ngx_http_sticky_status_origin_ok(ngx_http_request_t *r,
    ngx_str_t *origin);
static ngx_int_t ngx_http_sticky_status_host_ok(ngx_http_request_t *r);
static ngx_uint_t ngx_http_sticky_status_server_name(
    ngx_http_server_name_t *sn, ngx_str_t *host);
static ngx_int_t ngx_http_sticky_status_local_address(ngx_http_request_t *r,
    ngx_str_t *host);
static ngx_uint_t ngx_http_sticky_status_is_form(ngx_str_t *type);


/*
 * Before the body of a POST is read: the admin header, the Host, then the
 * Origin, then the type and size. NGX_DECLINED when all is well; otherwise
 * the refusal is sent here and its result returned.
 */
ngx_int_t
ngx_http_sticky_status_post_check(ngx_http_request_t *r)
{
    u_char           *p;
    ngx_str_t         origin, host;
    ngx_table_elt_t  *h;

    static const char  no_header[] =
        "changes need the header X-Sticky-Admin: 1";
    static const char  bad_host[] =
        "the Host of this request does not name this server: changes need "
        "one of its server_name, the address it was reached at, or "
        "localhost on a loopback address (a page whose name was made to "
        "resolve to this server sends its own name)";
    static const char  bad_origin[] =
        "the Origin of this request is not this host";
    static const char  too_big[] =
        "the form is too large";
    static const char  not_form[] =
        "send the form as application/x-www-form-urlencoded";

    h = ngx_http_sticky_status_header_in(r, "X-Sticky-Admin");

    if (h == NULL || h->value.len != 1 || h->value.data[0] != '1') {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: change refused, "
                      "no \"X-Sticky-Admin: 1\" header");

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r, NGX_HTTP_FORBIDDEN, 0,
                   no_header, sizeof(no_header) - 1, 1);
    }

    if (ngx_http_sticky_status_host_ok(r) != NGX_OK) {
        host = r->headers_in.server;

        p = ngx_pnalloc(r->pool, 4 * host.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        host.len = ngx_http_sticky_status_quote(p, &host) - p;
        host.data = p;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: change refused, Host \"%V\" "
                      "does not name this server", &host);

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r, NGX_HTTP_FORBIDDEN, 0,
                   bad_host, sizeof(bad_host) - 1, 1);
    }

    if (ngx_http_sticky_status_origin_ok(r, &origin) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "sticky_status: change refused, Origin \"%V\" "
                      "is not this host", &origin);

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r, NGX_HTTP_FORBIDDEN, 0,
                   bad_origin, sizeof(bad_origin) - 1, 1);
    }

    h = r->headers_in.content_type;

    if (h && !ngx_http_sticky_status_is_form(&h->value)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r,
                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, 0,
                   not_form, sizeof(not_form) - 1, 1);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_STICKY_STATUS_MAX_BODY) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_sticky_status_message(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, 0,
                   too_big, sizeof(too_big) - 1, 1);
    }

    return NGX_DECLINED;
}


/*
 * A browser sends Origin with every POST; a cross-site page cannot make it
 * name us. No Origin (curl, scripts) is fine: those cannot be forged by a
 * web page, and X-Sticky-Admin is required anyway.
 */
static ngx_int_t
ngx_http_sticky_status_origin_ok(ngx_http_request_t *r, ngx_str_t *origin)
{
    u_char           *p;
    size_t            len, hlen;
    ngx_str_t         host;
    ngx_uint_t        https;
    ngx_table_elt_t  *h;

    ngx_str_null(origin);

    h = ngx_http_sticky_status_header_in(r, "Origin");
    if (h == NULL) {
        return NGX_OK;
    }

    *origin = h->value;

    if (r->headers_in.host == NULL) {
        return NGX_ERROR;
    }

    host = r->headers_in.host->value;
    p = h->value.data;
    len = h->value.len;

    if (len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        https = 0;
        p += 7;
        len -= 7;

    } else if (len > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0) {
        https = 1;
        p += 8;
        len -= 8;

    } else {
        return NGX_ERROR;   /* "null" and the like */
    }

    /* the default port may be written in one and not in the other */
    if (https) {
        if (len > 4 && ngx_strncmp(p + len - 4, ":443", 4) == 0) {
            len -= 4;
        }

        hlen = host.len;
        if (hlen > 4 && ngx_strncmp(host.data + hlen - 4, ":443", 4) == 0) {
            host.len -= 4;
        }

    } else {
        if (len > 3 && ngx_strncmp(p + len - 3, ":80", 3) == 0) {
            len -= 3;
        }

        hlen = host.len;
        if (hlen > 3 && ngx_strncmp(host.data + hlen - 3, ":80", 3) == 0) {
            host.len -= 3;
        }
    }

    if (len != host.len || ngx_strncasecmp(p, host.data, len) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The Host must name this server, so that a page on a name its owner made
 * resolve to our address (DNS rebinding: its Origin and Host are both its
 * own name) cannot send changes: one of the server_name of the server
 * block that took the request (exact, wildcard or regular expression, as
 * nginx matches them), the address the connection came in on (with its
 * port, when the Host gives one), or "localhost" on a loopback address.
 * No Host at all (HTTP/1.0) is not a browser: X-Sticky-Admin is enough.
 */
static ngx_int_t
ngx_http_sticky_status_host_ok(ngx_http_request_t *r)
{
    ngx_str_t                    host;
    ngx_uint_t                   i;
    ngx_http_sticky_loc_conf_t  *slcf;

    /* validated by nginx: lower case, without the port and a final dot */
    host = r->headers_in.server;

    if (host.len == 0) {
        return NGX_OK;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sticky_workers_module);

    for (i = 0; i < slcf->status_nnames; i++) {
        if (ngx_http_sticky_status_server_name(&slcf->status_names[i], &host)) {
            return NGX_OK;
        }
    }

    return ngx_http_sticky_status_local_address(r, &host);
}


/* Whether `host` matches one server_name, as nginx would pick the server. */
static ngx_uint_t
ngx_http_sticky_status_server_name(ngx_http_server_name_t *sn,
    ngx_str_t *host)
{
    size_t      len;
    ngx_str_t  *name;

#if (NGX_PCRE)
    if (sn->regex) {
        return ngx_regex_exec(sn->regex->regex, host, NULL, 0) >= 0;
    }
#endif

    name = &sn->name;     /* lower case */

    if (name->len == 0) {
        return 0;
    }

    /* "*.example.org": a name below example.org */
    if (name->len > 2 && name->data[0] == '*' && name->data[1] == '.') {
        len = name->len - 1;
        return host->len > len
               && ngx_strncmp(host->data + host->len - len, name->data + 1,
                              len) == 0;
    }

    /* ".example.org": example.org and every name below it */
    if (name->len > 1 && name->data[0] == '.') {
        len = name->len - 1;

        if (host->len == len) {
            return ngx_strncmp(host->data, name->data + 1, len) == 0;
        }

        return host->len > name->len
               && ngx_strncmp(host->data + host->len - name->len, name->data,
                              name->len) == 0;
    }

    /* "www.example.*" */
    if (name->len > 2 && name->data[name->len - 1] == '*'
        && name->data[name->len - 2] == '.')
    {
        len = name->len - 1;
        return host->len > len && ngx_strncmp(host->data, name->data, len) == 0;
    }

    return host->len == name->len
           && ngx_strncmp(host->data, name->data, name->len) == 0;
}


/*
 * The address the connection came in on, written as a Host (an IPv4
 * address or a bracketed IPv6 one, compared as addresses), with the port
 * when the Host gives one; or "localhost" when that address is a loopback.
 */
static ngx_int_t
ngx_http_sticky_status_local_address(ngx_http_request_t *r, ngx_str_t *host)
{
    u_char               *p, *last;
    in_addr_t             addr, local;
    ngx_int_t             port;
    ngx_uint_t            loopback;
    ngx_str_t            *value;
    struct sockaddr      *sa;
    ngx_connection_t     *c;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    u_char                addr6[16];
    struct in6_addr      *local6;
    struct sockaddr_in6  *sin6;
#endif

    c = r->connection;

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    sa = c->local_sockaddr;
    local = INADDR_NONE;
    loopback = 0;
#if (NGX_HAVE_INET6)
    local6 = NULL;
#endif

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        local = sin->sin_addr.s_addr;
        loopback = (ntohl(local) >> 24) == 127;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        local6 = &sin6->sin6_addr;

        if (IN6_IS_ADDR_V4MAPPED(local6)) {
            ngx_memcpy(&local, &local6->s6_addr[12], 4);
            loopback = local6->s6_addr[12] == 127;

        } else {
            loopback = IN6_IS_ADDR_LOOPBACK(local6);
        }

        break;
#endif

    default:                /* a unix-domain socket has no address to name */
        return NGX_ERROR;
    }

    if (host->len == sizeof("localhost") - 1
        && ngx_strncmp(host->data, "localhost", sizeof("localhost") - 1) == 0)
    {
        return loopback ? NGX_OK : NGX_ERROR;
    }

    if (host->len > 2 && host->data[0] == '[') {
#if (NGX_HAVE_INET6)
        if (local6 == NULL
            || host->data[host->len - 1] != ']'
            || ngx_inet6_addr(host->data + 1, host->len - 2, addr6) != NGX_OK
            || ngx_memcmp(addr6, local6->s6_addr, 16) != 0)
        {
            return NGX_ERROR;
        }
#else
        return NGX_ERROR;
#endif

    } else {
        addr = ngx_inet_addr(host->data, host->len);

        if (addr == INADDR_NONE || local == INADDR_NONE || addr != local) {
            return NGX_ERROR;
        }
    }

    /* the port, when the Host header (or the request line) gives one */
    if (r->headers_in.host == NULL) {
        return NGX_OK;
    }

    value = &r->headers_in.host->value;
    p = value->data;
    last = p + value->len;

    if (p < last && *p == '[') {
        p = ngx_strlchr(p, last, ']');
        if (p == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_strlchr(p, last, ':');
    if (p == NULL || p + 1 == last) {
        return NGX_OK;
    }

    port = ngx_atoi(p + 1, last - p - 1);

    return port == (ngx_int_t) ngx_inet_get_port(sa) ? NGX_OK : NGX_ERROR;
}


/*
 * "application/x-www-form-urlencoded", in any case, alone or with
 * parameters ("; charset=UTF-8"); nothing else.
 */
static ngx_uint_t
ngx_http_sticky_status_is_form(ngx_str_t *type)
{
    u_char  *p, *last;

    static const char  form[] = "application/x-www-form-urlencoded";

    p = type->data;
    last = p + type->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if ((size_t) (last - p) < sizeof(form) - 1
        || ngx_strncasecmp(p, (u_char *) form, sizeof(form) - 1) != 0)
    {
        return 0;
    }

    p += sizeof(form) - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p == last || *p == ';';
}
