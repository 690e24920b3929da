/*
 * The shared state of one upstream: a zone of its own, created from
 * sticky_workers and named after the upstream, so that every worker process
 * sees one view and a reload keeps it.
 *
 * Within the zone each configuration has a generation: a block with the
 * core's state (records in that configuration's member order) and its
 * process table. A worker process writes only to its own generation's
 * block, however many reloads happen while it finishes its requests.
 *
 * A generation's life, all in the master:
 *  - BUILT by init_zone while a configuration loads, from the state of the
 *    generation the master runs. If the load fails later (a zone, a bind),
 *    the cycle's pool cleanup frees it: the running state is untouched.
 *  - CURRENT once the load cannot fail any more (init_module runs after the
 *    listening sockets are open). It is built again then from the running
 *    generation, so that changes made while the configuration loaded are
 *    kept.
 *  - RETIRED by the next configuration's commit, which registers the pids of
 *    the worker processes forked for it. It is freed when none of them is
 *    left: by the last one at its exit, else by the process check of the
 *    timer (ngx_http_sticky_processes.c), or by the next reload.
 *
 * nginx reuses a zone's memory across a reload only when its name and size
 * are unchanged. The size is rounded up to a capacity of members and of
 * generations, so a small change to the file keeps it; when it does change,
 * the state is read from the previous cycle's zone, still mapped while the
 * new one is initialised, and that zone's generations stay with the
 * processes that map it.
 */

#include "ngx_http_sticky_module.h"


/* generations a zone has room for, unless more are alive at a reload */
#define NGX_HTTP_STICKY_GENERATIONS  4


static ngx_int_t ngx_http_sticky_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_shm_zone_t *ngx_http_sticky_old_zone(ngx_cycle_t *cycle,
    ngx_str_t *name);
static ngx_uint_t ngx_http_sticky_generations_alive(ngx_shm_zone_t *zone);
static void ngx_http_sticky_commit_zone(ngx_http_sticky_srv_conf_t *scf,
    ngx_log_t *log);
static void ngx_http_sticky_zone_cleanup(void *data);
static ngx_uint_t ngx_http_sticky_process_slots(ngx_cycle_t *cycle);
static size_t ngx_http_sticky_capacity(ngx_uint_t members);


ngx_int_t
ngx_http_sticky_add_zone(ngx_conf_t *cf, ngx_http_sticky_srv_conf_t *scf)
{
    size_t               size, block;
    ngx_str_t            name;
    ngx_uint_t           blocks, alive;
    ngx_shm_zone_t      *running;
    ngx_pool_cleanup_t  *cln;

    name.len = sizeof("sticky_workers:") - 1 + scf->upstream->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "sticky_workers:%V", &scf->upstream->host);

    block = ngx_align(sticky_zone_bytes(ngx_http_sticky_capacity(scf->nmembers),
                                        ngx_http_sticky_process_slots(cf->cycle),
                                        scf->health.sessions_window),
                      ngx_pagesize);

    /*
     * Room for the new generation, the running one and those still alive;
     * when more are alive than that, a zone twice as large (a new zone, so
     * the old one stays with the processes that use it).
     */
    blocks = NGX_HTTP_STICKY_GENERATIONS;
    running = ngx_http_sticky_old_zone((ngx_cycle_t *) ngx_cycle, &name);
    alive = running ? ngx_http_sticky_generations_alive(running) : 0;

    while (blocks < alive + 2) {
        blocks *= 2;
    }

    size = blocks * block + 8 * ngx_pagesize;

    scf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_sticky_workers_module);
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
    scf->cycle = cf->cycle;
    scf->process_slot = -1;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_sticky_zone_cleanup;
    cln->data = scf;

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
 * Process slots of a configuration's state: one per worker process, and one
 * for the worker the master starts when one dies (the dead one's slot is
 * released at the next process check). While the configuration is parsed,
 * worker_processes may not be known yet: the number of CPUs then.
 */
static ngx_uint_t
ngx_http_sticky_process_slots(ngx_cycle_t *cycle)
{
    ngx_int_t         n;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    n = (ccf && ccf->worker_processes != NGX_CONF_UNSET)
        ? ccf->worker_processes : (ngx_int_t) ngx_ncpu;

    return (ngx_uint_t) ngx_max(n, 1) + 1;
}


/*
 * Called in the master while a configuration is loaded: with `data` (the
 * previous configuration's srv conf) when the zone's memory is reused.
 * Builds this configuration's generation; the running state is only read.
 */
