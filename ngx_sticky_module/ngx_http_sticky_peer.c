/*
 * The balancer callbacks: init_peer once per request (read the session ids),
 * get per attempt (ask the core, under the zone lock), free per attempt
 * (report the outcome). Round robin's per-request data is set up too, and
 * kept consistent (`current`, `tried`, `conns`), so that nginx's SSL session
 * reuse, the keepalive module and `zone` keep working beside us.
 *
 * What an attempt's end says of its member (ngx_http_sticky_outcome()):
 * refused or timed out before the request went out, a broken or invalid
 * reply, a reply timeout, or an answer whose status fail_on_status judges.
 */

#include "ngx_http_sticky_module.h"


static ngx_int_t ngx_http_sticky_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_sticky_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
static void ngx_http_sticky_map_peers(ngx_http_sticky_srv_conf_t *scf,
    ngx_http_upstream_rr_peers_t *peers);
#if (NGX_DEBUG)
static void ngx_http_sticky_debug_decision(ngx_log_t *log,
    ngx_http_sticky_peer_data_t *sp);
#endif
static int ngx_http_sticky_outcome(ngx_peer_connection_t *pc,
    ngx_http_upstream_t *u, ngx_uint_t state, int *status);
static ngx_uint_t ngx_http_sticky_body_broken(ngx_http_upstream_t *u,
    ngx_connection_t *c);


/*
 * The transitions of one attempt: forced recovery (one per member) and the
 * start of the attempt. Sized at configuration time for the largest
 * upstream, in the master, so every worker process has its own copy; a
 * process handles one request at a time, and the buffer is read again only
 * after it is logged.
 */
static sticky_transition_t  *ngx_http_sticky_transitions;
static size_t                ngx_http_sticky_ntransitions;


/*
 * Called once per request, before the first attempt. The request pool gets
 * one small block: what selection needs across attempts (the session ids
 * are read again per attempt, from the request).
 */
