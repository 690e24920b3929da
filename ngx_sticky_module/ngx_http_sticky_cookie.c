/*
 * mod_jk's set_session_cookie: on an answer that did not go to its
 * session's member (a new session, or a failover), tell the client the
 * route it now has, as `Set-Cookie: JSESSIONID=.ROUTE; Path=/; HttpOnly`
 * and the attributes of sticky_workers' cookie_* parameters (the core
 * writes them once, checked: `; Secure` over TLS by default). It is for
 * applications whose session ids carry no jvmRoute.
 *
 * Better than mod_jk: when the backend sets that cookie itself (Tomcat does
 * on a new session, with its own jvmRoute), ours would compete with it in
 * the browser, so it is not added.
 */

#include "ngx_http_sticky_module.h"


static ngx_uint_t ngx_http_sticky_backend_sets(ngx_http_request_t *r,
    ngx_str_t *name);


/* Called from the header filter for a response of a balanced request. */
ngx_int_t
ngx_http_sticky_set_session_cookie(ngx_http_request_t *r,
    ngx_http_sticky_peer_data_t *sp)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         name, attributes, route;
    sticky_str_t      n, plain, tls, ro;
    ngx_table_elt_t  *h;

    if (sp->attempts == 0
        || sp->decision.verdict != STICKY_PICK_MEMBER
        || sp->decision.sticky_hit
        || r != r->main
        || !sticky_balancer_session_cookie(sp->conf->balancer, &n, &plain,
                                           &tls))
    {
        return NGX_OK;
    }

    ro = sticky_balancer_member_route(sp->conf->balancer, sp->decision.member);

    name.data = (u_char *) n.data;
    name.len = n.len;
    route.data = (u_char *) ro.data;
    route.len = ro.len;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        plain = tls;
    }
#endif

    attributes.data = (u_char *) plain.data;
    attributes.len = plain.len;

    if (ngx_http_sticky_backend_sets(r, &name)) {
        return NGX_OK;
    }

    len = name.len + sizeof("=.") - 1 + route.len + attributes.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;

    p = ngx_sprintf(p, "%V=.%V%V", &name, &route, &attributes);

    h->value.len = p - h->value.data;

    return NGX_OK;
}


/* Whether the response already sets the cookie `name`. */
static ngx_uint_t
ngx_http_sticky_backend_sets(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len != sizeof("Set-Cookie") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Set-Cookie",
                               sizeof("Set-Cookie") - 1) != 0)
        {
            continue;
        }

        if (h[i].value.len > name->len
            && ngx_strncmp(h[i].value.data, name->data, name->len) == 0
            && h[i].value.data[name->len] == '=')
        {
            return 1;
        }
    }
}