static ngx_int_t
ngx_http_sticky_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_sticky_srv_conf_t  *oscf = data;

    size_t                         bytes;
    void                          *state;
    ngx_uint_t                     slots;
    sticky_error_t                 err;
    ngx_shm_zone_t                *old_zone;
    ngx_slab_pool_t               *shpool, *old_pool;
    sticky_zone_stats_t            stats;
    ngx_http_sticky_shctx_t       *sh, *old;
    ngx_http_sticky_generation_t  *gen, *from;
    ngx_http_sticky_srv_conf_t    *scf;

    scf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    slots = ngx_http_sticky_process_slots(scf->cycle);
    bytes = sticky_zone_bytes(scf->nmembers, slots,
                              scf->health.sessions_window);

    if (oscf) {
        sh = shpool->data;
        old = sh;
        old_pool = shpool;
        scf->zone_reused = 1;

        /* room taken by configurations whose processes are all gone */
        (void) ngx_http_sticky_reap_generations(shpool, shm_zone->shm.log);

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_sticky_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;

        shpool->log_ctx = ngx_slab_alloc(shpool, sizeof(" in zone \"\"")
                                                 + shm_zone->shm.name.len);
        if (shpool->log_ctx) {
            ngx_sprintf(shpool->log_ctx, " in zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }

        /* ngx_cycle is still the configuration being replaced */
        old_zone = ngx_http_sticky_old_zone((ngx_cycle_t *) ngx_cycle,
                                            &shm_zone->shm.name);
        old_pool = old_zone ? (ngx_slab_pool_t *) old_zone->shm.addr : NULL;
        old = old_pool ? old_pool->data : NULL;
    }

    state = ngx_slab_alloc(shpool, bytes);
    gen = ngx_slab_calloc(shpool, sizeof(ngx_http_sticky_generation_t));

    if (state == NULL || gen == NULL) {
        if (state) {
            ngx_slab_free(shpool, state);
        }

        if (gen) {
            ngx_slab_free(shpool, gen);
        }

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "no room for the state of upstream \"%V\" in zone "
                      "\"%V\": worker processes of older configurations "
                      "still use it", &scf->upstream->host,
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    if (old_pool) {
        ngx_shmtx_lock(&old_pool->mutex);
    }

    from = old ? old->current : NULL;

    if (sticky_zone_build(scf->balancer, state, bytes, slots,
                          from ? from->state : NULL, from ? from->bytes : 0,
                          ngx_current_msec, &stats, &err)
        != 0)
    {
        if (old_pool) {
            ngx_shmtx_unlock(&old_pool->mutex);
        }

        ngx_slab_free(shpool, state);
        ngx_slab_free(shpool, gen);
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "%s in zone \"%V\"",
                      err.message, &shm_zone->shm.name);
        return NGX_ERROR;
    }

    if (old_pool) {
        ngx_shmtx_unlock(&old_pool->mutex);
    }

    ngx_shmtx_lock(&shpool->mutex);

    gen->state = state;
    gen->bytes = bytes;
    gen->serial = ++sh->serial;
    gen->status = NGX_HTTP_STICKY_GEN_BUILT;
    gen->next = sh->generations;
    sh->generations = gen;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "upstream \"%V\": state of %uz workers kept, %uz new, "
                  "%uz removed%s", &scf->upstream->host, stats.kept,
                  stats.added, stats.removed,
                  stats.fresh ? " (fresh start)" : "");

    scf->generation = gen;
    scf->state = state;
    scf->state_bytes = bytes;
    scf->process_slots = slots;

    return NGX_OK;
}


/*
 * init_module: the configuration is loaded and nothing can fail any more.
 * Each sticky upstream's generation becomes the current one.
 */
void
ngx_http_sticky_commit_zones(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_array_t                  *upstreams;
    ngx_http_sticky_srv_conf_t  **scfp;

    upstreams = ngx_http_sticky_upstreams(cycle);
    if (upstreams == NULL) {
        return;
    }

    scfp = upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {
        if (scfp[i]->generation) {
            ngx_http_sticky_commit_zone(scfp[i], cycle->log);
        }
    }
}


