/*
 * The settings of a location with ajp_pass: created and merged with the
 * defaults of nginx's uwsgi_* (buffers sized by the upstream's packets), and
 * the members' AJP settings, taken once per upstream from its workers file.
 */

#include "ngx_http_sticky_ajp.h"


static char *ngx_http_sticky_ajp_merge_buffers(ngx_conf_t *cf,
    ngx_http_sticky_ajp_loc_conf_t *conf,
    ngx_http_sticky_ajp_loc_conf_t *prev);
static char *ngx_http_sticky_ajp_use_upstream(ngx_conf_t *cf,
    ngx_http_sticky_ajp_loc_conf_t *conf);


/* Tomcat answers with these too, but nginx sets its own. */
static ngx_str_t  ngx_http_sticky_ajp_hide_headers[] = {
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_string("Status"),
    ngx_string("X-Accel-Expires"),
    ngx_string("X-Accel-Redirect"),
    ngx_string("X-Accel-Limit-Rate"),
    ngx_string("X-Accel-Buffering"),
    ngx_string("X-Accel-Charset"),
    ngx_null_string
};


static ngx_path_init_t  ngx_http_sticky_ajp_temp_path = {
    ngx_string(NGX_HTTP_PROXY_TEMP_PATH), { 1, 2, 0 }
};


void *
ngx_http_sticky_ajp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_sticky_ajp_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sticky_ajp_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.bufs.num = 0;
     *     conf->upstream.ignore_headers = 0;
     *     conf->upstream.next_upstream = 0;
     *     conf->upstream.temp_path = NULL;
     *     conf->upstream.hide_headers_hash = { NULL, 0 };
     *     conf->upstream.upstream = NULL;
     *     conf->params = NULL;
     *     conf->remote_user = NULL;
     *     conf->auth_type = NULL;
     *     conf->sticky = NULL;
     */

    conf->upstream.store = 0;
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.buffering = NGX_CONF_UNSET;
    conf->upstream.request_buffering = NGX_CONF_UNSET;
    conf->upstream.ignore_client_abort = NGX_CONF_UNSET;
    conf->upstream.local = NGX_CONF_UNSET_PTR;
    conf->upstream.socket_keepalive = NGX_CONF_UNSET;

    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;

    conf->upstream.send_lowat = NGX_CONF_UNSET_SIZE;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;
    conf->upstream.limit_rate = 0;

    conf->upstream.busy_buffers_size_conf = NGX_CONF_UNSET_SIZE;
    conf->upstream.max_temp_file_size_conf = NGX_CONF_UNSET_SIZE;
    conf->upstream.temp_file_write_size_conf = NGX_CONF_UNSET_SIZE;

    conf->upstream.pass_request_headers = NGX_CONF_UNSET;
    conf->upstream.pass_request_body = NGX_CONF_UNSET;
    conf->upstream.intercept_errors = NGX_CONF_UNSET;

    conf->upstream.hide_headers = NGX_CONF_UNSET_PTR;
    conf->upstream.pass_headers = NGX_CONF_UNSET_PTR;

    /*
     * The body is sent as the container asks for it, also after the
     * response headers came back: the request body's temporary file must
     * stay open, and the upstream's write handler in place, until the end.
     */
    conf->upstream.preserve_output = 1;

    conf->upstream.intercept_404 = 0;
    conf->upstream.change_buffering = 1;

    conf->forward_uri = NGX_CONF_UNSET_UINT;

    ngx_str_set(&conf->upstream.module, "ajp");

    return conf;
}


