/*
 * The sticky_workers directive:
 *
 *     sticky_workers FILE [lb=NAME | worker=NAME] [probe=URI]
 *         [probe_interval=TIME] [probe_timeout=TIME] [probe_passes=N]
 *         [probe_fails=N] [slow_start=TIME] [cookie_domain=DOMAIN]
 *         [cookie_path=PATH] [cookie_samesite=strict|lax|none]
 *         [cookie_secure=on|off|auto] [sessions_window=TIME];
 *
 * Its parameters are one table, read in one place; what the file says is
 * read by _workers.c, which creates the upstream's servers.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_ajp.h"


typedef enum {
    NGX_HTTP_STICKY_PARAM_NAME = 0,     /* ngx_str_t, not empty */
    NGX_HTTP_STICKY_PARAM_URI,          /* ngx_str_t: "/...", no space */
    NGX_HTTP_STICKY_PARAM_MSEC,         /* uint64_t ms, a time */
    NGX_HTTP_STICKY_PARAM_COUNT,        /* unsigned, min .. 65535 */
    NGX_HTTP_STICKY_PARAM_MINUTES,      /* unsigned minutes: a time of whole
                                           minutes, 0 .. 60m */
    NGX_HTTP_STICKY_PARAM_COOKIE        /* sticky_str_t, checked by the core */
} ngx_http_sticky_param_type_e;


typedef struct {
    ngx_str_t                      name;       /* with its '=' */
    ngx_http_sticky_param_type_e   type;
    size_t                         offset;     /* in the srv conf */
    ngx_uint_t                     min;        /* least value allowed */
    unsigned                       probes:1;   /* turns active probes on */
    unsigned                       probe:1;    /* needs probe= */
} ngx_http_sticky_param_t;


#define NGX_HTTP_STICKY_OFFSET(field)                                         \
    offsetof(ngx_http_sticky_srv_conf_t, field)

static ngx_http_sticky_param_t  ngx_http_sticky_params[] = {
    { ngx_string("lb="), NGX_HTTP_STICKY_PARAM_NAME,
      NGX_HTTP_STICKY_OFFSET(lb_name), 0, 0, 0 },
    /* the same, for an ajp13 worker mounted directly */
    { ngx_string("worker="), NGX_HTTP_STICKY_PARAM_NAME,
      NGX_HTTP_STICKY_OFFSET(lb_name), 0, 0, 0 },
    { ngx_string("probe="), NGX_HTTP_STICKY_PARAM_URI,
      NGX_HTTP_STICKY_OFFSET(probe_uri), 0, 1, 0 },
    { ngx_string("probe_interval="), NGX_HTTP_STICKY_PARAM_MSEC,
      NGX_HTTP_STICKY_OFFSET(health.interval_ms), 1, 0, 1 },
    { ngx_string("probe_timeout="), NGX_HTTP_STICKY_PARAM_MSEC,
      NGX_HTTP_STICKY_OFFSET(health.timeout_ms), 1, 0, 1 },
    { ngx_string("probe_passes="), NGX_HTTP_STICKY_PARAM_COUNT,
      NGX_HTTP_STICKY_OFFSET(health.passes), 1, 0, 1 },
    { ngx_string("probe_fails="), NGX_HTTP_STICKY_PARAM_COUNT,
      NGX_HTTP_STICKY_OFFSET(health.fails), 0, 0, 1 },
    { ngx_string("slow_start="), NGX_HTTP_STICKY_PARAM_MSEC,
      NGX_HTTP_STICKY_OFFSET(health.slow_start_ms), 0, 0, 0 },
    /* the lb's own cookie (set_session_cookie) */
    { ngx_string("cookie_domain="), NGX_HTTP_STICKY_PARAM_COOKIE,
      NGX_HTTP_STICKY_OFFSET(cookie.domain), 0, 0, 0 },
    { ngx_string("cookie_path="), NGX_HTTP_STICKY_PARAM_COOKIE,
      NGX_HTTP_STICKY_OFFSET(cookie.path), 0, 0, 0 },
    { ngx_string("cookie_samesite="), NGX_HTTP_STICKY_PARAM_COOKIE,
      NGX_HTTP_STICKY_OFFSET(cookie.samesite), 0, 0, 0 },
    { ngx_string("cookie_secure="), NGX_HTTP_STICKY_PARAM_COOKIE,
      NGX_HTTP_STICKY_OFFSET(cookie.secure), 0, 0, 0 },
    /* distinct sessions per member are counted over this time; 0: not */
    { ngx_string("sessions_window="), NGX_HTTP_STICKY_PARAM_MINUTES,
      NGX_HTTP_STICKY_OFFSET(health.sessions_window), 0, 0, 0 },
    { ngx_null_string, 0, 0, 0, 0, 0 }
};


