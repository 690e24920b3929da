/*
 * One maintenance timer per worker process for all sticky upstreams. Each
 * tick, under an upstream's zone lock: probe claims past their deadline are
 * dropped, local errors older than error_escalation_time become ERR,
 * members whose recover_time is over become ERR/REC, and once per
 * worker.maintain for all processes together (the core keeps the time in
 * the zone) load values decay. With probe=URI the tick then claims the
 * members due for a probe and sends the probes, after unlocking.
 *
 * The period is 1 s, or the shortest probe_interval when that is shorter:
 * recovery is noticed within a tick of recover_time, not within
 * worker.maintain as in mod_jk. The timer is cancelable and stops re-arming
 * when the process quits, so a quitting or reloading process never waits
 * for it.
 */

#include "ngx_http_sticky_module.h"


#define NGX_HTTP_STICKY_TICK         1000
/* probes one process sends per tick and upstream: the core claims no more
 * than it is given room for, so the others wait for a later tick */
#define NGX_HTTP_STICKY_CLAIMS       16


typedef struct {
    ngx_event_t           event;
    ngx_cycle_t          *cycle;
    ngx_msec_t            period;

    /* a tick's transitions: one per member of the largest upstream (a
     * member changes at most once per sticky_maintain()) */
    sticky_transition_t  *transitions;
} ngx_http_sticky_timer_t;


static void ngx_http_sticky_tick(ngx_event_t *ev);
static void ngx_http_sticky_maintain(ngx_http_sticky_timer_t *timer,
    ngx_http_sticky_srv_conf_t *scf, ngx_log_t *log);


/* Called in init_process, in worker processes only. */
ngx_int_t
ngx_http_sticky_init_timer(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i, members;
    ngx_msec_t                    period, tick;
    ngx_array_t                  *upstreams;
    ngx_http_sticky_timer_t      *timer;
    ngx_http_sticky_srv_conf_t  **scfp;

    upstreams = ngx_http_sticky_upstreams(cycle);
    scfp = upstreams->elts;
    period = NGX_HTTP_STICKY_TICK;
    members = 1;

    for (i = 0; i < upstreams->nelts; i++) {
        tick = (ngx_msec_t) sticky_balancer_tick_ms(scfp[i]->balancer);
        period = ngx_min(period, tick);
        members = ngx_max(members, scfp[i]->nmembers);
    }

    timer = ngx_pcalloc(cycle->pool, sizeof(ngx_http_sticky_timer_t));
    if (timer == NULL) {
        return NGX_ERROR;
    }

    timer->cycle = cycle;
    timer->period = period;

    timer->transitions = ngx_palloc(cycle->pool,
                                    members * sizeof(sticky_transition_t));
    if (timer->transitions == NULL) {
        return NGX_ERROR;
    }

    timer->event.handler = ngx_http_sticky_tick;
    timer->event.log = cycle->log;
    timer->event.data = timer;
    timer->event.cancelable = 1;

    ngx_add_timer(&timer->event, period);

    return NGX_OK;
}


static void
ngx_http_sticky_tick(ngx_event_t *ev)
{
    ngx_http_sticky_timer_t  *timer = ev->data;

    ngx_uint_t                    i;
    ngx_array_t                  *upstreams;
    ngx_http_sticky_srv_conf_t  **scfp;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    upstreams = ngx_http_sticky_upstreams(timer->cycle);
    scfp = upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {
        ngx_http_sticky_maintain(timer, scfp[i], ev->log);
        ngx_http_sticky_check_processes(scfp[i], ev->log);
    }

    ngx_add_timer(ev, timer->period);
}


/* One upstream's tick: the lock is held for the core's calls only. */
static void
ngx_http_sticky_maintain(ngx_http_sticky_timer_t *timer,
    ngx_http_sticky_srv_conf_t *scf, ngx_log_t *log)
{
    size_t                 i, n, claimed;
    ngx_msec_t             now;
    ngx_slab_pool_t       *shpool;
    sticky_transition_t   *t;
    sticky_probe_claim_t   claim[NGX_HTTP_STICKY_CLAIMS];

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;
    now = ngx_current_msec;
    claimed = 0;
    t = timer->transitions;

    ngx_shmtx_lock(&shpool->mutex);

    n = sticky_maintain(scf->balancer, scf->state, now, t, scf->nmembers);

    if (scf->probe_uri.len) {
        claimed = sticky_probe_claim(scf->balancer, scf->state, now,
                                     (unsigned) ngx_pid, claim,
                                     NGX_HTTP_STICKY_CLAIMS);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        ngx_http_sticky_log_transition(log, scf, &t[i]);
    }

    for (i = 0; i < claimed; i++) {

        if (claim[i].changed) {
            ngx_http_sticky_log_transition(log, scf, &claim[i].t);
        }

        ngx_http_sticky_probe(scf, claim[i].member, log);
    }
}