char *
ngx_http_sticky_ajp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_sticky_ajp_loc_conf_t *prev = parent;
    ngx_http_sticky_ajp_loc_conf_t *conf = child;

    ngx_hash_init_t            hash;
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);
    ngx_conf_merge_value(conf->upstream.buffering,
                         prev->upstream.buffering, 1);
    ngx_conf_merge_value(conf->upstream.request_buffering,
                         prev->upstream.request_buffering, 1);
    ngx_conf_merge_value(conf->upstream.ignore_client_abort,
                         prev->upstream.ignore_client_abort, 0);
    ngx_conf_merge_ptr_value(conf->upstream.local,
                             prev->upstream.local, NULL);
    ngx_conf_merge_value(conf->upstream.socket_keepalive,
                         prev->upstream.socket_keepalive, 0);
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 60000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 60000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.send_lowat,
                              prev->upstream.send_lowat, 0);
    ngx_conf_merge_value(conf->upstream.pass_request_headers,
                         prev->upstream.pass_request_headers, 1);
    ngx_conf_merge_value(conf->upstream.pass_request_body,
                         prev->upstream.pass_request_body, 1);
    ngx_conf_merge_value(conf->upstream.intercept_errors,
                         prev->upstream.intercept_errors, 0);
    ngx_conf_merge_uint_value(conf->forward_uri, prev->forward_uri,
                              NGX_HTTP_STICKY_AJP_URI_NORMALIZED);

    ngx_conf_merge_bitmask_value(conf->upstream.ignore_headers,
                                 prev->upstream.ignore_headers,
                                 NGX_CONF_BITMASK_SET);

    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                                 prev->upstream.next_upstream,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_UPSTREAM_FT_ERROR
                                  |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    if (conf->params == NULL) {
        conf->params = prev->params;
    }

    if (conf->remote_user == NULL) {
        conf->remote_user = prev->remote_user;
    }

    if (conf->auth_type == NULL) {
        conf->auth_type = prev->auth_type;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname && conf->upstream.upstream == NULL) {
        conf->upstream.upstream = prev->upstream.upstream;
        conf->pass_file = prev->pass_file;
        conf->pass_line = prev->pass_line;
    }

    if (clcf->lmt_excpt && clcf->handler == NULL && conf->upstream.upstream) {
        clcf->handler = ngx_http_sticky_ajp_handler;
    }

    if (conf->upstream.upstream
        && ngx_http_sticky_ajp_use_upstream(cf, conf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_sticky_ajp_merge_buffers(cf, conf, prev) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_merge_path_value(cf, &conf->upstream.temp_path,
                                  prev->upstream.temp_path,
                                  &ngx_http_sticky_ajp_temp_path)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "ajp_hide_headers_hash";

    if (ngx_http_upstream_hide_headers_hash(cf, &conf->upstream,
            &prev->upstream, ngx_http_sticky_ajp_hide_headers, &hash)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The buffers, checked as uwsgi's are. ajp_buffer_size must hold the
 * largest packet a member may send (its max_packet_size): the response
 * headers come in one packet.
 */
static char *
ngx_http_sticky_ajp_merge_buffers(ngx_conf_t *cf,
    ngx_http_sticky_ajp_loc_conf_t *conf, ngx_http_sticky_ajp_loc_conf_t *prev)
{
    size_t                     size, packet;
    ngx_http_upstream_conf_t  *u;

    u = &conf->upstream;

    /*
     * Where no ajp_pass is, values set here are only inherited: the
     * defaults depend on the packet size of the upstream a location uses.
     */
    if (conf->sticky == NULL) {
        ngx_conf_merge_size_value(u->buffer_size, prev->upstream.buffer_size,
                                  NGX_CONF_UNSET_SIZE);
        ngx_conf_merge_size_value(u->busy_buffers_size_conf,
                                  prev->upstream.busy_buffers_size_conf,
                                  NGX_CONF_UNSET_SIZE);
        ngx_conf_merge_size_value(u->temp_file_write_size_conf,
                                  prev->upstream.temp_file_write_size_conf,
                                  NGX_CONF_UNSET_SIZE);
        ngx_conf_merge_size_value(u->max_temp_file_size_conf,
                                  prev->upstream.max_temp_file_size_conf,
                                  NGX_CONF_UNSET_SIZE);

        if (u->bufs.num == 0) {
            u->bufs = prev->upstream.bufs;
        }

        return NGX_CONF_OK;
    }

    packet = ((ngx_http_sticky_ajp_upstream_t *) conf->sticky->ajp)->max_packet;

    /*
     * By default the buffers grow with the packets, so that the busy
     * buffers (twice a packet) fit: a quarter of a packet each.
     */
    ngx_conf_merge_size_value(u->buffer_size, prev->upstream.buffer_size,
                              (size_t) ngx_pagesize);
    ngx_conf_merge_bufs_value(u->bufs, prev->upstream.bufs, 8,
                              ngx_max((size_t) ngx_pagesize, packet / 4));

    u->buffer_size = ngx_max(u->buffer_size, packet);

    if (u->bufs.num < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "there must be at least 2 \"ajp_buffers\"");
        return NGX_CONF_ERROR;
    }

    size = ngx_max(u->buffer_size, u->bufs.size);

    ngx_conf_merge_size_value(u->busy_buffers_size_conf,
                              prev->upstream.busy_buffers_size_conf,
                              NGX_CONF_UNSET_SIZE);

    if (u->busy_buffers_size_conf != NGX_CONF_UNSET_SIZE) {
        u->busy_buffers_size = u->busy_buffers_size_conf;

    } else {
        u->busy_buffers_size = ngx_min(2 * size,
                                       (u->bufs.num - 1) * u->bufs.size);
        u->busy_buffers_size = ngx_max(u->busy_buffers_size, size);
    }

    if (u->busy_buffers_size < size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
            "\"ajp_busy_buffers_size\" must be equal to or greater than "
            "the maximum of the value of \"ajp_buffer_size\" and "
            "one of the \"ajp_buffers\"");
        return NGX_CONF_ERROR;
    }

    if (u->busy_buffers_size > (u->bufs.num - 1) * u->bufs.size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
            "\"ajp_busy_buffers_size\" must be less than "
            "the size of all \"ajp_buffers\" minus one buffer");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_size_value(u->temp_file_write_size_conf,
                              prev->upstream.temp_file_write_size_conf,
                              NGX_CONF_UNSET_SIZE);

    u->temp_file_write_size =
        (u->temp_file_write_size_conf == NGX_CONF_UNSET_SIZE)
        ? 2 * size : u->temp_file_write_size_conf;

    if (u->temp_file_write_size < size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
            "\"ajp_temp_file_write_size\" must be equal to or greater than "
            "the maximum of the value of \"ajp_buffer_size\" and "
            "one of the \"ajp_buffers\"");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_size_value(u->max_temp_file_size_conf,
                              prev->upstream.max_temp_file_size_conf,
                              NGX_CONF_UNSET_SIZE);

    u->max_temp_file_size =
        (u->max_temp_file_size_conf == NGX_CONF_UNSET_SIZE)
        ? 1024 * 1024 * 1024 : u->max_temp_file_size_conf;

    if (u->max_temp_file_size != 0 && u->max_temp_file_size < size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
            "\"ajp_max_temp_file_size\" must be equal to zero to disable "
            "temporary files usage or must be equal to or greater than "
            "the maximum of the value of \"ajp_buffer_size\" and "
            "one of the \"ajp_buffers\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The upstream of ajp_pass must be built by sticky_workers: the members'
 * secrets, packet sizes and CPing settings come from the file. They are
 * collected once per upstream; from then on its probes speak AJP too.
 */
static char *
ngx_http_sticky_ajp_use_upstream(ngx_conf_t *cf,
    ngx_http_sticky_ajp_loc_conf_t *conf)
{
    ngx_uint_t                       i, pool;
    sticky_member_t                  m;
    ngx_http_sticky_srv_conf_t      *scf;
    ngx_http_upstream_srv_conf_t    *uscf;
    ngx_http_sticky_ajp_member_t    *am;
    ngx_http_sticky_ajp_upstream_t  *up;

    uscf = conf->upstream.upstream;

    scf = uscf->srv_conf
          ? ngx_http_conf_upstream_srv_conf(uscf,
                                            ngx_http_sticky_workers_module)
          : NULL;

    if (scf == NULL || scf->balancer == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" of \"ajp_pass\" in %V:%ui does not "
                      "use \"sticky_workers\": ajp_pass takes its members "
                      "from a workers.properties file",
                      &uscf->host, &conf->pass_file, conf->pass_line);
        return NGX_CONF_ERROR;
    }

    conf->sticky = scf;

    if (scf->ajp) {
        return NGX_CONF_OK;
    }

    up = ngx_pcalloc(cf->pool, sizeof(ngx_http_sticky_ajp_upstream_t));
    if (up == NULL) {
        return NGX_CONF_ERROR;
    }

    up->nmembers = scf->nmembers;
    up->members = ngx_pcalloc(cf->pool,
                              up->nmembers * sizeof(ngx_http_sticky_ajp_member_t));
    if (up->members == NULL) {
        return NGX_CONF_ERROR;
    }

    pool = 0;

    for (i = 0; i < up->nmembers; i++) {
        sticky_lb_member(scf->lb, i, &m);
        am = &up->members[i];
        pool = ngx_max(pool, m.pool_size);

        am->name.data = (u_char *) m.name.data;
        am->name.len = m.name.len;
        am->route.data = (u_char *) m.route.data;
        am->route.len = m.route.len;
        am->secret.data = (u_char *) m.secret.data;
        am->secret.len = m.secret.len;
        am->max_packet = m.max_packet_size;
        am->cping_connect = m.cping_connect_timeout;
        am->cping_prepost = m.prepost_timeout;
        am->cping_reuse = m.ping_interval ? m.ping_timeout : 0;

        up->max_packet = ngx_max(up->max_packet, am->max_packet);
        up->member_bytes = ngx_max(up->member_bytes,
                                   sticky_ajp_member_bytes(m.route, m.secret));
    }

    scf->ajp = up;

    /*
     * mod_jk's connection pool is nginx's keepalive module, which wraps the
     * balancer once the upstream is initialised: without it every request
     * opens a connection.
     */
    if (pool && uscf->peer.init == ngx_http_sticky_init_peer) {
        ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                      "upstream \"%V\" of \"ajp_pass\" in %V:%ui has no "
                      "\"keepalive\": its workers file sets a "
                      "connection_pool_size of %ui, add \"keepalive %ui;\" "
                      "to keep connections open",
                      &uscf->host, &conf->pass_file, conf->pass_line,
                      pool, pool);
    }

    return NGX_CONF_OK;
}
