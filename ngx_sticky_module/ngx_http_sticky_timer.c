/*
 * One maintenance timer per worker process for all sticky upstreams: it
 * moves members whose recover_time is over back into use and decays load
 * values once per worker.maintain (the core keeps the time of the last decay
 * in the zone, so all processes together decay once). The timer is
 * cancelable: a quitting worker does not wait for it.
 */

#include "ngx_http_sticky_module.h"


#define NGX_HTTP_STICKY_TICK  1000


static void ngx_http_sticky_tick(ngx_event_t *ev);


ngx_int_t
ngx_http_sticky_init_timer(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev;

    ev = ngx_pcalloc(cycle->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->handler = ngx_http_sticky_tick;
    ev->log = cycle->log;
    ev->data = cycle;
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_HTTP_STICKY_TICK);

    return NGX_OK;
}


static void
ngx_http_sticky_tick(ngx_event_t *ev)
{
    size_t                          i, n;
    ngx_uint_t                      u;
    ngx_cycle_t                    *cycle = ev->data;
    ngx_slab_pool_t                *shpool;
    sticky_transition_t             t[32];
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;
    ngx_http_sticky_srv_conf_t     *scf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    umcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (u = 0; u < umcf->upstreams.nelts; u++) {

        if (uscfp[u]->srv_conf == NULL) {
            continue;
        }

        scf = ngx_http_conf_upstream_srv_conf(uscfp[u], ngx_http_sticky_module);

        if (scf->balancer == NULL || scf->state == NULL) {
            continue;
        }

        shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);
        n = sticky_maintain(scf->balancer, scf->state, ngx_current_msec, t, 32);
        ngx_shmtx_unlock(&shpool->mutex);

        for (i = 0; i < n; i++) {
            ngx_http_sticky_log_transition(ev->log, scf, &t[i]);
        }
    }

    ngx_add_timer(ev, NGX_HTTP_STICKY_TICK);
}
