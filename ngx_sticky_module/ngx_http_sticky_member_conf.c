/*
 * A member's own settings from workers.properties: reply_timeout and
 * socket_connect_timeout (each replaces the location's proxy_read_timeout or
 * proxy_connect_timeout for attempts on that member) and socket_keepalive,
 * read at configuration time; and the copies of a location's upstream
 * settings with those timeouts, made once per worker process and location.
 */

#include "ngx_http_sticky_module.h"


/*
 * The upstream settings of the location `location` as each member's
 * attempts use them: a copy with the member's own timeouts, or the
 * location's own settings. Made on first use in each process (from the
 * configuration's pool, whose life is the process's or the configuration's),
 * then found by the location: requests allocate nothing for them.
 */
ngx_http_upstream_conf_t **
ngx_http_sticky_member_confs(ngx_http_sticky_srv_conf_t *scf,
    ngx_http_upstream_conf_t *location, ngx_log_t *log)
{
    ngx_uint_t                        i;
    ngx_pool_t                       *pool;
    ngx_http_upstream_conf_t         *conf;
    ngx_http_sticky_member_confs_t   *mc;

    for (mc = scf->member_confs; mc; mc = mc->next) {
        if (mc->location == location) {
            return mc->member;
        }
    }

    pool = scf->cycle->pool;

    mc = ngx_palloc(pool, sizeof(ngx_http_sticky_member_confs_t));
    if (mc == NULL) {
        return NULL;
    }

    mc->member = ngx_palloc(pool,
                            scf->nmembers * sizeof(ngx_http_upstream_conf_t *));
    if (mc->member == NULL) {
        return NULL;
    }

    for (i = 0; i < scf->nmembers; i++) {

        if (scf->read_timeouts[i] == 0 && scf->connect_timeouts[i] == 0) {
            mc->member[i] = location;
            continue;
        }

        conf = ngx_palloc(pool, sizeof(ngx_http_upstream_conf_t));
        if (conf == NULL) {
            return NULL;
        }

        *conf = *location;

        if (scf->read_timeouts[i]) {
            conf->read_timeout = scf->read_timeouts[i];
        }

        if (scf->connect_timeouts[i]) {
            conf->connect_timeout = scf->connect_timeouts[i];
        }

        mc->member[i] = conf;

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                       "sticky: upstream settings of member %ui for %p "
                       "copied: read timeout %M, connect timeout %M",
                       i, location, conf->read_timeout, conf->connect_timeout);
    }

    mc->location = location;
    mc->next = scf->member_confs;
    scf->member_confs = mc;

    return mc->member;
}


/*
 * Configuration time: the members' own timeouts, mod_jk's reply_timeout
 * (the longest wait for a reply, as proxy_read_timeout) and
 * socket_connect_timeout, by member index (0 keeps the location's), and
 * socket_keepalive (SO_KEEPALIVE on the member's connections).
 */
char *
ngx_http_sticky_init_member_timeouts(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf)
{
    ngx_uint_t       i;
    sticky_member_t  m;

    scf->read_timeouts = ngx_pcalloc(cf->pool,
                                     scf->nmembers * sizeof(ngx_msec_t));
    scf->connect_timeouts = ngx_pcalloc(cf->pool,
                                        scf->nmembers * sizeof(ngx_msec_t));
    scf->socket_keepalive = ngx_pcalloc(cf->pool, scf->nmembers);

    if (scf->read_timeouts == NULL || scf->connect_timeouts == NULL
        || scf->socket_keepalive == NULL)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_sticky_size_transitions(cf, scf->nmembers) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < scf->nmembers; i++) {
        sticky_lb_member(scf->lb, i, &m);

        scf->read_timeouts[i] = m.reply_timeout;
        scf->connect_timeouts[i] = m.connect_timeout;
        scf->socket_keepalive[i] = m.socket_keepalive ? 1 : 0;

        if (m.reply_timeout || m.connect_timeout) {
            scf->member_timeouts = 1;
        }
    }

    return NGX_CONF_OK;
}
