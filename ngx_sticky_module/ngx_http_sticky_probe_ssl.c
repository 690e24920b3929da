/*
 * Active probes over TLS. The members of an upstream that a
 * proxy_pass https:// uses answer in TLS only, so their probes speak it
 * too, with the settings of that location: its SSL context (the protocols,
 * ciphers, trusted certificates, CRL, client certificate and
 * proxy_ssl_conf_command are all in it), proxy_ssl_server_name and
 * proxy_ssl_name for SNI, proxy_ssl_verify. No session is reused: each probe
 * makes a full handshake, as a new client would.
 *
 * Configuration time: merge_loc_conf hands every location here, and the
 * first one that reaches a sticky_workers upstream with probe=URI over
 * https:// gives its settings to the probes of that upstream.
 *
 * Probe time: once connected, the TLS connection, SNI, a non-blocking
 * handshake (probe_timeout covers it), the verification, then the request
 * and the status line through c->send and c->recv as over plain TCP
 * (ngx_http_sticky_probe.c).
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_probe.h"


#if (NGX_HTTP_SSL)

static char *ngx_http_sticky_probe_ssl_use(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf, ngx_http_upstream_conf_t *ulcf,
    ngx_str_t *location);
static ngx_uint_t ngx_http_sticky_probe_ssl_same(ngx_http_upstream_conf_t *a,
    ngx_http_upstream_conf_t *b);
static ngx_uint_t ngx_http_sticky_probe_ssl_same_value(
    ngx_http_complex_value_t *a, ngx_http_complex_value_t *b);
static void ngx_http_sticky_probe_ssl_plain_notice(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf);
static ngx_int_t ngx_http_sticky_probe_ssl_connected(ngx_connection_t *c);
static void ngx_http_sticky_probe_ssl_handler(ngx_event_t *ev);
static void ngx_http_sticky_probe_ssl_handshake(ngx_http_sticky_probe_t *pr);


/*
 * Called by merge_loc_conf for every location, with cf->ctx holding the
 * location's configurations. The proxy module is looked up by name rather
 * than linked to (nginx may be built without it), and only before this
 * module in cycle->modules: nginx merges one module at a time in that
 * order, so only then is its merge of this location done.
 *
 * Its location configuration, ngx_http_proxy_loc_conf_t, begins with
 * `ngx_http_upstream_conf_t upstream` (nginx 1.22.1,
 * src/http/modules/ngx_http_proxy_module.c); nothing after that member is
 * read. upstream.upstream is the upstream of a proxy_pass without
 * variables, and upstream.ssl is set only when that proxy_pass is https://
 * (ngx_http_proxy_set_ssl(); "if" and "limit_except" blocks share their
 * location's): ngx_http_proxy_handler() decides on TLS by it as well.
 */
char *
ngx_http_sticky_probe_ssl_location(ngx_conf_t *cf)
{
    ngx_uint_t                     i;
    ngx_module_t                 **modules;
    ngx_http_conf_ctx_t           *ctx;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_upstream_conf_t      *ulcf;
    ngx_http_sticky_srv_conf_t    *scf;
    ngx_http_upstream_srv_conf_t  *uscf;

    modules = cf->cycle->modules;

    for (i = 0;
         modules[i] && modules[i] != &ngx_http_sticky_workers_module;
         i++)
    {
        if (modules[i]->type == NGX_HTTP_MODULE
            && ngx_strcmp(modules[i]->name, "ngx_http_proxy_module") == 0)
        {
            break;
        }
    }

    if (modules[i] == NULL || modules[i] == &ngx_http_sticky_workers_module) {
        return NGX_CONF_OK;
    }

    ctx = cf->ctx;
    ulcf = ctx->loc_conf[modules[i]->ctx_index];
    uscf = ulcf->upstream;

    /* no proxy_pass, one to a host, or one with variables */
    if (uscf == NULL || uscf->srv_conf == NULL) {
        return NGX_CONF_OK;
    }

    scf = ngx_http_conf_upstream_srv_conf(uscf, ngx_http_sticky_workers_module);

    if (scf->balancer == NULL || scf->probe_uri.len == 0) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (ulcf->ssl == NULL) {

        if (scf->probe_plain_location.data == NULL) {
            scf->probe_plain_location = clcf->name;

            if (scf->probe_ssl) {
                ngx_http_sticky_probe_ssl_plain_notice(cf, scf);
            }
        }

        return NGX_CONF_OK;
    }

    if (scf->probe_ssl == NULL) {
        return ngx_http_sticky_probe_ssl_use(cf, scf, ulcf, &clcf->name);
    }

    if (!scf->probe_ssl_noted
        && !ngx_http_sticky_probe_ssl_same(scf->probe_ssl, ulcf))
    {
        scf->probe_ssl_noted = 1;

        ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                      "upstream \"%V\" is used by \"proxy_pass https://\" "
                      "in locations \"%V\" and \"%V\" with different TLS "
                      "settings: its probes use those of location \"%V\"",
                      &uscf->host, &scf->probe_ssl_location, &clcf->name,
                      &scf->probe_ssl_location);
    }

    return NGX_CONF_OK;
}


