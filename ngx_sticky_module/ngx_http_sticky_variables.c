/*
 * $sticky_session_route  the route read from the request (empty: none)
 * $sticky_worker         the name of the worker the request went to
 * $sticky_route_changed  "1" when the request had a route and did not go to
 *                        its session's own worker, else "0"
 * $sticky_activation     the activation of the worker the request goes to:
 *                        A, D or S, as the status page sets it
 *
 * They describe the latest attempt of the request's upstream, and are empty
 * in a request that no sticky_workers upstream served. $sticky_activation
 * is also known before the first attempt, when nginx builds the request to
 * the upstream (proxy_set_header): it then names the worker that attempt
 * will go to, decided ahead as get() will decide it; a retry on another
 * worker keeps the request, and so the header, built for the first.
 */

#include "ngx_http_sticky_module.h"


static ngx_int_t ngx_http_sticky_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_sticky_activation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


enum {
    NGX_HTTP_STICKY_VAR_ROUTE = 0,
    NGX_HTTP_STICKY_VAR_WORKER,
    NGX_HTTP_STICKY_VAR_ROUTE_CHANGED
};


static ngx_http_variable_t  ngx_http_sticky_vars[] = {

    { ngx_string("sticky_session_route"), NULL, ngx_http_sticky_variable,
      NGX_HTTP_STICKY_VAR_ROUTE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sticky_worker"), NULL, ngx_http_sticky_variable,
      NGX_HTTP_STICKY_VAR_WORKER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sticky_route_changed"), NULL, ngx_http_sticky_variable,
      NGX_HTTP_STICKY_VAR_ROUTE_CHANGED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sticky_activation"), NULL,
      ngx_http_sticky_activation_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_sticky_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_sticky_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_sticky_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    sticky_str_t                  s;
    sticky_sessions_t             sessions;
    ngx_http_sticky_peer_data_t  *sp;

    sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);

    if (sp == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_STICKY_VAR_ROUTE:
        s = sp->decision.route;
        if (s.len == 0) {
            /* before any attempt: the first session id's (found again, as
             * the request keeps no list of them) */
            ngx_http_sticky_find_sessions(r, sp->conf, &sessions);
            if (sessions.count) {
                s = sessions.session[0].route;
            }
        }
        break;

    case NGX_HTTP_STICKY_VAR_WORKER:
        if (sp->decision.verdict != STICKY_PICK_MEMBER || sp->attempts == 0) {
            s.data = NULL;
            s.len = 0;
            break;
        }
        s = sticky_balancer_member_name(sp->conf->balancer,
                                        sp->decision.member);
        break;

    default: /* NGX_HTTP_STICKY_VAR_ROUTE_CHANGED */
        s.data = sp->decision.route_changed ? "1" : "0";
        s.len = 1;
        break;
    }

    v->data = (u_char *) s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_sticky_activation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t                      member;
    ngx_http_sticky_srv_conf_t    *scf;
    ngx_http_sticky_peer_data_t   *sp;
    ngx_http_upstream_srv_conf_t  *uscf;

    /* STICKY_ACTIVE, STICKY_DISABLED, STICKY_STOPPED */
    static u_char  letters[] = "ADS";

    sp = ngx_http_get_module_ctx(r, ngx_http_sticky_workers_module);

    if (sp && sp->attempts && sp->decision.verdict == STICKY_PICK_MEMBER) {
        scf = sp->conf;
        member = sp->decision.member;

    } else {
        /* no attempt yet: the request's upstream{}, if sticky_workers
         * balances it (an implicit upstream has no srv_conf) */
        uscf = (r->upstream && r->upstream->conf)
               ? r->upstream->conf->upstream : NULL;

        if (uscf == NULL || uscf->srv_conf == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        scf = ngx_http_conf_upstream_srv_conf(uscf,
                                              ngx_http_sticky_workers_module);
        member = scf->balancer ? ngx_http_sticky_preview_member(r, scf) : -1;
    }

    if (member < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = &letters[sticky_member_activation(scf->balancer, scf->state,
                                                (size_t) member)];
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