ngx_int_t
ngx_http_sticky_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    size_t                        words;
    ngx_uint_t                    i;
    ngx_http_sticky_srv_conf_t   *scf;
    ngx_http_sticky_peer_data_t  *sp;

    scf = ngx_http_conf_upstream_srv_conf(us, ngx_http_sticky_workers_module);

    words = (scf->nmembers + 63) / 64;

    sp = ngx_pcalloc(r->pool, sizeof(ngx_http_sticky_peer_data_t)
                              + words * sizeof(uint64_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    sp->tried = (uint64_t *) (sp + 1);

    r->upstream->peer.data = &sp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_sticky_get_peer;
    r->upstream->peer.free = ngx_http_sticky_free_peer;

    if (!scf->peers_ready) {
        ngx_http_sticky_map_peers(scf, sp->rrp.peers);
    }

    /* a member without a usable address (port 0) is never chosen */
    for (i = 0; i < scf->nmembers; i++) {
        if (scf->peers[i]->down) {
            sp->tried[i / 64] |= (uint64_t) 1 << (i % 64);
        }
    }

    sp->request = r;
    sp->conf = scf;
    sp->member = -1;

    /*
     * worker.X.reply_timeout and socket_connect_timeout replace the
     * location's proxy_read_timeout and proxy_connect_timeout for attempts
     * on that member: get() points the request at the location's settings
     * as that member uses them, copies made once per worker process.
     */
    if (scf->member_timeouts) {
        sp->member_confs = ngx_http_sticky_member_confs(scf, r->upstream->conf,
                                                        r->connection->log);
        if (sp->member_confs == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_http_set_ctx(r, sp, ngx_http_sticky_workers_module);

    return NGX_OK;
}


/*
 * Member i is server i, and each server has one address (see
 * ngx_http_sticky_workers.c), so it is the i-th round robin peer. With
 * `zone` the peers are in shared memory only after configuration, hence
 * once per worker process, on its first request.
 */
static void
ngx_http_sticky_map_peers(ngx_http_sticky_srv_conf_t *scf,
    ngx_http_upstream_rr_peers_t *peers)
{
    ngx_uint_t                    i;
    ngx_http_upstream_rr_peer_t  *peer;

    ngx_http_upstream_rr_peers_rlock(peers);

    for (peer = peers->peer, i = 0;
         peer && i < scf->nmembers;
         peer = peer->next, i++)
    {
        scf->peers[i] = peer;
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    scf->peers_ready = 1;
}


/*
 * The session ids of the request: from the raw URI and the raw value of
 * every Cookie header, in order (nginx keeps those apart as it reads the
 * header, under any spelling of the name; it joins HTTP/2's cookie fields
 * into one).
 */
void
ngx_http_sticky_find_sessions(ngx_http_request_t *r,
    ngx_http_sticky_srv_conf_t *scf, sticky_sessions_t *sessions)
{
    size_t               n;
    sticky_str_t         cookies[32];
    ngx_table_elt_t     *h;
#if (nginx_version < 1023000)
    ngx_uint_t           i;
    ngx_table_elt_t    **hp;
#endif

    n = 0;

#if (nginx_version >= 1023000)

    for (h = r->headers_in.cookie;
         h && n < sizeof(cookies) / sizeof(cookies[0]);
         h = h->next)
    {
        cookies[n].data = (char *) h->value.data;
        cookies[n].len = h->value.len;
        n++;
    }

#else

    hp = r->headers_in.cookies.elts;

    for (i = 0;
         i < r->headers_in.cookies.nelts
         && n < sizeof(cookies) / sizeof(cookies[0]);
         i++)
    {
        h = hp[i];
        cookies[n].data = (char *) h->value.data;
        cookies[n].len = h->value.len;
        n++;
    }

#endif

    sticky_find_sessions(scf->balancer, (char *) r->unparsed_uri.data,
                         r->unparsed_uri.len, cookies, n, sessions);
}


/*
 * The member the request's first attempt will go to, or -1: the decision
 * get() makes, made ahead of it and changing nothing. For a variable that
 * is read while nginx builds the request to the upstream (proxy_set_header),
 * before any attempt is made.
 */
ngx_int_t
ngx_http_sticky_preview_member(ngx_http_request_t *r,
    ngx_http_sticky_srv_conf_t *scf)
{
    ngx_slab_pool_t    *shpool;
    sticky_sessions_t   sessions;
    sticky_decision_t   decision;

    if (scf->state == NULL) {
        return -1;
    }

    ngx_http_sticky_find_sessions(r, scf, &sessions);

    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    sticky_select(scf->balancer, scf->state, &sessions, NULL,
                  ngx_current_msec, &decision, NULL);
    ngx_shmtx_unlock(&shpool->mutex);

    return decision.verdict == STICKY_PICK_MEMBER ? decision.member : -1;
}


/* Called per attempt; returns NGX_BUSY only when nothing is usable. */
static ngx_int_t
ngx_http_sticky_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_sticky_peer_data_t  *sp = data;

    size_t                        i, n;
    ngx_uint_t                    changed;
    ngx_msec_t                    now;
    ngx_slab_pool_t              *shpool;
    sticky_sessions_t             sessions;
    uint64_t                      session;
    sticky_transition_t          *t;
    ngx_http_sticky_srv_conf_t   *scf;
    ngx_http_upstream_rr_peer_t  *peer;

    scf = sp->conf;
    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;
    now = ngx_current_msec;
    n = 0;
    changed = 0;

    /* room for every member and the attempt: see
     * ngx_http_sticky_size_transitions() */
    t = ngx_http_sticky_transitions;

    pc->cached = 0;
    pc->connection = NULL;

    /* outside the lock */
    ngx_http_sticky_find_sessions(sp->request, scf, &sessions);

    ngx_shmtx_lock(&shpool->mutex);

    sticky_select(scf->balancer, scf->state, &sessions, sp->tried, now,
                  &sp->decision, &session);

    /*
     * mod_jk's forced recovery: when every member is in error before this
     * request tried any, try them again rather than refuse the request.
     * Once per request, and not for members this request saw fail.
     */
    if (sp->decision.verdict == STICKY_PICK_NONE && sp->attempts == 0) {
        n = sticky_force_recovery(scf->balancer, scf->state, now, t,
                                  scf->nmembers);

        if (n) {
            sticky_select(scf->balancer, scf->state, &sessions, sp->tried,
                          now, &sp->decision, &session);
        }
    }

    if (sp->decision.verdict == STICKY_PICK_MEMBER) {
        changed = sticky_report_start(scf->balancer, scf->state,
                                      &sp->decision, session,
                                      scf->process_slot, now, &t[n]);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < n + changed; i++) {
        ngx_http_sticky_log_transition(pc->log, scf, &t[i]);
    }

#if (NGX_DEBUG)
    if (pc->log->log_level & NGX_LOG_DEBUG_HTTP) {
        ngx_http_sticky_debug_decision(pc->log, sp);
    }
#endif

    if (sp->decision.verdict != STICKY_PICK_MEMBER) {
        sp->force_503 = (sp->decision.verdict == STICKY_PICK_FORCE_503);
        sp->unavailable = 1;
        pc->name = sp->rrp.peers->name;
        return NGX_BUSY;
    }

    sp->member = sp->decision.member;
    sp->attempts++;
    sp->unavailable = 0;

    if (sp->member_confs) {
        sp->request->upstream->conf = sp->member_confs[sp->member];
    }

    if (scf->socket_keepalive[sp->member]) {
        pc->so_keepalive = 1;
    }

    sp->tried[sp->member / 64] |= (uint64_t) 1 << (sp->member % 64);

    peer = scf->peers[sp->member];

    ngx_http_upstream_rr_peers_rlock(sp->rrp.peers);
    ngx_http_upstream_rr_peer_lock(sp->rrp.peers, peer);

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;
    peer->conns++;

    ngx_http_upstream_rr_peer_unlock(sp->rrp.peers, peer);
    ngx_http_upstream_rr_peers_unlock(sp->rrp.peers);

    sp->rrp.current = peer;
    sp->rrp.tried[sp->member / (8 * sizeof(uintptr_t))]
        |= (uintptr_t) 1 << (sp->member % (8 * sizeof(uintptr_t)));

    return NGX_OK;
}


#if (NGX_DEBUG)

/* The decision of an attempt, as nginx's balancers trace theirs. */
static void
ngx_http_sticky_debug_decision(ngx_log_t *log, ngx_http_sticky_peer_data_t *sp)
{
    sticky_str_t        worker;
    sticky_decision_t  *d;

    d = &sp->decision;

    if (d->verdict != STICKY_PICK_MEMBER) {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                       "get sticky peer, try: %ui, session route: \"%*s\" -> "
                       "%s",
                       sp->attempts + 1, d->route.len, d->route.data,
                       d->verdict == STICKY_PICK_FORCE_503
                       ? "sticky_session_force: 503" : "no usable worker");
        return;
    }

    worker = sticky_balancer_member_name(sp->conf->balancer, d->member);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, log, 0,
                   "get sticky peer, try: %ui, session route: \"%*s\" -> "
                   "worker \"%*s\" (%s)",
                   sp->attempts + 1, d->route.len, d->route.data,
                   worker.len, worker.data, d->reason);
}

#endif


/* Called after each attempt that get() gave a peer. */
static void
ngx_http_sticky_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_sticky_peer_data_t  *sp = data;

    int                           outcome, status, judged;
    off_t                         sent, received;
    ngx_uint_t                    changed;
    ngx_slab_pool_t              *shpool;
    sticky_transition_t           t;
    ngx_http_upstream_t          *u;
    ngx_http_sticky_srv_conf_t   *scf;
    ngx_http_upstream_rr_peer_t  *peer;

    if (sp->member < 0) {
        return;
    }

    scf = sp->conf;
    u = sp->request->upstream;
    shpool = (ngx_slab_pool_t *) scf->shm_zone->shm.addr;

    sent = (u->state && u->state->bytes_sent > 0) ? u->state->bytes_sent : 0;
    received = (u->state && u->state->bytes_received > 0)
               ? u->state->bytes_received : 0;

    outcome = ngx_http_sticky_outcome(pc, u, state, &status);

    /* AJP: a CPing unanswered is a connect that failed (mod_jk's rule) */
    if (sp->cping_pending && outcome != STICKY_OUTCOME_SUCCESS) {
        outcome = STICKY_OUTCOME_CONNECT_FAILED;
    }

    sp->cping_pending = 0;

    if (outcome == STICKY_OUTCOME_CONNECT_FAILED) {
        sp->unavailable = 1;
    }

    /* the usual end (a success on a healthy member) takes no lock */
    judged = sticky_end_attempt(scf->balancer, scf->state, sp->member,
                                scf->process_slot, outcome, status,
                                sent, received);
    changed = 0;

    if (judged >= 0) {
        ngx_shmtx_lock(&shpool->mutex);

        changed = sticky_finish_end(scf->balancer, scf->state, sp->member,
                                    judged, sent, received,
                                    ngx_current_msec, &t);

        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "free sticky peer: member %i, outcome %d, status %d, "
                   "state %ui", sp->member, outcome, status, state);

    if (changed) {
        ngx_http_sticky_log_transition(pc->log, scf, &t);
    }

    peer = scf->peers[sp->member];

    ngx_http_upstream_rr_peers_rlock(sp->rrp.peers);
    ngx_http_upstream_rr_peer_lock(sp->rrp.peers, peer);

    peer->conns--;

    ngx_http_upstream_rr_peer_unlock(sp->rrp.peers, peer);
    ngx_http_upstream_rr_peers_unlock(sp->rrp.peers);

    sp->member = -1;

    if (pc->tries) {
        pc->tries--;
    }
}


