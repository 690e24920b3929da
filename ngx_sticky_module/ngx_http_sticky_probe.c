/*
 * Active probes (sticky_workers FILE probe=URI ...): an HTTP/1.0 GET of URI
 * to a member, sent from the event loop by the maintenance timer of the one
 * process that claimed the member in shared memory. 2xx and 3xx pass;
 * anything else fails: a refused or timed-out connect, a broken read, a
 * status outside 200..399, no status line within probe_timeout.
 *
 * The members of an upstream that an ajp_pass uses listen on AJP ports:
 * their probe is a CPING, passed by a CPONG (mod_jk's own health check).
 * Those of an upstream that a proxy_pass https:// uses speak TLS: the probe
 * does too, with that location's settings (ngx_http_sticky_probe_ssl.c).
 *
 * A probe is an ordinary non-blocking nginx connection with a pool of its
 * own, freed when it ends. Its connection is marked idle, so a quitting or
 * reloading process closes it at once (ngx_close_idle_connections()): the
 * probe ends without a verdict and another process probes again.
 */

#include "ngx_http_sticky_module.h"
#include "ngx_http_sticky_probe.h"


#define NGX_HTTP_STICKY_PROBE_POOL  512


static void ngx_http_sticky_probe_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_sticky_probe_status(ngx_http_sticky_probe_t *pr);
static void ngx_http_sticky_probe_verdict(ngx_http_sticky_srv_conf_t *scf,
    ngx_uint_t member, ngx_log_t *log, int verdict, const char *why,
    ngx_int_t status);


/*
 * Called by the timer for a member this process claimed. Never blocks: the
 * connect is non-blocking and everything else happens in event handlers.
 */
void
ngx_http_sticky_probe(ngx_http_sticky_srv_conf_t *scf, ngx_uint_t member,
    ngx_log_t *log)
{
    ngx_int_t                    rc;
    ngx_pool_t                  *pool;
    ngx_addr_t                  *addr;
    ngx_connection_t            *c;
    ngx_http_sticky_probe_t     *pr;
    ngx_http_upstream_server_t  *server;

    pool = ngx_create_pool(NGX_HTTP_STICKY_PROBE_POOL, log);
    if (pool == NULL) {
        ngx_http_sticky_probe_verdict(scf, member, log,
                                      STICKY_PROBE_ABANDONED, NULL, 0);
        return;
    }

    pr = ngx_pcalloc(pool, sizeof(ngx_http_sticky_probe_t));
    if (pr == NULL) {
        ngx_destroy_pool(pool);
        ngx_http_sticky_probe_verdict(scf, member, log,
                                      STICKY_PROBE_ABANDONED, NULL, 0);
        return;
    }

    server = scf->upstream->servers->elts;
    addr = &server[member].addrs[0];

    pr->pool = pool;
    pr->conf = scf;
    pr->member = member;
    if (scf->ajp) {
        sticky_ajp_cping(pr->cping);
        pr->send = pr->cping;
        pr->send_end = pr->cping + STICKY_AJP_CPING_SIZE;

    } else {
        pr->send = scf->probe_requests[member].data;
        pr->send_end = pr->send + scf->probe_requests[member].len;
#if (NGX_HTTP_SSL)
        pr->ssl = (scf->probe_ssl != NULL);
#endif
    }

    pr->peer.sockaddr = addr->sockaddr;
    pr->peer.socklen = addr->socklen;
    pr->peer.name = &addr->name;
    pr->peer.get = ngx_event_get_peer;
    pr->peer.log = log;
    pr->peer.log_error = NGX_ERROR_INFO;   /* the verdict is logged instead */

    pr->timeout.handler = ngx_http_sticky_probe_timeout;
    pr->timeout.data = pr;
    pr->timeout.log = log;

    rc = ngx_event_connect_peer(&pr->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_ABANDONED,
                                   "no connection available", 0);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED, "connect failed",
                                   0);
        return;
    }

    c = pr->peer.connection;
    c->data = pr;
    c->pool = pool;
    c->read->handler = ngx_http_sticky_probe_read;
    c->write->handler = ngx_http_sticky_probe_write;
    c->idle = 1;

    ngx_add_timer(&pr->timeout, (ngx_msec_t) scf->health.timeout_ms);

    if (rc == NGX_OK) {
        ngx_http_sticky_probe_write(c->write);
    }
}


/*
 * The probe an event of its connection is for; NULL, the probe ended, when a
 * quitting process closes it (c->close).
 */
ngx_http_sticky_probe_t *
ngx_http_sticky_probe_of(ngx_event_t *ev)
{
    ngx_connection_t         *c;
    ngx_http_sticky_probe_t  *pr;

    c = ev->data;
    pr = c->data;

    if (c->close) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_ABANDONED, NULL, 0);
        return NULL;
    }

    return pr;
}