/*
 * The probes of the upstream take the settings of this location. The name
 * is the one ngx_http_upstream_ssl_name() gives a request: proxy_ssl_name,
 * else the upstream's name, without a port; a proxy_ssl_name with
 * variables has no value without a request, so the upstream's name is
 * used then.
 */
static char *
ngx_http_sticky_probe_ssl_use(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf,
    ngx_http_upstream_conf_t *ulcf, ngx_str_t *location)
{
    u_char                        *p, *last;
    ngx_str_t                      name;
    ngx_http_upstream_srv_conf_t  *uscf;

    uscf = ulcf->upstream;

    scf->probe_ssl = ulcf;
    scf->probe_ssl_location = *location;

    if (scf->probe_plain_location.data) {
        ngx_http_sticky_probe_ssl_plain_notice(cf, scf);
    }

    if (ulcf->ssl_name && ulcf->ssl_name->lengths == NULL) {
        name = ulcf->ssl_name->value;

    } else {
        name = uscf->host;

        if (ulcf->ssl_name && (ulcf->ssl_server_name || ulcf->ssl_verify)) {
            ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                          "the probes of upstream \"%V\" use the name "
                          "\"%V\" for TLS: \"proxy_ssl_name %V\" in "
                          "location \"%V\" has variables",
                          &uscf->host, &uscf->host, &ulcf->ssl_name->value,
                          location);
        }
    }

    if (ulcf->ssl_certificate
        && (ulcf->ssl_certificate->lengths
            || (ulcf->ssl_certificate_key
                && ulcf->ssl_certificate_key->lengths)))
    {
        ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                      "the probes of upstream \"%V\" send no client "
                      "certificate: \"proxy_ssl_certificate\" in location "
                      "\"%V\" has variables",
                      &uscf->host, location);
    }

    if (name.len) {
        p = name.data;
        last = name.data + name.len;

        if (*p == '[') {
            p = ngx_strlchr(p, last, ']');

            if (p == NULL) {
                p = name.data;
            }
        }

        p = ngx_strlchr(p, last, ':');

        if (p != NULL) {
            name.len = p - name.data;
        }
    }

    /* null-terminated for SSL_set_tlsext_host_name() */
    scf->probe_ssl_name.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (scf->probe_ssl_name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn(scf->probe_ssl_name.data, name.data, name.len + 1);
    scf->probe_ssl_name.len = name.len;

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

    /* as per RFC 6066, literal IPv4 and IPv6 addresses are not sent */
    scf->probe_ssl_sni = ulcf->ssl_server_name
                         && name.len && name.data[0] != '['
                         && ngx_inet_addr(name.data, name.len) == INADDR_NONE;

#endif

    /*
     * The Host header names what SNI names: a server that serves several
     * names may refuse a request whose Host differs (421).
     */
    if (scf->probe_ssl_sni) {
        return ngx_http_sticky_probe_requests(cf, scf, &scf->probe_ssl_name);
    }

    return NGX_CONF_OK;
}


/*
 * Whether two locations' TLS settings agree as far as the probes can tell:
 * those in ngx_http_upstream_conf_t. The others (protocols, ciphers,
 * trusted certificates) are in the proxy module's own part of its
 * configuration, which is not read.
 */
static ngx_uint_t
ngx_http_sticky_probe_ssl_same(ngx_http_upstream_conf_t *a,
    ngx_http_upstream_conf_t *b)
{
    return a->ssl_server_name == b->ssl_server_name
           && a->ssl_verify == b->ssl_verify
           && ngx_http_sticky_probe_ssl_same_value(a->ssl_name, b->ssl_name)
           && ngx_http_sticky_probe_ssl_same_value(a->ssl_certificate,
                                                   b->ssl_certificate)
           && ngx_http_sticky_probe_ssl_same_value(a->ssl_certificate_key,
                                                   b->ssl_certificate_key);
}