static void
ngx_http_sticky_commit_zone(ngx_http_sticky_srv_conf_t *scf, ngx_log_t *log)
{
    ngx_uint_t                     i, n, missing;
    ngx_shm_zone_t                *old_zone;
    sticky_error_t                 err;
    ngx_slab_pool_t               *shpool, *old_pool;
    sticky_process_t               children[NGX_MAX_PROCESSES];
    sticky_zone_stats_t            stats;
    ngx_http_sticky_shctx_t       *sh, *old;
    ngx_http_sticky_generation_t  *gen, *prev;

    n = ngx_http_sticky_children(children, NGX_MAX_PROCESSES);
    missing = 0;

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;
    sh = shpool->data;
    gen = scf->generation;

    if (scf->zone_reused) {
        old_pool = shpool;
        old = sh;

    } else {
        old_zone = ngx_http_sticky_old_zone((ngx_cycle_t *) ngx_cycle,
                                            &scf->shm_zone->shm.name);
        old_pool = old_zone ? (ngx_slab_pool_t *) old_zone->shm.addr : NULL;
        old = old_pool ? old_pool->data : NULL;
    }

    if (old_pool && old_pool != shpool) {
        ngx_shmtx_lock(&old_pool->mutex);
    }

    ngx_shmtx_lock(&shpool->mutex);

    prev = old ? old->current : NULL;

    if (gen->status == NGX_HTTP_STICKY_GEN_BUILT && prev && prev != gen) {

        /* what changed in the running state while this configuration
         * loaded (admin actions, health); failing that, the first build */
        if (sticky_zone_build(scf->balancer, gen->state, gen->bytes,
                              scf->process_slots, prev->state, prev->bytes,
                              ngx_current_msec, &stats, &err)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "upstream \"%V\": %s; the state read at the start "
                          "of the reload is used", &scf->upstream->host,
                          err.message);
        }

        prev->status = NGX_HTTP_STICKY_GEN_RETIRED;

        for (i = 0; i < n; i++) {
            if (sticky_process_attach(prev->state, children[i].pid,
                                      children[i].start_token)
                < 0)
            {
                /* a process it may have is unknown: it is never freed */
                prev->pinned = 1;
                missing++;
            }
        }
    }

    gen->status = NGX_HTTP_STICKY_GEN_CURRENT;
    sh->current = gen;
    scf->committed = 1;

    ngx_shmtx_unlock(&shpool->mutex);

    if (old_pool && old_pool != shpool) {
        ngx_shmtx_unlock(&old_pool->mutex);
    }

    if (missing) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upstream \"%V\": no process slot for %ui worker "
                      "processes of the replaced configuration: its state is "
                      "kept until restart", &scf->upstream->host, missing);
    }
}


/*
 * The configuration's pool is destroyed: a failed reload in the master
 * (then a generation of a reused zone is still BUILT and is freed; a zone
 * that was not reused is unmapped by nginx itself), or a configuration
 * replaced or left (then it was committed, its zone may be unmapped
 * already, and nothing is done here).
 */
static void
ngx_http_sticky_zone_cleanup(void *data)
{
    ngx_http_sticky_srv_conf_t  *scf = data;

    ngx_slab_pool_t  *shpool;

    if (scf->generation == NULL || !scf->zone_reused || scf->committed
        || (ngx_process != NGX_PROCESS_MASTER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    if (scf->generation->status == NGX_HTTP_STICKY_GEN_BUILT) {
        ngx_http_sticky_unlink_generation(shpool, scf->generation,
                                          ngx_cycle->log);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    scf->generation = NULL;
    scf->state = NULL;
}


/* Zone locked: `gen` leaves the zone's list and its memory is freed. */
void
ngx_http_sticky_unlink_generation(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_log_t *log)
{
    ngx_http_sticky_shctx_t        *sh;
    ngx_http_sticky_generation_t  **link;

    sh = shpool->data;

    for (link = &sh->generations; *link; link = &(*link)->next) {

        if (*link == gen) {
            *link = gen->next;

            if (gen->status == NGX_HTTP_STICKY_GEN_RETIRED) {
                ngx_log_error(NGX_LOG_INFO, log, 0,
                              "the state of replaced configuration %ui is "
                              "freed: none of its processes is left%s",
                              gen->serial,
                              shpool->log_ctx ? shpool->log_ctx : (u_char *) "");
            }

            ngx_slab_free_locked(shpool, gen->state);
            ngx_slab_free_locked(shpool, gen);
            return;
        }
    }
}


/* 1 while this process's configuration is the one the master runs. */
ngx_uint_t
ngx_http_sticky_zone_current(ngx_http_sticky_srv_conf_t *scf)
{
    ngx_uint_t        current;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    current = (scf->generation->status == NGX_HTTP_STICKY_GEN_CURRENT);
    ngx_shmtx_unlock(&shpool->mutex);

    return current;
}


/* Generations in the running zone that a process may still use. */
static ngx_uint_t
ngx_http_sticky_generations_alive(ngx_shm_zone_t *zone)
{
    ngx_uint_t                     n;
    ngx_slab_pool_t               *shpool;
    ngx_http_sticky_shctx_t       *sh;
    ngx_http_sticky_generation_t  *gen;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    (void) ngx_http_sticky_reap_generations(shpool, zone->shm.log);

    ngx_shmtx_lock(&shpool->mutex);

    sh = shpool->data;
    n = 0;

    for (gen = sh ? sh->generations : NULL; gen; gen = gen->next) {
        n++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return n;
}


/*
 * The zone `name` of `cycle`, if it is one of ours and mapped. While a
 * configuration loads, ngx_cycle is still the running one, whose zones
 * nginx frees only after initialising the new ones.
 */
static ngx_shm_zone_t *
ngx_http_sticky_old_zone(ngx_cycle_t *cycle, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    if (cycle == NULL || cycle->shared_memory.part.elts == NULL) {
        return NULL;
    }

    part = &cycle->shared_memory.part;
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

        if (zone[i].tag != &ngx_http_sticky_workers_module
            || zone[i].shm.name.len != name->len
            || ngx_strncmp(zone[i].shm.name.data, name->data, name->len) != 0
            || zone[i].shm.addr == NULL)
        {
            continue;
        }

        return &zone[i];
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