static ngx_int_t ngx_http_sticky_param(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf, ngx_str_t *value);


char *
ngx_http_sticky_workers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sticky_srv_conf_t  *scf = conf;

    char                          *rv;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_sticky_srv_conf_t   **scfp;
    ngx_http_sticky_main_conf_t   *smcf;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (scf->file.data != NULL) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream
        && uscf->peer.init_upstream != ngx_http_sticky_ajp_init_undefined)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    if (uscf->servers->nelts > 0) {
        return "cannot be combined with \"server\" directives";
    }

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_http_sticky_param(cf, scf, &value[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    /* a relative path is resolved as "include" resolves it */
    scf->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &scf->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_sticky_init_upstream;
    uscf->flags = NGX_HTTP_UPSTREAM_CREATE;

    rv = ngx_http_sticky_load_workers(cf, uscf, scf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    sticky_balancer_set_health(scf->balancer, &scf->health);

    rv = ngx_http_sticky_init_member_timeouts(cf, scf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_sticky_workers_module);

    scfp = ngx_array_push(&smcf->upstreams);
    if (scfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *scfp = scf;

    return ngx_http_sticky_init_probes(cf, scf);
}


/* One NAME=VALUE of the table; NGX_ERROR when unknown or invalid (a cookie
 * option's reason is logged before). */
static ngx_int_t
ngx_http_sticky_param(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf,
    ngx_str_t *value)
{
    u_char                   *p, *field;
    ngx_int_t                 n;
    ngx_str_t                 s;
    sticky_error_t            err;
    ngx_http_sticky_param_t  *param;

    for (param = ngx_http_sticky_params; param->name.len; param++) {
        if (value->len > param->name.len
            && ngx_strncmp(value->data, param->name.data, param->name.len)
               == 0)
        {
            break;
        }
    }

    if (param->name.len == 0) {
        return NGX_ERROR;
    }

    s.data = value->data + param->name.len;
    s.len = value->len - param->name.len;
    field = (u_char *) scf + param->offset;

    switch (param->type) {

    case NGX_HTTP_STICKY_PARAM_NAME:
        *(ngx_str_t *) field = s;
        break;

    case NGX_HTTP_STICKY_PARAM_URI:
        if (s.data[0] != '/') {
            return NGX_ERROR;
        }

        for (p = s.data; p < s.data + s.len; p++) {
            if (*p <= ' ' || *p == 0x7f) {
                return NGX_ERROR;
            }
        }

        *(ngx_str_t *) field = s;
        break;

    case NGX_HTTP_STICKY_PARAM_MSEC:
        n = ngx_parse_time(&s, 0);

        if (n == NGX_ERROR || n < (ngx_int_t) param->min) {
            return NGX_ERROR;
        }

        *(uint64_t *) field = (uint64_t) n;
        break;

    case NGX_HTTP_STICKY_PARAM_COUNT:
        n = ngx_atoi(s.data, s.len);

        if (n == NGX_ERROR || n < (ngx_int_t) param->min || n > 65535) {
            return NGX_ERROR;
        }

        *(unsigned *) field = (unsigned) n;
        break;

    case NGX_HTTP_STICKY_PARAM_MINUTES:
        n = ngx_parse_time(&s, 1);

        if (n == NGX_ERROR || n % 60 != 0 || n > 3600) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V%V is not whole minutes from 0 (off) "
                               "to 60m", &param->name, &s);
            return NGX_ERROR;
        }

        *(unsigned *) field = (unsigned) (n / 60);
        break;

    case NGX_HTTP_STICKY_PARAM_COOKIE:
        /* the option's name: between "cookie_" and '=' */
        if (sticky_cookie_option_check((char *) param->name.data + 7,
                                       param->name.len - 8,
                                       (char *) s.data, s.len, &err)
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err.message);
            return NGX_ERROR;
        }

        ((sticky_str_t *) field)->data = (char *) s.data;
        ((sticky_str_t *) field)->len = s.len;
        break;
    }

    if (param->probes) {
        scf->health.probes = 1;
    }

    if (param->probe) {
        scf->probe_params = 1;
    }

    return NGX_OK;
}