/*
 * What an attempt says of its member, and the status it answered (0: none).
 *
 * NGX_PEER_FAILED (or NEXT) comes from ngx_http_upstream_next(): with a
 * status, nginx retries on it (proxy_next_upstream http_500 ...) and the
 * member did answer; without, the connection failed, before the request
 * went out (connect refused or timed out) or after (broken or invalid reply,
 * read timeout). A cached keepalive connection the member had closed says
 * nothing: nginx retries it without counting a try.
 *
 * State 0 comes from ngx_http_upstream_finalize_request(), also when the
 * body broke after the header was passed on: the pipe and the connection
 * tell. No status then means no answer yet (the client went away).
 */
static int
ngx_http_sticky_outcome(ngx_peer_connection_t *pc, ngx_http_upstream_t *u,
    ngx_uint_t state, int *status)
{
    ngx_connection_t  *c;

    c = pc->connection;
    *status = (int) u->headers_in.status_n;

    if (state & (NGX_PEER_FAILED|NGX_PEER_NEXT)) {

        if (*status) {
            return STICKY_OUTCOME_SUCCESS;
        }

        if (pc->cached) {
            return STICKY_OUTCOME_NEUTRAL;
        }

        if (!u->request_sent) {
            return STICKY_OUTCOME_CONNECT_FAILED;
        }

        if (c && c->read->timedout) {
            return STICKY_OUTCOME_REPLY_TIMEOUT;
        }

        return STICKY_OUTCOME_READ_FAILED;
    }

    if (*status == 0) {
        return STICKY_OUTCOME_NEUTRAL;
    }

    if (c && c->read->timedout) {
        return STICKY_OUTCOME_REPLY_TIMEOUT;
    }

    if (ngx_http_sticky_body_broken(u, c)) {
        return STICKY_OUTCOME_READ_FAILED;
    }

    return STICKY_OUTCOME_SUCCESS;
}


