/*
 * The shared state of one upstream: a zone of its own, created from
 * sticky_workers and named after the upstream, so that every worker process
 * sees one view and a reload keeps it.
 *
 * nginx reuses a zone's memory across a reload only when its name and size
 * are unchanged. The size is therefore rounded up to a capacity of members
 * (adding a member rarely changes it), and when it does change, the state is
 * read from the previous cycle's zone, still mapped while the new one is
 * initialised. Either way records are matched by worker name.
 *
 * Within the zone, each configuration gets a block of its own: worker
 * processes of the previous configuration may still finish requests against
 * their block after a reload, and their record indexes are not ours. The
 * block before the previous one is freed.
 */

#include "ngx_http_sticky_module.h"


/* What hangs on the zone's slab pool. */
typedef struct {
    void      *current;         /* the core's zone state, newest config */
    void      *previous;        /* the one before, maybe still in use */
    size_t     current_bytes;      /* size of current */
} ngx_http_sticky_shctx_t;


static ngx_int_t ngx_http_sticky_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_sticky_shctx_t *ngx_http_sticky_old_zone(
    ngx_shm_zone_t *shm_zone);
static size_t ngx_http_sticky_capacity(ngx_uint_t members);


ngx_int_t
ngx_http_sticky_add_zone(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf)
{
    size_t      size, block;
    ngx_str_t   name;

    name.len = sizeof("sticky_workers:") - 1 + scf->upstream->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "sticky_workers:%V", &scf->upstream->host);

    /* three blocks (new, previous, one being freed) and the slab's own use */
    block = ngx_align(sticky_zone_bytes(ngx_http_sticky_capacity(scf->nmembers)),
                      ngx_pagesize);
    size = 3 * block + 8 * ngx_pagesize;

    scf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_sticky_module);
    if (scf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (scf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" is already balanced by "
                           "sticky_workers", &scf->upstream->host);
        return NGX_ERROR;
    }

    scf->shm_zone->init = ngx_http_sticky_init_zone;
    scf->shm_zone->data = scf;

    return NGX_OK;
}


/* Room for more members than configured, so that a small change to the
 * file keeps the zone's size and nginx reuses its memory. */
static size_t
ngx_http_sticky_capacity(ngx_uint_t members)
{
    size_t  capacity;

    for (capacity = 32; capacity < members; capacity *= 2) { /* void */ }

    return capacity;
}


/*
 * Called in the master while a configuration is loaded: with `data` (the
 * previous configuration's srv conf) when the zone's memory is reused.
 */
static ngx_int_t
ngx_http_sticky_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_sticky_srv_conf_t  *oscf = data;

    size_t                       bytes;
    void                        *state;
    ngx_slab_pool_t             *shpool;
    sticky_error_t               err;
    sticky_zone_stats_t          stats;
    ngx_http_sticky_shctx_t     *sh, *old;
    ngx_http_sticky_srv_conf_t  *scf;

    scf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    bytes = sticky_zone_bytes(scf->nmembers);

    if (oscf) {
        sh = shpool->data;
        old = sh;

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_sticky_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;
        old = ngx_http_sticky_old_zone(shm_zone);

        shpool->log_ctx = ngx_slab_alloc(shpool, sizeof(" in zone \"\"")
                                                 + shm_zone->shm.name.len);
        if (shpool->log_ctx) {
            ngx_sprintf(shpool->log_ctx, " in zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    if (sh->previous && oscf) {
        ngx_slab_free(shpool, sh->previous);
        sh->previous = NULL;
    }

    state = ngx_slab_alloc(shpool, bytes);
    if (state == NULL) {
        return NGX_ERROR;
    }

    if (sticky_zone_build(scf->balancer, state, bytes,
                          old ? old->current : NULL,
                          old ? old->current_bytes : 0,
                          ngx_current_msec, &stats, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "%s in zone \"%V\"",
                      err.message, &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "upstream \"%V\": state of %uz workers kept, %uz new, "
                  "%uz removed%s", &scf->upstream->host, stats.kept,
                  stats.added, stats.removed,
                  stats.fresh ? " (fresh start)" : "");

    if (oscf) {
        sh->previous = sh->current;
    }

    sh->current = state;
    sh->current_bytes = bytes;
    scf->state = state;

    return NGX_OK;
}


/*
 * The same zone of the configuration being replaced, when nginx could not
 * reuse its memory (its size changed). It is still mapped: nginx frees the
 * old cycle's zones after initialising the new ones.
 */
static ngx_http_sticky_shctx_t *
ngx_http_sticky_old_zone(ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;
    ngx_slab_pool_t  *shpool;

    /* ngx_cycle is still the configuration being replaced */
    part = &((ngx_cycle_t *) ngx_cycle)->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != shm_zone->tag
            || zone[i].shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(zone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len) != 0
            || zone[i].shm.addr == NULL)
        {
            continue;
        }

        shpool = (ngx_slab_pool_t *) zone[i].shm.addr;

        return shpool->data;
    }
}


void
ngx_http_sticky_log_transition(ngx_log_t *log, ngx_http_sticky_srv_conf_t *scf,
    sticky_transition_t *t)
{
    ngx_str_t     name;
    ngx_uint_t    level;
    sticky_str_t  s;

    s = sticky_balancer_member_name(scf->balancer, t->member);
    name.data = (u_char *) s.data;
    name.len = s.len;

    /* into an error: warn; out of one: notice; busy, idle, probing: info */
    level = (t->level == STICKY_LOG_INFO) ? NGX_LOG_INFO
            : (t->level == STICKY_LOG_NOTICE) ? NGX_LOG_NOTICE
            : NGX_LOG_WARN;

    ngx_log_error(level, log, 0,
                  "upstream \"%V\" worker \"%V\" is now %s (%s, was %s)",
                  &scf->upstream->host, &name, t->to, t->cause, t->from);
}