/* Connected (the first call), or the request can go on. */
void
ngx_http_sticky_probe_write(ngx_event_t *wev)
{
    ssize_t                   n;
    ngx_connection_t         *c;
    ngx_http_sticky_probe_t  *pr;

    pr = ngx_http_sticky_probe_of(wev);
    if (pr == NULL) {
        return;
    }

    c = wev->data;

    if (pr->send == pr->send_end) {
        return;   /* sent: waiting for the answer */
    }

#if (NGX_HTTP_SSL)
    if (pr->ssl && c->ssl == NULL) {
        ngx_http_sticky_probe_ssl_start(pr);
        return;
    }
#endif

    n = c->send(c, pr->send, pr->send_end - pr->send);

    if (n == NGX_ERROR) {
        ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED, "connect failed",
                                   0);
        return;
    }

    if (n > 0) {
        pr->send += n;
    }

    if (pr->send < pr->send_end) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                       "connect failed", 0);
        }

        return;
    }

    ngx_http_sticky_probe_read(c->read);
}


void
ngx_http_sticky_probe_read(ngx_event_t *rev)
{
    ssize_t                   n;
    ngx_int_t                 status;
    ngx_connection_t         *c;
    ngx_http_sticky_probe_t  *pr;

    pr = ngx_http_sticky_probe_of(rev);
    if (pr == NULL) {
        return;
    }

    c = rev->data;

    if (pr->send < pr->send_end) {
        return;   /* the request is not out yet */
    }

    for ( ;; ) {
        n = c->recv(c, pr->buf + pr->received,
                    sizeof(pr->buf) - pr->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                           "read failed", 0);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                       "no status line", 0);
            return;
        }

        pr->received += n;

        status = ngx_http_sticky_probe_status(pr);

        if (status == NGX_AGAIN) {
            continue;
        }

        if (status == NGX_ERROR) {
            ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED,
                                       pr->conf->ajp ? "no CPONG"
                                                     : "invalid status line",
                                       0);

        } else {
            ngx_http_sticky_probe_done(pr, status >= 200 && status < 400
                                           ? STICKY_PROBE_PASSED
                                           : STICKY_PROBE_FAILED,
                                       "status", status);
        }

        return;
    }
}


static void
ngx_http_sticky_probe_timeout(ngx_event_t *ev)
{
    ngx_http_sticky_probe_t  *pr = ev->data;

    const char  *why;

    why = "timed out";

#if (NGX_HTTP_SSL)
    if (pr->peer.connection->ssl && !pr->peer.connection->ssl->handshaked) {
        why = "TLS handshake timed out";
    }
#endif

    ngx_http_sticky_probe_done(pr, STICKY_PROBE_FAILED, why, 0);
}


/*
 * The status of "HTTP/x.y NNN", NGX_AGAIN while it is incomplete, or
 * NGX_ERROR when the reply is not HTTP; for AJP, 200 for a CPONG.
 */
