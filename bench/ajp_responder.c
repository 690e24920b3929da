/*
 * A fast AJP/1.3 container for `make bench` (the ajp-callgrind part): the
 * AJP counterpart of the HTTP look-alike backends of bench/run.sh. Only
 * nginx's instructions are counted there, so this just has to be correct and
 * quick: one process, poll(), any number of ports and connections.
 *
 *   ajp_responder PORT NAME [PORT NAME ...]
 *
 * On 127.0.0.1:PORT it answers each FORWARD_REQUEST as Tomcat 10 does a small
 * servlet's: SEND_HEADERS (200, the reason "200", Content-Type text/plain,
 * Content-Length, and, when the request has no JSESSIONID cookie,
 * Set-Cookie: JSESSIONID=<32 hex>.NAME), one SEND_BODY_CHUNK "NAME\n" and
 * END_RESPONSE reuse=1; a CPING with a CPONG.
 * A request body (Content-Length > 0) is read and dropped as Tomcat reads
 * it: the packet that follows the request, then GET_BODY_CHUNKs for the
 * rest. Anything else closes the connection. Packets up to 65536 bytes.
 * The packets are those of src/ajp/ (wire.h: the framing, codes.h: the codes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_PACKET   65536
#define MAX_FDS      4096
#define IN_SIZE      (2 * MAX_PACKET)
#define OUT_SIZE     4096

enum { FORWARD_REQUEST = 2, CPING = 10 };
enum { SEND_BODY_CHUNK = 3, SEND_HEADERS = 4, END_RESPONSE = 5,
       GET_BODY_CHUNK = 6, CPONG = 9 };

typedef struct {
    int            listener;       /* 1: a listening socket */
    const char    *name;           /* the member's route, of the port */
    unsigned char *in;
    size_t         in_len;
    unsigned char  out[OUT_SIZE];
    size_t         out_len;
    size_t         out_pos;
    long           body_left;      /* request body bytes still to come */
    int            body_packet;    /* a body packet is expected */
    int            respond;        /* answer once the body is read */
    int            session;        /* the request had a JSESSIONID */
} conn_t;

static struct pollfd  pfd[MAX_FDS];
static conn_t        *conns[MAX_FDS];
static int            nfds;
static uint64_t       serial;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* --- reading packets ------------------------------------------------------- */

typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    int                   bad;
} reader_t;

static unsigned
get_int(reader_t *r)
{
    unsigned v;

    if (r->end - r->p < 2) {
        r->bad = 1;
        return 0;
    }
    v = (unsigned) r->p[0] << 8 | r->p[1];
    r->p += 2;
    return v;
}

static unsigned char
get_byte(reader_t *r)
{
    if (r->p >= r->end) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}

/* A string: its bytes (NULL for the null string 0xFFFF), *len set. */
static const unsigned char *
get_string(reader_t *r, size_t *len)
{
    const unsigned char *s;
    unsigned             n = get_int(r);

    *len = 0;
    if (r->bad || n == 0xFFFF) {
        return NULL;
    }
    if ((size_t) (r->end - r->p) < (size_t) n + 1 || r->p[n] != 0) {
        r->bad = 1;
        return NULL;
    }
    s = r->p;
    r->p += n + 1;
    *len = n;
    return s;
}

