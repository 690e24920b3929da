/*
 * ajp_pass: AJP/1.3 to the members of a sticky_workers upstream. The packets
 * are made and read by the core's codec (sticky_ajp_* in sticky_core.h);
 * these files move them: _ajp_module.c (directives, the content handler),
 * _ajp_conf.c (the location's settings, the upstream's members),
 * _ajp_request.c (the forward request), _ajp_send.c (sending it, CPing,
 * request body packets), _ajp_response.c (headers, body filters).
 */
#ifndef NGX_HTTP_STICKY_AJP_H
#define NGX_HTTP_STICKY_AJP_H

#include "ngx_http_sticky_module.h"


/* What ajp_pass uses of one member of the file. */
typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       route;
    ngx_str_t                       secret;
    size_t                          max_packet;
    ngx_msec_t                      cping_connect;  /* after connecting; 0: none */
    ngx_msec_t                      cping_prepost;  /* before each request */
    ngx_msec_t                      cping_reuse;    /* before reusing a kept-alive
                                                       connection (ping_mode I) */
    unsigned                        socket_keepalive:1;
} ngx_http_sticky_ajp_member_t;


/* Per sticky upstream that an ajp_pass uses; hangs on its srv conf. */
typedef struct {
    ngx_http_sticky_ajp_member_t   *members;
    ngx_uint_t                      nmembers;
    size_t                          max_packet;    /* the largest member's */
    size_t                          member_bytes;  /* the largest member part */
} ngx_http_sticky_ajp_upstream_t;


typedef struct {
    ngx_str_t                       name;
    ngx_http_complex_value_t        value;
    ngx_uint_t                      skip_empty;
} ngx_http_sticky_ajp_param_t;


/* A body packet is made of views into the request body: at most this many. */
#define NGX_HTTP_STICKY_AJP_SLICES  32


#define NGX_HTTP_STICKY_AJP_URI_NORMALIZED  0
#define NGX_HTTP_STICKY_AJP_URI_UNPARSED    1


typedef struct {
    ngx_http_upstream_conf_t        upstream;

    ngx_array_t                    *params;        /* ajp_param */
    ngx_http_complex_value_t       *remote_user;
    ngx_http_complex_value_t       *auth_type;
    ngx_uint_t                      forward_uri;

    ngx_http_sticky_srv_conf_t     *sticky;        /* the upstream's */
    ngx_str_t                       pass_file;     /* where ajp_pass is */
    ngx_uint_t                      pass_line;
} ngx_http_sticky_ajp_loc_conf_t;


/* Where one attempt is. */
typedef enum {
    NGX_HTTP_STICKY_AJP_CPING_WAIT = 0,   /* CPing sent, CPong awaited */
    NGX_HTTP_STICKY_AJP_CPONG,            /* CPong came: send the request */
    NGX_HTTP_STICKY_AJP_SENT,             /* request out, headers awaited */
    NGX_HTTP_STICKY_AJP_NO_BODY,          /* headers of a response without a
                                             body read, END_RESPONSE awaited */
    NGX_HTTP_STICKY_AJP_BODY,             /* headers passed on */
    NGX_HTTP_STICKY_AJP_DONE              /* END_RESPONSE read */
} ngx_http_sticky_ajp_state_e;


/* Per request. */
typedef struct {
    ngx_http_sticky_ajp_loc_conf_t *conf;
    ngx_http_sticky_ajp_upstream_t *up;
    ngx_http_sticky_ajp_member_t   *member;        /* of this attempt */
    ngx_uint_t                      attempt;       /* sticky peer's count */
    ngx_http_sticky_ajp_state_e     state;

    ngx_buf_t                      *head;          /* the forward request */
    size_t                          common;        /* its member-free bytes;
                                                      0: too large for all */
    ngx_buf_t                      *cping;

    /* the request body, sent a packet at a time as the container asks */
    off_t                           body_length;
    off_t                           body_left;     /* of this attempt */
    ngx_chain_t                    *body_cl;       /* where the next byte is */
    off_t                           body_offset;   /* ... within body_cl->buf */
    size_t                          body_wanted;   /* asked for, not sent */
    ngx_buf_t                      *body_header;   /* 6 bytes */
    ngx_buf_t                      *slices;        /* views of the body */

    /* ajp_request_buffering off: the body as nginx reads it, copied into
     * packets (the buffers are nginx's to reuse once taken) */
    ngx_chain_t                    *unread;        /* links not yet taken */
    ngx_chain_t                   **unread_last;
    ngx_buf_t                      *copy;          /* one packet */

    sticky_ajp_stream_t             stream;        /* body phase reader */
    off_t                           body_received; /* response body bytes */

    unsigned                        unbuffered:1;
} ngx_http_sticky_ajp_ctx_t;


extern ngx_module_t  ngx_http_sticky_ajp_module;


/* ngx_http_sticky_ajp_module.c */
ngx_int_t ngx_http_sticky_ajp_handler(ngx_http_request_t *r);

/* ngx_http_sticky_ajp_conf.c */
void *ngx_http_sticky_ajp_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_sticky_ajp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

/* ngx_http_sticky_ajp_module.c */
ngx_int_t ngx_http_sticky_ajp_init_undefined(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);

/* ngx_http_sticky_ajp_request.c */
ngx_int_t ngx_http_sticky_ajp_create_request(ngx_http_request_t *r);
ngx_int_t ngx_http_sticky_ajp_check_path(ngx_http_request_t *r);

/* ngx_http_sticky_ajp_send.c */
ngx_int_t ngx_http_sticky_ajp_output(void *data, ngx_chain_t *in);
void ngx_http_sticky_ajp_want_body(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, size_t requested);

/* ngx_http_sticky_ajp_response.c */
ngx_int_t ngx_http_sticky_ajp_reinit_request(ngx_http_request_t *r);
ngx_int_t ngx_http_sticky_ajp_process_header(ngx_http_request_t *r);
void ngx_http_sticky_ajp_end(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, int reuse, ngx_uint_t extra);
void ngx_http_sticky_ajp_invalid(ngx_http_request_t *r,
    ngx_http_sticky_ajp_ctx_t *ctx, const char *what);
void ngx_http_sticky_ajp_abort_request(ngx_http_request_t *r);
void ngx_http_sticky_ajp_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);

/* ngx_http_sticky_ajp_body.c */
ngx_int_t ngx_http_sticky_ajp_input_filter_init(void *data);
ngx_int_t ngx_http_sticky_ajp_input_filter(ngx_event_pipe_t *p,
    ngx_buf_t *buf);
ngx_int_t ngx_http_sticky_ajp_non_buffered_filter(void *data,
    ssize_t bytes);

#endif /* NGX_HTTP_STICKY_AJP_H */
