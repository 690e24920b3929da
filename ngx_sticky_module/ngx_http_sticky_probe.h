/*
 * Shared by the two halves of the active probes: the probe itself
 * (ngx_http_sticky_probe.c) and its TLS (ngx_http_sticky_probe_ssl.c).
 */
#ifndef NGX_HTTP_STICKY_PROBE_H
#define NGX_HTTP_STICKY_PROBE_H

#include "ngx_http_sticky_module.h"


/* the longest reason a failed probe logs */
#define NGX_HTTP_STICKY_PROBE_REASON  160


typedef struct {
    ngx_peer_connection_t        peer;
    ngx_event_t                  timeout;
    ngx_http_sticky_srv_conf_t  *conf;
    ngx_uint_t                   member;
    ngx_pool_t                  *pool;
    u_char                      *send;         /* the rest of the request */
    u_char                      *send_end;
    size_t                       received;
    unsigned                     ssl:1;        /* over TLS, once connected */
    u_char                       buf[16];      /* "HTTP/1.1 200 " */
    u_char                       cping[STICKY_AJP_CPING_SIZE];
    u_char                       reason[NGX_HTTP_STICKY_PROBE_REASON];
} ngx_http_sticky_probe_t;


/* ngx_http_sticky_probe.c */
ngx_http_sticky_probe_t *ngx_http_sticky_probe_of(ngx_event_t *ev);
void ngx_http_sticky_probe_write(ngx_event_t *wev);
void ngx_http_sticky_probe_read(ngx_event_t *rev);
void ngx_http_sticky_probe_done(ngx_http_sticky_probe_t *pr, int verdict,
    const char *why, ngx_int_t status);
char *ngx_http_sticky_probe_requests(ngx_conf_t *cf,
    ngx_http_sticky_srv_conf_t *scf, ngx_str_t *host);

#if (NGX_HTTP_SSL)
/* ngx_http_sticky_probe_ssl.c: once connected, the handshake, then
 * ngx_http_sticky_probe_write(); the shutdown, before the close */
void ngx_http_sticky_probe_ssl_start(ngx_http_sticky_probe_t *pr);
void ngx_http_sticky_probe_ssl_close(ngx_connection_t *c, ngx_uint_t clean);
#endif

#endif /* NGX_HTTP_STICKY_PROBE_H */
