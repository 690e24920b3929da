/*
 * The processes that use a zone's generations (the books are the core's:
 * sticky_process_*). Each worker process takes a slot in its own
 * configuration's state when it starts and gives it back when it exits; the
 * attempts and probe claims it holds are counted in its slot.
 *
 * A process killed with its requests running cannot give them back. Once a
 * second, one process per zone asks the kernel which processes of the
 * zone's generations are gone: /proc/PID/stat tells a live process from a
 * zombie, and its start time tells it from a later process that was given
 * the same pid; without /proc, kill(pid, 0) says whether the pid exists.
 * What a gone process held is released (in-flight counts, OK/BUSY, probe
 * claims), and a replaced configuration's generation with no process left
 * is freed. The kernel is asked with no lock held.
 */

#include "ngx_http_sticky_module.h"


/* one process per zone checks the others this often */
#define NGX_HTTP_STICKY_CHECK_PERIOD  1000
/* retired generations looked at per check */
#define NGX_HTTP_STICKY_SWEEP         8


static ngx_uint_t ngx_http_sticky_sweep(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_uint_t serial,
    ngx_http_sticky_srv_conf_t *scf, ngx_log_t *log);
static ngx_uint_t ngx_http_sticky_generation_listed(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_uint_t serial);
static uint64_t ngx_http_sticky_start_token(ngx_pid_t pid,
    ngx_uint_t *zombie);
static ngx_uint_t ngx_http_sticky_process_gone(ngx_pid_t pid, uint64_t token);


/* init_process of a worker: a slot in each sticky upstream's state. */
ngx_int_t
ngx_http_sticky_attach_process(ngx_cycle_t *cycle)
{
    uint64_t                      token;
    ngx_uint_t                    i, zombie;
    ngx_array_t                  *upstreams;
    ngx_slab_pool_t              *shpool;
    ngx_http_sticky_srv_conf_t   *scf, **scfp;

    upstreams = ngx_http_sticky_upstreams(cycle);
    scfp = upstreams->elts;
    token = ngx_http_sticky_start_token(ngx_pid, &zombie);

    for (i = 0; i < upstreams->nelts; i++) {
        scf = scfp[i];

        shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);
        scf->process_slot = sticky_process_attach(scf->state,
                                                  (unsigned) ngx_pid, token);
        ngx_shmtx_unlock(&shpool->mutex);

        if (scf->process_slot < 0) {
            /* a dead process's slot, not yet released */
            (void) ngx_http_sticky_sweep(shpool, scf->generation,
                                         scf->generation->serial, scf,
                                         cycle->log);

            ngx_shmtx_lock(&shpool->mutex);
            scf->process_slot = sticky_process_attach(scf->state,
                                                      (unsigned) ngx_pid,
                                                      token);
            ngx_shmtx_unlock(&shpool->mutex);
        }

        if (scf->process_slot < 0) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "upstream \"%V\": no process slot is free: if this "
                          "process dies, its requests stay counted in flight",
                          &scf->upstream->host);
        }
    }

    return NGX_OK;
}


/*
 * exit_process of a worker: the slot is given back; the last process of a
 * replaced configuration frees its generation.
 */
void
ngx_http_sticky_detach_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_array_t                   *upstreams;
    ngx_slab_pool_t               *shpool;
    ngx_http_sticky_srv_conf_t    *scf, **scfp;
    ngx_http_sticky_generation_t  *gen;

    upstreams = ngx_http_sticky_upstreams(cycle);
    if (upstreams == NULL) {
        return;
    }

    scfp = upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {
        scf = scfp[i];

        if (scf->process_slot < 0) {
            continue;
        }

        shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        /* requests cut short by worker_shutdown_timeout end here */
        (void) sticky_process_release(scf->balancer, scf->state,
                                      (int) scf->process_slot,
                                      ngx_current_msec, NULL, 0);
        scf->process_slot = -1;

        gen = scf->generation;

        if (gen->status == NGX_HTTP_STICKY_GEN_RETIRED && !gen->pinned
            && sticky_processes(scf->state, NULL, 0) == 0)
        {
            ngx_http_sticky_unlink_generation(shpool, gen, cycle->log);
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }
}