static ngx_uint_t
ngx_http_sticky_probe_ssl_same_value(ngx_http_complex_value_t *a,
    ngx_http_complex_value_t *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return a->value.len == b->value.len
           && ngx_strncmp(a->value.data, b->value.data, a->value.len) == 0;
}


static void
ngx_http_sticky_probe_ssl_plain_notice(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf)
{
    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "upstream \"%V\" is used by \"proxy_pass https://\" in "
                  "location \"%V\" and by \"proxy_pass http://\" in location "
                  "\"%V\": its probes use TLS, with the settings of "
                  "location \"%V\"",
                  &scf->upstream->host, &scf->probe_ssl_location,
                  &scf->probe_plain_location, &scf->probe_ssl_location);
}


/*
 * Called once connected (the first write event, or at once). A refused
 * connect shows here, before any TLS: it fails as over plain TCP.
 */
void
ngx_http_sticky_probe_ssl_start(ngx_http_sticky_probe_t *pr)
{
    ngx_connection_t            *c;
    ngx_http_sticky_srv_conf_t  *scf;

    c = pr->peer.connection;
    scf = pr->conf;

    if (ngx_http_sticky_probe_ssl_connected(c) != NGX_OK) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED, "connect failed",
                                   0);
        return;
    }

    if (ngx_ssl_create_connection(scf->probe_ssl->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_ABANDONED, NULL, 0);
        return;
    }

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

    if (scf->probe_ssl_sni
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) scf->probe_ssl_name.data)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                      "SSL_set_tlsext_host_name(\"%s\") failed",
                      scf->probe_ssl_name.data);
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_ABANDONED, NULL, 0);
        return;
    }

#endif

    ngx_http_sticky_probe_ssl_handshake(pr);
}


static ngx_int_t
ngx_http_sticky_probe_ssl_connected(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "connect() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* The handshake goes on; a quitting process closes the probe (c->close). */
static void
ngx_http_sticky_probe_ssl_handler(ngx_event_t *ev)
{
    ngx_http_sticky_probe_t  *pr;

    pr = ngx_http_sticky_probe_of(ev);
    if (pr == NULL) {
        return;
    }

    ngx_http_sticky_probe_ssl_handshake(pr);
}


/*
 * A step of the handshake; once done, the verification as
 * proxy_ssl_verify does it, then the request.
 */
static void
ngx_http_sticky_probe_ssl_handshake(ngx_http_sticky_probe_t *pr)
{
    long                         verify;
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_connection_t            *c;
    ngx_http_sticky_srv_conf_t  *scf;

    c = pr->peer.connection;
    scf = pr->conf;

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        /* in place of ngx_ssl_handshake_handler, which ignores c->close */
        c->read->handler = ngx_http_sticky_probe_ssl_handler;
        c->write->handler = ngx_http_sticky_probe_ssl_handler;
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                   "TLS handshake failed", 0);
        return;
    }

    if (scf->probe_ssl->ssl_verify) {
        verify = SSL_get_verify_result(c->ssl->connection);

        if (verify != X509_V_OK) {
            p = ngx_snprintf(pr->reason, sizeof(pr->reason) - 1,
                             "certificate verify failed: (%l:%s)",
                             verify, X509_verify_cert_error_string(verify));
            *p = '\0';

            ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                       (const char *) pr->reason, 0);
            return;
        }

        if (ngx_ssl_check_host(c, &scf->probe_ssl_name) != NGX_OK) {
            p = ngx_snprintf(pr->reason, sizeof(pr->reason) - 1,
                             "certificate verify failed: certificate does "
                             "not match \"%V\"", &scf->probe_ssl_name);
            *p = '\0';

            ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                       (const char *) pr->reason, 0);
            return;
        }
    }

    c->read->handler = ngx_http_sticky_probe_read;
    c->write->handler = ngx_http_sticky_probe_write;

    ngx_http_sticky_probe_write(c->write);
}


/*
 * Before the close, on every path. A probe that read its status line sends
 * close_notify; none waits for the peer's. A probe cut short sends nothing.
 */
void
ngx_http_sticky_probe_ssl_close(ngx_connection_t *c, ngx_uint_t clean)
{
    c->ssl->no_wait_shutdown = 1;

    if (!clean) {
        c->ssl->no_send_shutdown = 1;
    }

    if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
        /* the alert does not fit in the socket's buffer: it is dropped */
        c->error = 1;
        (void) ngx_ssl_shutdown(c);
    }
}

#endif /* NGX_HTTP_SSL */