static ngx_int_t
ngx_http_sticky_probe_status(ngx_http_sticky_probe_t *pr)
{
    int                   rc;
    u_char               *p;
    sticky_error_t        err;
    sticky_ajp_packet_t   pkt;

    p = pr->buf;

    if (pr->conf->ajp) {
        rc = sticky_ajp_read_packet(p, pr->received, STICKY_AJP_MIN_PACKET,
                                    &pkt, &err);

        if (rc == 0 && pr->received < sizeof(pr->buf)) {
            return NGX_AGAIN;
        }

        return (rc == 1 && pkt.type == STICKY_AJP_CPONG) ? NGX_HTTP_OK
                                                         : NGX_ERROR;
    }

    if (pr->received < sizeof("HTTP/1.1 200") - 1) {
        return ngx_strncmp(p, "HTTP/", ngx_min(pr->received, 5)) == 0
               ? NGX_AGAIN : NGX_ERROR;
    }

    if (ngx_strncmp(p, "HTTP/", 5) != 0 || p[8] != ' '
        || p[9] < '1' || p[9] > '5'
        || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
    {
        return NGX_ERROR;
    }

    return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}


/*
 * The probe is over: close it, free it, and report. `why` may point into
 * the probe (pr->reason), which is freed first: it is copied.
 */
void
ngx_http_sticky_probe_done(ngx_http_sticky_probe_t *pr, int verdict,
    const char *why, ngx_int_t status)
{
    u_char                       reason[NGX_HTTP_STICKY_PROBE_REASON];
    ngx_uint_t                   member;
    ngx_log_t                   *log;
    ngx_http_sticky_srv_conf_t  *scf;

    if (pr->timeout.timer_set) {
        ngx_del_timer(&pr->timeout);
    }

    if (pr->peer.connection) {

#if (NGX_HTTP_SSL)
        /* a status line came: the TLS connection is sound, close_notify */
        if (pr->peer.connection->ssl) {
            ngx_http_sticky_probe_ssl_close(pr->peer.connection, status != 0);
        }
#endif

        ngx_close_connection(pr->peer.connection);
        pr->peer.connection = NULL;
    }

    if (why) {
        (void) ngx_cpystrn(reason, (u_char *) why, sizeof(reason));
        why = (const char *) reason;
    }

    scf = pr->conf;
    member = pr->member;
    log = pr->timeout.log;

    ngx_destroy_pool(pr->pool);

    ngx_http_sticky_probe_verdict(scf, member, log, verdict, why, status);
}


/*
 * Hands a probe's verdict to the core, the zone locked for that call only,
 * and logs it (a failure at info; the transition it causes, if any, as
 * every transition).
 */
static void
ngx_http_sticky_probe_verdict(ngx_http_sticky_srv_conf_t *scf,
    ngx_uint_t member, ngx_log_t *log, int verdict, const char *why,
    ngx_int_t status)
{
    int                   changed;
    ngx_str_t             name;
    sticky_str_t          s;
    ngx_slab_pool_t      *shpool;
    sticky_transition_t   t;

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    changed = sticky_probe_end(scf->balancer, scf->state, member,
                               (unsigned) ngx_pid, verdict, ngx_current_msec,
                               &t);

    ngx_shmtx_unlock(&shpool->mutex);

    s = sticky_balancer_member_name(scf->balancer, member);
    name.data = (u_char *) s.data;
    name.len = s.len;

    if (verdict == STICKY_PROBE_FAILED && status) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "upstream \"%V\" worker \"%V\" probe failed: status %i",
                      &scf->upstream->host, &name, status);

    } else if (verdict == STICKY_PROBE_FAILED) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "upstream \"%V\" worker \"%V\" probe failed: %s",
                      &scf->upstream->host, &name, why);

    } else if (verdict == STICKY_PROBE_PASSED) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                       "upstream \"%V\" worker \"%V\" probe passed: %i",
                       &scf->upstream->host, &name, status);
    }

    if (changed) {
        ngx_http_sticky_log_transition(log, scf, &t);
    }
}

/*
 * Configuration time: each member's probe request, written once. The Host
 * header names the member as workers.properties does.
 */
char *
ngx_http_sticky_init_probes(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf)
{
    if (scf->probe_uri.len == 0) {

        if (scf->probe_params) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "probe parameters need \"probe=URI\"");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    return ngx_http_sticky_probe_requests(cf, scf, NULL);
}


/*
 * Configuration time: the probe request of every member, with `host` as
 * its Host header, or (NULL) the member's host and port.
 */
char *
ngx_http_sticky_probe_requests(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf,
    ngx_str_t *host)
{
    size_t           len;
    u_char          *p;
    ngx_str_t        name;
    ngx_uint_t       i, ipv6;
    sticky_member_t  m;

    scf->probe_requests = ngx_pcalloc(cf->pool,
                                      scf->nmembers * sizeof(ngx_str_t));
    if (scf->probe_requests == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < scf->nmembers; i++) {
        sticky_lb_member(scf->lb, i, &m);

        name.data = (u_char *) m.host.data;
        name.len = m.host.len;
        ipv6 = (ngx_strlchr(name.data, name.data + name.len, ':') != NULL
                && name.data[0] != '[');

        if (host) {
            name = *host;
        }

        len = sizeof("GET  HTTP/1.0" CRLF "Host: []:65535" CRLF
                     "User-Agent: nginx-sticky-probe" CRLF
                     "Connection: close" CRLF CRLF) - 1
              + scf->probe_uri.len + name.len;

        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        scf->probe_requests[i].data = p;
        p = ngx_sprintf(p, "GET %V HTTP/1.0" CRLF, &scf->probe_uri);

        if (host) {
            p = ngx_sprintf(p, "Host: %V" CRLF, &name);

        } else {
            p = ngx_sprintf(p, ipv6 ? "Host: [%V]:%ui" CRLF
                                    : "Host: %V:%ui" CRLF,
                            &name, (ngx_uint_t) m.port);
        }

        p = ngx_cpymem(p, "User-Agent: nginx-sticky-probe" CRLF
                          "Connection: close" CRLF CRLF,
                       sizeof("User-Agent: nginx-sticky-probe" CRLF
                              "Connection: close" CRLF CRLF) - 1);
        scf->probe_requests[i].len = p - scf->probe_requests[i].data;
    }

    return NGX_CONF_OK;
}
