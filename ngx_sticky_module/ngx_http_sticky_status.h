/*
 * Between the files of sticky_status. Calls run one way: the page
 * (ngx_http_sticky_status.c) hands a POST to the guard
 * (ngx_http_sticky_status_guard.c), then its body to the admin actions
 * (ngx_http_sticky_status_post.c); all answer through
 * ngx_http_sticky_status_send.c.
 */
#ifndef NGX_HTTP_STICKY_STATUS_H
#define NGX_HTTP_STICKY_STATUS_H

#include "ngx_http_sticky_module.h"


/* the largest admin form read */
#define NGX_HTTP_STICKY_STATUS_MAX_BODY  4096

/* ngx_http_sticky_status_guard.c. POST: NGX_DECLINED when the request may
 * go on to its body. */
ngx_int_t ngx_http_sticky_status_post_check(ngx_http_request_t *r);

/* ngx_http_sticky_status_post.c: the body has been read */
void ngx_http_sticky_status_post_body(ngx_http_request_t *r);

/* ngx_http_sticky_status_send.c */
ngx_table_elt_t *ngx_http_sticky_status_header_in(ngx_http_request_t *r,
    const char *name);
ngx_int_t ngx_http_sticky_status_message(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t ok, const char *text, size_t len,
    ngx_uint_t allow_post);

ngx_int_t ngx_http_sticky_status_no_upstream(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t status, ngx_uint_t allow_post);

ngx_int_t ngx_http_sticky_status_wants_json(ngx_http_request_t *r);

/* Writes `s` at `p` for a message: printable ASCII as is, other bytes, '"'
 * and '\\' as \xNN (room for 4 bytes per byte); returns the end. */
u_char *ngx_http_sticky_status_quote(u_char *p, ngx_str_t *s);

sticky_status_t *ngx_http_sticky_status_create(ngx_http_request_t *r);
ngx_int_t ngx_http_sticky_status_send(ngx_http_request_t *r,
    ngx_uint_t status, const char *content_type, sticky_str_t *body,
    ngx_str_t *nonce);
ngx_int_t ngx_http_sticky_status_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);

#endif /* NGX_HTTP_STICKY_STATUS_H */
