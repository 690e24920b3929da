/*
 * Configuration time: read workers.properties through the core, log what the
 * core says of it, and turn the members of the chosen lb worker into the
 * upstream's servers, exactly as `server` lines would have.
 */

#include "ngx_http_sticky_module.h"


static ngx_int_t ngx_http_sticky_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *text);
static ngx_int_t ngx_http_sticky_log_diagnostics(ngx_conf_t *cf,
    sticky_config_t *config);
static void ngx_http_sticky_free_config(void *data);
static void ngx_http_sticky_free_balancer(void *data);
static ngx_int_t ngx_http_sticky_add_server(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf, ngx_http_sticky_srv_conf_t *scf,
    sticky_member_t *m);


char *
ngx_http_sticky_load_workers(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf, ngx_http_sticky_srv_conf_t *scf)
{
    size_t               i, n;
    ngx_str_t            text, lb;
    sticky_str_t         name, attributes, tls_attributes;
    sticky_error_t       err;
    sticky_member_t      m;
    ngx_pool_cleanup_t  *cln;

    if (ngx_http_sticky_read_file(cf, &scf->file, &text) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    if (sticky_config_load((char *) scf->file.data, scf->file.len,
                           (char *) text.data, text.len, &scf->config, &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err.message);
        return NGX_CONF_ERROR;
    }

    /* the model lives as long as the configuration that uses it */
    cln->handler = ngx_http_sticky_free_config;
    cln->data = scf->config;

    if (ngx_http_sticky_log_diagnostics(cf, scf->config) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid workers file \"%V\"", &scf->file);
        return NGX_CONF_ERROR;
    }

    if (sticky_config_lb(scf->config, (char *) scf->lb_name.data,
                         scf->lb_name.len, &scf->lb, &err)
        != 0)
    {
        /* the message names the file */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err.message);
        return NGX_CONF_ERROR;
    }

    if (sticky_balancer_create(scf->config, scf->lb, &scf->balancer, &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err.message);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_sticky_free_balancer;
    cln->data = scf->balancer;

    if (sticky_balancer_set_cookie(scf->balancer, &scf->cookie, &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"", err.message,
                           &scf->file);
        return NGX_CONF_ERROR;
    }

    scf->session_cookie = sticky_balancer_session_cookie(scf->balancer,
                                                         &name, &attributes,
                                                         &tls_attributes);

    n = sticky_lb_members(scf->lb);

    scf->peers = ngx_pcalloc(cf->pool, n * sizeof(ngx_http_upstream_rr_peer_t *));
    if (scf->peers == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        sticky_lb_member(scf->lb, i, &m);

        if (ngx_http_sticky_add_server(cf, uscf, scf, &m) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    scf->nmembers = n;
    scf->upstream = uscf;

    if (ngx_http_sticky_add_zone(cf, scf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lb.data = (u_char *) sticky_lb_name(scf->lb).data;
    lb.len = sticky_lb_name(scf->lb).len;

    ngx_conf_log_error(NGX_LOG_INFO, cf, 0,
                       "upstream \"%V\" uses lb worker \"%V\" of \"%V\" "
                       "with %uz members", &uscf->host, &lb, &scf->file, n);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_sticky_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *text)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *name;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    text->len = (size_t) ngx_file_size(&fi);
    text->data = ngx_pnalloc(cf->temp_pool, text->len + 1);
    if (text->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, text->data, text->len, 0);
    if (n == NGX_ERROR) {
        goto failed;
    }

    if ((size_t) n != text->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" changed while being read", name);
        goto failed;
    }

    ngx_close_file(fd);
    return NGX_OK;

failed:

    ngx_close_file(fd);
    return NGX_ERROR;
}


/* Logs every diagnostic at its level; NGX_ERROR if any was an error. */
static ngx_int_t
ngx_http_sticky_log_diagnostics(ngx_conf_t *cf, sticky_config_t *config)
{
    int           severity;
    size_t        i, n;
    ngx_str_t     msg;
    ngx_uint_t    level;
    sticky_str_t  text;

    n = sticky_config_diagnostics(config);

    for (i = 0; i < n; i++) {
        sticky_config_diagnostic(config, i, &severity, &text);

        msg.data = (u_char *) text.data;
        msg.len = text.len;

        level = (severity == STICKY_ERROR) ? NGX_LOG_EMERG
                : (severity == STICKY_WARNING) ? NGX_LOG_WARN
                : NGX_LOG_NOTICE;

        ngx_conf_log_error(level, cf, 0, "%V", &msg);
    }

    return sticky_config_ok(config) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_sticky_free_config(void *data)
{
    sticky_config_free(data);
}


static void
ngx_http_sticky_free_balancer(void *data)
{
    sticky_balancer_free(data);
}


/*
 * One member becomes one server, resolved now as `server` resolves names,
 * with one address: member i is then round robin peer i. Weight, activation
 * and failures are the balancer's business, kept in the shared zone; only
 * port 0 (mod_jk's way of provisioning a member that is not there yet)
 * makes a "down" server, never chosen.
 */
static ngx_int_t
ngx_http_sticky_add_server(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_sticky_srv_conf_t *scf, sticky_member_t *m)
{
    u_char                      *p;
    ngx_url_t                    u;
    ngx_str_t                    name, host;
    ngx_uint_t                   ipv6;
    ngx_http_upstream_server_t  *us;

    name.data = (u_char *) m->name.data;
    name.len = m->name.len;
    host.data = (u_char *) m->host.data;
    host.len = m->host.len;

    /* a bare IPv6 address needs brackets before ":port" */
    ipv6 = (ngx_strlchr(host.data, host.data + host.len, ':') != NULL
            && host.data[0] != '[');

    p = ngx_pnalloc(cf->pool, host.len + sizeof("[]:65535") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url.data = p;
    u.url.len = ngx_sprintf(p, ipv6 ? "[%V]:%ui" : "%V:%ui", &host,
                            (ngx_uint_t) (m->port ? m->port : 1))
                - p;
    u.default_port = 80;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in \"%V\" of worker \"%V\" at %V:%ui",
                           u.err ? u.err : "invalid address", &u.url, &name,
                           &scf->file, (ngx_uint_t) m->line);
        return NGX_ERROR;
    }

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "host \"%V\" of worker \"%V\" has %ui addresses, "
                           "using %V", &host, &name, u.naddrs,
                           &u.addrs[0].name);
    }

    us->name = u.url;
    us->addrs = u.addrs;
    us->naddrs = 1;
    us->weight = m->lbfactor;
    us->down = (m->port == 0);
    us->max_fails = 0;

    return NGX_OK;
}