static int
contains(const unsigned char *s, size_t len, const char *what)
{
    size_t n = strlen(what), i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(s + i, what, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The parts of a FORWARD_REQUEST this needs; 0 when it is malformed. */
static int
read_request(conn_t *c, const unsigned char *payload, size_t len)
{
    reader_t              r = { payload + 1, payload + len, 0 };  /* after the type */
    const unsigned char  *v;
    size_t                n;
    unsigned              headers, i, code;
    int                   k;

    c->session = 0;
    c->body_left = 0;
    get_byte(&r);                                  /* method */
    for (k = 0; k < 5; k++) {                      /* protocol .. server_name */
        get_string(&r, &n);
    }
    get_int(&r);                                   /* server_port */
    get_byte(&r);                                  /* is_ssl */
    headers = get_int(&r);
    for (i = 0; i < headers && !r.bad; i++) {
        code = 0;
        if (r.p < r.end && *r.p == 0xA0) {
            code = get_int(&r);
        } else {
            get_string(&r, &n);
        }
        v = get_string(&r, &n);
        if (code == 0xA009 && v && contains(v, n, "JSESSIONID=")) {
            c->session = 1;
        } else if (code == 0xA008 && v) {
            c->body_left = strtol((const char *) v, NULL, 10);
        }
    }
    /* the attributes run to the 0xFF that ends the packet */
    return !r.bad && len > 0 && payload[len - 1] == 0xFF;
}

/* --- writing packets ------------------------------------------------------- */

static unsigned char *
put_int(unsigned char *p, unsigned v)
{
    *p++ = (unsigned char) (v >> 8);
    *p++ = (unsigned char) v;
    return p;
}

static unsigned char *
put_string(unsigned char *p, const char *s, size_t len)
{
    p = put_int(p, (unsigned) len);
    memcpy(p, s, len);
    p += len;
    *p++ = 0;
    return p;
}

/* Starts a packet at p; finish() sets its length. */
static unsigned char *
begin(unsigned char *p)
{
    p[0] = 'A';
    p[1] = 'B';
    return p + 4;
}

static unsigned char *
finish(unsigned char *start, unsigned char *end)
{
    put_int(start + 2, (unsigned) (end - start - 4));
    return end;
}

static void
respond(conn_t *c)
{
    unsigned char *p = c->out + c->out_len, *pkt;
    size_t         name_len = strlen(c->name), body_len = name_len + 1;
    char           text[128];
    int            n;

    pkt = p;
    p = begin(p);
    *p++ = SEND_HEADERS;
    p = put_int(p, 200);
    p = put_string(p, "200", 3);                          /* Tomcat 10's "reason" */
    p = put_int(p, c->session ? 2 : 3);
    p = put_int(p, 0xA001);                               /* Content-Type */
    p = put_string(p, "text/plain", 10);
    p = put_int(p, 0xA003);                               /* Content-Length */
    n = snprintf(text, sizeof(text), "%zu", body_len);
    p = put_string(p, text, (size_t) n);
    if (!c->session) {
        p = put_int(p, 0xA007);                           /* Set-Cookie */
        serial++;
        n = snprintf(text, sizeof(text), "JSESSIONID=%016llX%016llX.%s; Path=/",
                     (unsigned long long) serial * 0x9E3779B97F4A7C15ull,
                     (unsigned long long) serial, c->name);
        p = put_string(p, text, (size_t) n);
    }
    p = finish(pkt, p);

    pkt = p;
    p = begin(p);
    *p++ = SEND_BODY_CHUNK;
    p = put_int(p, (unsigned) body_len);
    memcpy(p, c->name, name_len);
    p += name_len;
    *p++ = '\n';
    *p++ = 0;
    p = finish(pkt, p);

    pkt = p;
    p = begin(p);
    *p++ = END_RESPONSE;
    *p++ = 1;                                             /* reuse */
    p = finish(pkt, p);

    c->out_len = (size_t) (p - c->out);
}

static void
ask_body(conn_t *c)
{
    unsigned char *pkt = c->out + c->out_len, *p;
    long           ask = c->body_left < MAX_PACKET - 6 ? c->body_left : MAX_PACKET - 6;

    p = begin(pkt);
    *p++ = GET_BODY_CHUNK;
    p = put_int(p, (unsigned) ask);
    c->out_len = (size_t) (finish(pkt, p) - c->out);
    c->body_packet = 1;
}

/* Handles the whole packets in c->in; 0: close the connection. */
static int
handle(conn_t *c)
{
    size_t off = 0, len;

    while (c->in_len - off >= 4 && c->out_len + 1024 < OUT_SIZE) {
        const unsigned char *h = c->in + off;

        if (h[0] != 0x12 || h[1] != 0x34) {
            return 0;
        }
        len = (size_t) h[2] << 8 | h[3];
        if (c->in_len - off < 4 + len) {
            break;
        }
        off += 4 + len;
        if (c->body_packet) {                       /* data length + data */
            long got = len >= 2 ? (long) ((size_t) h[4] << 8 | h[5]) : 0;

            c->body_packet = 0;
            c->body_left -= got;
            if (got == 0 || c->body_left <= 0) {
                c->body_left = 0;
            }
            if (c->body_left > 0) {
                ask_body(c);
            } else if (c->respond) {
                c->respond = 0;
                respond(c);
            }
            continue;
        }
        if (len == 1 && h[4] == CPING) {
            unsigned char *p = c->out + c->out_len;

            p[0] = 'A'; p[1] = 'B'; p[2] = 0; p[3] = 1; p[4] = CPONG;
            c->out_len += 5;
            continue;
        }
        if (len == 0 || h[4] != FORWARD_REQUEST || !read_request(c, h + 4, len)) {
            return 0;
        }
        if (c->body_left > 0) {                     /* the first packet follows */
            c->body_packet = 1;
            c->respond = 1;
        } else {
            respond(c);
        }
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return 1;
}

/* --- the loop ------------------------------------------------------------- */

static void
add(int fd, conn_t *c)
{
    if (nfds == MAX_FDS) {
        close(fd);
        free(c->in);
        free(c);
        return;
    }
    pfd[nfds].fd = fd;
    pfd[nfds].events = POLLIN;
    pfd[nfds].revents = 0;
    conns[nfds] = c;
    nfds++;
}

static void
drop(int i)
{
    close(pfd[i].fd);
    free(conns[i]->in);
    free(conns[i]);
    nfds--;
    pfd[i] = pfd[nfds];
    conns[i] = conns[nfds];
}

static void
listen_on(int port, const char *name)
{
    struct sockaddr_in sa;
    conn_t            *c;
    int                fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
        die("bind/listen");
    }
    c = calloc(1, sizeof(conn_t));
    if (c == NULL) {
        die("calloc");
    }
    c->listener = 1;
    c->name = name;
    add(fd, c);
}

static void
accept_all(conn_t *l, int lfd)
{
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        conn_t *c = calloc(1, sizeof(conn_t));

        if (c == NULL || (c->in = malloc(IN_SIZE)) == NULL) {
            die("malloc");
        }
        c->name = l->name;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        add(fd, c);
    }
}

/* Reads, answers, writes; 0: close. */
static int
serve(conn_t *c, int fd, short revents)
{
    ssize_t n;

    if ((revents & (POLLIN | POLLHUP | POLLERR)) && c->in_len < IN_SIZE) {
        n = read(fd, c->in + c->in_len, IN_SIZE - c->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return 0;
        }
        if (n > 0) {
            c->in_len += (size_t) n;
            if (!handle(c)) {
                return 0;
            }
        }
    }
    while (c->out_pos < c->out_len) {
        n = write(fd, c->out + c->out_pos, c->out_len - c->out_pos);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            return 0;
        }
        c->out_pos += (size_t) n;
    }
    if (c->out_pos == c->out_len) {
        c->out_pos = c->out_len = 0;
        if (c->in_len >= 4 && !handle(c)) {        /* held back for room */
            return 0;
        }
    }
    return 1;
}

int
main(int argc, char **argv)
{
    int i;

    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: ajp_responder PORT NAME [PORT NAME ...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 1; i < argc; i += 2) {
        listen_on(atoi(argv[i]), argv[i + 1]);
    }
    for (;;) {
        if (poll(pfd, (nfds_t) nfds, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("poll");
        }
        for (i = nfds - 1; i >= 0; i--) {
            if (pfd[i].revents == 0) {
                continue;
            }
            if (conns[i]->listener) {
                accept_all(conns[i], pfd[i].fd);
            } else if (!serve(conns[i], pfd[i].fd, pfd[i].revents)) {
                drop(i);
                continue;
            }
            pfd[i].events = conns[i]->out_pos < conns[i]->out_len ? POLLIN | POLLOUT : POLLIN;
        }
    }
}