/* The response body stopped short: an error, or a close before its length. */
static ngx_uint_t
ngx_http_sticky_body_broken(ngx_http_upstream_t *u, ngx_connection_t *c)
{
    ngx_event_pipe_t  *p;

    if (u->buffering) {
        p = u->pipe;

        return p && (p->upstream_error
                     || (p->upstream_eof && !p->upstream_done
                         && p->length > 0));
    }

    return u->error
           || (c && (c->read->error || (c->read->eof && u->length > 0)));
}


/*
 * Configuration time, in the master: the transitions buffer of get() for
 * an upstream of `members` members. It only grows, and the master never
 * uses it: worker processes of an older configuration keep their own copy,
 * and a configuration that fails to load leaves a buffer that is merely
 * larger than needed.
 */
ngx_int_t
ngx_http_sticky_size_transitions(ngx_conf_t *cf, ngx_uint_t members)
{
    size_t                n;
    sticky_transition_t  *t;

    n = members + 1;

    if (n <= ngx_http_sticky_ntransitions) {
        return NGX_OK;
    }

    t = ngx_alloc(n * sizeof(sticky_transition_t), cf->log);
    if (t == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_sticky_transitions) {
        ngx_free(ngx_http_sticky_transitions);
    }

    ngx_http_sticky_transitions = t;
    ngx_http_sticky_ntransitions = n;

    return NGX_OK;
}