/*
 * Timer, once a tick per upstream: when this process's turn has come, the
 * slots of gone processes are released in this configuration's state, and
 * replaced configurations with no process left are freed.
 */
void
ngx_http_sticky_check_processes(ngx_http_sticky_srv_conf_t *scf,
    ngx_log_t *log)
{
    ngx_int_t         due;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    due = sticky_process_check_due(scf->state, ngx_current_msec,
                                   NGX_HTTP_STICKY_CHECK_PERIOD);
    ngx_shmtx_unlock(&shpool->mutex);

    if (!due) {
        return;
    }

    (void) ngx_http_sticky_sweep(shpool, scf->generation,
                                 scf->generation->serial, scf, log);

    (void) ngx_http_sticky_reap_generations(shpool, log);
}


/*
 * Frees the replaced generations of a zone whose processes are all gone;
 * returns how many it freed. Any process, the master included.
 */
ngx_uint_t
ngx_http_sticky_reap_generations(ngx_slab_pool_t *shpool, ngx_log_t *log)
{
    ngx_uint_t                     i, n, freed;
    ngx_uint_t                     serial[NGX_HTTP_STICKY_SWEEP];
    ngx_http_sticky_shctx_t       *sh;
    ngx_http_sticky_generation_t  *gen, *list[NGX_HTTP_STICKY_SWEEP];

    n = 0;

    ngx_shmtx_lock(&shpool->mutex);

    sh = shpool->data;

    for (gen = sh ? sh->generations : NULL;
         gen && n < NGX_HTTP_STICKY_SWEEP;
         gen = gen->next)
    {
        if (gen->status == NGX_HTTP_STICKY_GEN_RETIRED && !gen->pinned) {
            list[n] = gen;
            serial[n] = gen->serial;
            n++;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    freed = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_sticky_sweep(shpool, list[i], serial[i], NULL, log)
            == 0)
        {
            freed++;
        }
    }

    return freed;
}


/*
 * Releases the slots of gone processes in one generation (the transitions
 * are logged when it is this process's own: `scf`). A retired generation
 * left with no process is freed. Returns the processes left, 0 when it was
 * freed or is no longer listed.
 */
static ngx_uint_t
ngx_http_sticky_sweep(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_uint_t serial,
    ngx_http_sticky_srv_conf_t *scf, ngx_log_t *log)
{
    size_t                i, j, n, left, members;
    u_char                any, gone[NGX_MAX_PROCESSES + 1];
    sticky_process_t      procs[NGX_MAX_PROCESSES + 1];
    sticky_transition_t  *t;

    ngx_shmtx_lock(&shpool->mutex);

    if (!ngx_http_sticky_generation_listed(shpool, gen, serial)) {
        ngx_shmtx_unlock(&shpool->mutex);
        return 0;
    }

    n = sticky_processes(gen->state, procs, NGX_MAX_PROCESSES + 1);
    n = ngx_min(n, NGX_MAX_PROCESSES + 1);

    ngx_shmtx_unlock(&shpool->mutex);

    any = 0;

    for (i = 0; i < n; i++) {
        gone[i] = (procs[i].pid != (unsigned) ngx_pid
                   && ngx_http_sticky_process_gone((ngx_pid_t) procs[i].pid,
                                                   procs[i].start_token));
        any |= gone[i];
    }

    /* room for a release's transitions: one per member at most */
    members = (scf && any) ? scf->nmembers : 0;
    t = members ? ngx_alloc(members * sizeof(sticky_transition_t), log) : NULL;
    if (t == NULL) {
        members = 0;
    }

    left = n;

    for (i = 0; i < n; i++) {

        if (!gone[i]) {
            continue;
        }

        ngx_shmtx_lock(&shpool->mutex);

        if (!ngx_http_sticky_generation_listed(shpool, gen, serial)) {
            ngx_shmtx_unlock(&shpool->mutex);
            break;
        }

        j = 0;

        if (sticky_process_find(gen->state, procs[i].pid) == procs[i].slot) {
            j = sticky_process_release(scf ? scf->balancer : NULL, gen->state,
                                       procs[i].slot, ngx_current_msec,
                                       t, members);
            left--;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        if (scf) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "upstream \"%V\": worker process %ui is gone, "
                          "what it held is released", &scf->upstream->host,
                          (ngx_uint_t) procs[i].pid);
        }

        while (j--) {
            ngx_http_sticky_log_transition(log, scf, &t[j]);
        }
    }

    if (t) {
        ngx_free(t);
    }

    ngx_shmtx_lock(&shpool->mutex);

    if (ngx_http_sticky_generation_listed(shpool, gen, serial)
        && gen->status == NGX_HTTP_STICKY_GEN_RETIRED && !gen->pinned
        && sticky_processes(gen->state, NULL, 0) == 0)
    {
        ngx_http_sticky_unlink_generation(shpool, gen, log);
        left = 0;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return left;
}


