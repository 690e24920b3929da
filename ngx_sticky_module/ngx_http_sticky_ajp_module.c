/*
 * ajp_pass and its directives, named as nginx's uwsgi_* and fastcgi_* are
 * (their defaults and checks: _ajp_conf.c); the content handler that starts
 * the upstream.
 *
 *     location / {
 *         ajp_pass tomcats;           # an upstream with sticky_workers
 *     }
 */

#include "ngx_http_sticky_ajp.h"


static char *ngx_http_sticky_ajp_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sticky_ajp_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sticky_ajp_lowat_check(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_t  ngx_http_sticky_ajp_lowat_post =
    { ngx_http_sticky_ajp_lowat_check };


static ngx_conf_bitmask_t  ngx_http_sticky_ajp_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("non_idempotent"), NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_403"), NGX_HTTP_UPSTREAM_FT_HTTP_403 },
    { ngx_string("http_404"), NGX_HTTP_UPSTREAM_FT_HTTP_404 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_sticky_ajp_ignore_headers_masks[] = {
    { ngx_string("X-Accel-Redirect"), NGX_HTTP_UPSTREAM_IGN_XA_REDIRECT },
    { ngx_string("X-Accel-Expires"), NGX_HTTP_UPSTREAM_IGN_XA_EXPIRES },
    { ngx_string("X-Accel-Limit-Rate"), NGX_HTTP_UPSTREAM_IGN_XA_LIMIT_RATE },
    { ngx_string("X-Accel-Buffering"), NGX_HTTP_UPSTREAM_IGN_XA_BUFFERING },
    { ngx_string("X-Accel-Charset"), NGX_HTTP_UPSTREAM_IGN_XA_CHARSET },
    { ngx_string("Expires"), NGX_HTTP_UPSTREAM_IGN_EXPIRES },
    { ngx_string("Cache-Control"), NGX_HTTP_UPSTREAM_IGN_CACHE_CONTROL },
    { ngx_string("Set-Cookie"), NGX_HTTP_UPSTREAM_IGN_SET_COOKIE },
    { ngx_string("Vary"), NGX_HTTP_UPSTREAM_IGN_VARY },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_sticky_ajp_forward_uri[] = {
    { ngx_string("normalized"), NGX_HTTP_STICKY_AJP_URI_NORMALIZED },
    { ngx_string("unparsed"), NGX_HTTP_STICKY_AJP_URI_UNPARSED },
    { ngx_null_string, 0 }
};


#define NGX_HTTP_STICKY_AJP_LOC  (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF   \
                                  |NGX_HTTP_LOC_CONF)
#define ngx_http_sticky_ajp_offset(field)                                 \
    offsetof(ngx_http_sticky_ajp_loc_conf_t, upstream.field)


static ngx_command_t  ngx_http_sticky_ajp_commands[] = {

    { ngx_string("ajp_pass"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_sticky_ajp_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ajp_param"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE23,
      ngx_http_sticky_ajp_param,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ajp_remote_user"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sticky_ajp_loc_conf_t, remote_user),
      NULL },

    { ngx_string("ajp_auth_type"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sticky_ajp_loc_conf_t, auth_type),
      NULL },

    { ngx_string("ajp_forward_uri"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_sticky_ajp_loc_conf_t, forward_uri),
      &ngx_http_sticky_ajp_forward_uri },

    { ngx_string("ajp_connect_timeout"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(connect_timeout),
      NULL },

    { ngx_string("ajp_send_timeout"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(send_timeout),
      NULL },

    { ngx_string("ajp_send_lowat"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(send_lowat),
      &ngx_http_sticky_ajp_lowat_post },

    { ngx_string("ajp_read_timeout"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(read_timeout),
      NULL },

    { ngx_string("ajp_buffering"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(buffering),
      NULL },

    { ngx_string("ajp_request_buffering"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(request_buffering),
      NULL },

    { ngx_string("ajp_buffer_size"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(buffer_size),
      NULL },

    { ngx_string("ajp_buffers"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE2,
      ngx_conf_set_bufs_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(bufs),
      NULL },

    { ngx_string("ajp_busy_buffers_size"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(busy_buffers_size_conf),
      NULL },

    { ngx_string("ajp_temp_path"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1234,
      ngx_conf_set_path_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(temp_path),
      NULL },

    { ngx_string("ajp_max_temp_file_size"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(max_temp_file_size_conf),
      NULL },

    { ngx_string("ajp_temp_file_write_size"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(temp_file_write_size_conf),
      NULL },

    { ngx_string("ajp_next_upstream"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(next_upstream),
      &ngx_http_sticky_ajp_next_upstream_masks },

    { ngx_string("ajp_next_upstream_tries"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(next_upstream_tries),
      NULL },

    { ngx_string("ajp_next_upstream_timeout"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(next_upstream_timeout),
      NULL },

    { ngx_string("ajp_intercept_errors"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(intercept_errors),
      NULL },

    { ngx_string("ajp_hide_header"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(hide_headers),
      NULL },

    { ngx_string("ajp_pass_header"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(pass_headers),
      NULL },

    { ngx_string("ajp_ignore_headers"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(ignore_headers),
      &ngx_http_sticky_ajp_ignore_headers_masks },

    { ngx_string("ajp_pass_request_headers"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(pass_request_headers),
      NULL },

    { ngx_string("ajp_pass_request_body"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(pass_request_body),
      NULL },

    { ngx_string("ajp_ignore_client_abort"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(ignore_client_abort),
      NULL },

    { ngx_string("ajp_socket_keepalive"),
      NGX_HTTP_STICKY_AJP_LOC|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      ngx_http_sticky_ajp_offset(socket_keepalive),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_sticky_ajp_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_sticky_ajp_create_loc_conf,   /* create location configuration */
    ngx_http_sticky_ajp_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_sticky_ajp_module = {
    NGX_MODULE_V1,
    &ngx_http_sticky_ajp_module_ctx,       /* module context */
    ngx_http_sticky_ajp_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_int_t
ngx_http_sticky_ajp_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_upstream_t             *u;
    ngx_http_sticky_ajp_ctx_t       *ctx;
    ngx_http_sticky_ajp_loc_conf_t  *alcf;

    /* an upgraded connection cannot travel in AJP packets */
    if (r->headers_in.upgrade
        && ngx_strlcasestrn(r->headers_in.upgrade->value.data,
                            r->headers_in.upgrade->value.data
                            + r->headers_in.upgrade->value.len,
                            (u_char *) "websocket", sizeof("websocket") - 2)
           != NULL)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ajp_pass cannot carry a WebSocket upgrade: "
                      "proxy_pass it to the HTTP connector");
        return NGX_HTTP_NOT_IMPLEMENTED;
    }

    rc = ngx_http_sticky_ajp_check_path(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_sticky_ajp_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_sticky_ajp_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->conf = alcf;
    ctx->up = alcf->sticky->ajp;
    ngx_http_set_ctx(r, ctx, ngx_http_sticky_ajp_module);

    u = r->upstream;

    ngx_str_set(&u->schema, "ajp://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_sticky_ajp_module;
    u->conf = &alcf->upstream;

    u->create_request = ngx_http_sticky_ajp_create_request;
    u->reinit_request = ngx_http_sticky_ajp_reinit_request;
    u->process_header = ngx_http_sticky_ajp_process_header;
    u->abort_request = ngx_http_sticky_ajp_abort_request;
    u->finalize_request = ngx_http_sticky_ajp_finalize_request;

    u->buffering = alcf->upstream.buffering;

    u->pipe = ngx_pcalloc(r->pool, sizeof(ngx_event_pipe_t));
    if (u->pipe == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u->pipe->input_filter = ngx_http_sticky_ajp_input_filter;
    u->pipe->input_ctx = r;

    u->input_filter_init = ngx_http_sticky_ajp_input_filter_init;
    u->input_filter = ngx_http_sticky_ajp_non_buffered_filter;
    u->input_filter_ctx = r;

    /*
     * The container asks for the body a packet at a time, as it needs it.
     * Unbuffered, it gets what nginx has read so far; a body of unknown
     * length (chunked, or HTTP/2 without content-length) is always read
     * whole first: AJP needs the length up front.
     */
    if (!alcf->upstream.request_buffering
        && alcf->upstream.pass_request_body
        && !r->headers_in.chunked
        && r->headers_in.content_length_n >= 0)
    {
        r->request_body_no_buffering = 1;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_upstream_init);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static char *
ngx_http_sticky_ajp_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sticky_ajp_loc_conf_t *alcf = conf;

    ngx_url_t                  u;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->upstream.upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.no_resolve = 1;
    u.no_port = 1;

    alcf->upstream.upstream = ngx_http_upstream_add(cf, &u, 0);
    if (alcf->upstream.upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * An upstream{} block may come later in the file; if none does, or one
     * without sticky_workers does, nginx would initialise the name as a
     * host without a port ("no port in upstream"): say what is missing.
     */
    if (alcf->upstream.upstream->srv_conf == NULL
        && alcf->upstream.upstream->peer.init_upstream == NULL)
    {
        alcf->upstream.upstream->peer.init_upstream =
                                          ngx_http_sticky_ajp_init_undefined;
    }

    alcf->pass_file = cf->conf_file->file.name;
    alcf->pass_line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sticky_ajp_handler;

    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] == '/') {
        clcf->auto_redirect = 1;
    }

    return NGX_CONF_OK;
}


/*
 * The init of an upstream ajp_pass named before any upstream{} block: it is
 * replaced by sticky_workers' when the block uses it.
 */
ngx_int_t
ngx_http_sticky_ajp_init_undefined(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    if (us->srv_conf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no upstream \"%V\" is defined: \"ajp_pass\" in %s:%ui "
                      "needs an upstream{} block with \"sticky_workers\"",
                      &us->host, us->file_name, us->line);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" of \"ajp_pass\" in %s:%ui does not "
                      "use \"sticky_workers\": ajp_pass takes its members "
                      "from a workers.properties file",
                      &us->host, us->file_name, us->line);
    }

    return NGX_ERROR;
}


/* ajp_param NAME VALUE [if_not_empty]: mod_jk's JkEnvVar. */
static char *
ngx_http_sticky_ajp_param(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sticky_ajp_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_http_sticky_ajp_param_t       *param;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (alcf->params == NULL) {
        alcf->params = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_sticky_ajp_param_t));
        if (alcf->params == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (value[1].len == 0) {
        return "takes a name that is not empty";
    }

    param = ngx_array_push(alcf->params);
    if (param == NULL) {
        return NGX_CONF_ERROR;
    }

    param->name = value[1];
    param->skip_empty = 0;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "if_not_empty") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        param->skip_empty = 1;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &param->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_sticky_ajp_lowat_check(ngx_conf_t *cf, void *post, void *data)
{
#if (NGX_FREEBSD)
    ssize_t *np = data;

    if ((u_long) *np >= ngx_freebsd_net_inet_tcp_sendspace) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ajp_send_lowat\" must be less than %d "
                           "(sysctl net.inet.tcp.sendspace)",
                           ngx_freebsd_net_inet_tcp_sendspace);

        return NGX_CONF_ERROR;
    }

#elif !(NGX_HAVE_SO_SNDLOWAT)
    ssize_t *np = data;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"ajp_send_lowat\" is not supported, ignored");

    *np = 0;

#endif

    return NGX_CONF_OK;
}