/* Zone locked: `gen` is still in the zone (not freed by another process). */
static ngx_uint_t
ngx_http_sticky_generation_listed(ngx_slab_pool_t *shpool,
    ngx_http_sticky_generation_t *gen, ngx_uint_t serial)
{
    ngx_http_sticky_shctx_t       *sh;
    ngx_http_sticky_generation_t  *g;

    sh = shpool->data;

    for (g = sh ? sh->generations : NULL; g; g = g->next) {
        if (g == gen) {
            return g->serial == serial;
        }
    }

    return 0;
}


/*
 * The master, when a configuration replaces another: the worker processes
 * forked for the replaced one, those that have not started yet included (its
 * state is kept while any of them lives). Writes up to `n` to `out`; the
 * kernel is asked here, before the caller takes the zone lock.
 */
ngx_uint_t
ngx_http_sticky_children(sticky_process_t *out, ngx_uint_t n)
{
    ngx_int_t   i;
    ngx_uint_t  found, zombie;

    found = 0;

    for (i = 0; i < ngx_last_process && found < n; i++) {

        if (ngx_processes[i].pid == -1
            || ngx_processes[i].exited
            || ngx_processes[i].exiting
            || ngx_processes[i].detached
            || ngx_processes[i].name == NULL
            || ngx_strcmp(ngx_processes[i].name, "worker process") != 0)
        {
            continue;
        }

        out[found].slot = -1;
        out[found].pid = (unsigned) ngx_processes[i].pid;
        out[found].start_token =
                   ngx_http_sticky_start_token(ngx_processes[i].pid, &zombie);
        found++;
    }

    return found;
}


static ngx_uint_t
ngx_http_sticky_process_gone(ngx_pid_t pid, uint64_t token)
{
    uint64_t    now;
    ngx_uint_t  zombie;

    now = ngx_http_sticky_start_token(pid, &zombie);

    if (zombie) {
        return 1;
    }

    if (now != 0) {
        return token != 0 && now != token;
    }

    return kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH;
}


/*
 * The process's start time from /proc/PID/stat (field 22, after the command
 * name in parentheses, which may itself hold spaces and parentheses); 0 when
 * it cannot be read. *zombie is set for a process that is gone: no such
 * entry, or a zombie or dead state.
 */
static uint64_t
ngx_http_sticky_start_token(ngx_pid_t pid, ngx_uint_t *zombie)
{
    int        fd;
    u_char    *p, *last, buf[512], path[sizeof("/proc//stat") + NGX_INT64_LEN];
    ssize_t    n;
    uint64_t   token;
    ngx_uint_t field;

    *zombie = 0;

    ngx_sprintf(path, "/proc/%P/stat%Z", pid);

    fd = open((char *) path, O_RDONLY);
    if (fd == -1) {
        /* no /proc at all: nothing is known */
        *zombie = (ngx_errno == NGX_ENOENT && access("/proc/self/stat", R_OK) == 0);
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    last = buf + n;
    p = last;

    while (p > buf && p[-1] != ')') {
        p--;
    }

    if (p == buf || last - p < 3) {
        return 0;
    }

    /* " S ...": the state */
    if (p[1] == 'Z' || p[1] == 'X' || p[1] == 'x') {
        *zombie = 1;
        return 0;
    }

    field = 2;                  /* the command name was field 2 */
    token = 0;

    for ( /* void */ ; p < last; p++) {

        if (*p == ' ') {
            field++;
            continue;
        }

        if (field == 22) {
            if (*p < '0' || *p > '9') {
                break;
            }

            token = token * 10 + (*p - '0');
        }
    }

    return token;
}
