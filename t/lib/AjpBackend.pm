package AjpBackend;

# A fake AJP/1.3 container (Tomcat's AJP connector, as seen from the web
# server) for the ajp_pass tests (t/55..t/59), in core Perl.
#
#   my $port = start_ajp_backend($t, 'tomcat1', packet_size => 16384,
#                                secret => 's3cret', cping => 'never');
#   ... requests through nginx ...
#   my @reqs = ajp_requests($t, 'tomcat1');     # every request it decoded
#   my $echo = ajp_echo($r);                    # the echoed request of a response
#   set_ajp_backend($t, 'tomcat1', reuse => 0); # change it while it runs
#   stop_ajp_backend($t, 'tomcat1');            # kill -9 (StickyTest kills it at the end)
#
# One process listens (the test's child, leader of its own process group);
# each connection is served by a process of its own, so the code of a
# behaviour is plain blocking code: read a packet, answer, sleep. Killing the
# group (by the pid StickyTest keeps, negated) ends all of them; a connection
# process also ends by itself when the listener is gone.
#
# Options (start_ajp_backend, set_ajp_backend; per request, the query string
# overrides the ones marked *, as KEY=VALUE, or KEY.NAME=VALUE for the
# backend NAME only, e.g. ?do.tomcat1=hang):
#   behaviour *   what to answer a request, one of BEHAVIOURS below (default
#                 echo); the query key is `do`
#   reuse *       the END_RESPONSE reuse flag (default 1); with 0 the
#                 backend still keeps the connection open: nginx must close it
#   status *      the status of an echo (default 200)
#   delay *       seconds: delay, hang_then, flush_delay
#   ask *         bytes a GET_BODY_CHUNK asks (default packet_size - 6)
#   size *        bytes of a `bytes` answer
#   packet_size   the largest packet it accepts and sends (Tomcat's
#                 packetSize, default 8192): a bigger one from nginx closes the
#                 connection without an answer, as Tomcat does
#   secret        when set, a request without it gets 403 and no body (Tomcat)
#   cping         answer (default) | never | late=SECONDS
#   http          1: speak HTTP/1.1 instead of AJP (a 400 to whatever comes)
#
# BEHAVIOURS (one sub do_NAME each):
#   echo            reads the body as Tomcat does, answers 200 with the decoded
#                   request as JSON (see echo_document)
#   after_headers   sends SEND_HEADERS first, then reads the body (the first
#                   packet, then GET_BODY_CHUNKs), then echoes
#   flush_delay     "first\n", an empty SEND_BODY_CHUNK (Tomcat's flush),
#                   `delay` seconds, "second\n", end
#   delay           waits `delay` seconds, then echoes
#   hang            reads the request and its body, never answers
#   close_early     reads the request and the first body packet, closes
#   close_mid_body  headers announcing 1000 bytes, 10 of them, closes
#   bytes           `size` bytes of a known pattern, in full chunks
#   bad_magic, too_long, unknown_type, truncated_string,
#   body_before_headers, bytes_after_end, second_headers, headers_then_junk
#                   a malformed or out-of-order packet (see each sub); then it
#                   waits for nginx to close the connection and logs when
#
# The log (ajp-NAME.log in the test's directory) has one JSON object a line,
# `ev` saying what: conn (a connection opened: serial), cping, cpong_withheld,
# request (the whole decoded request), answered, malformed_sent,
# peer_closed (with `idle`: between requests or not, and `after` seconds
# since the last thing the backend sent), too_big, not_ajp (with the first
# line it got), protocol_error, secret_refused, body (the packets of a body).

use strict;
use warnings;

use Exporter 'import';
use Digest::MD5 qw(md5_hex);
use Fcntl qw(:flock);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(start_ajp_backend stop_ajp_backend set_ajp_backend
                    ajp_events ajp_requests ajp_echo ajp_connections
                    encode_forward_request ajp_client_request http_raw
                    %METHOD_CODE %REQUEST_HEADER_CODE);

my $JSON = JSON::PP->new->canonical->utf8;

# --- the protocol's tables (/work/shared/reference/ajp.md section 4) -----------

our %METHOD_CODE = (
    OPTIONS => 1, GET => 2, HEAD => 3, POST => 4, PUT => 5, DELETE => 6,
    TRACE => 7, PROPFIND => 8, PROPPATCH => 9, MKCOL => 10, COPY => 11,
    MOVE => 12, LOCK => 13, UNLOCK => 14, ACL => 15, REPORT => 16,
    'VERSION-CONTROL' => 17, CHECKIN => 18, CHECKOUT => 19, UNCHECKOUT => 20,
    SEARCH => 21, MKWORKSPACE => 22, UPDATE => 23, LABEL => 24, MERGE => 25,
    'BASELINE-CONTROL' => 26, MKACTIVITY => 27,
);
my %METHOD_NAME = reverse %METHOD_CODE;
my $SC_M_JK_STORED = 0xFF;

# request header codes 0xA001.. (lower case names)
our %REQUEST_HEADER_CODE;
{
    my @names = qw(accept accept-charset accept-encoding accept-language
                   authorization connection content-type content-length cookie
                   cookie2 host pragma referer user-agent);
    @REQUEST_HEADER_CODE{@names} = map { 0xA000 + $_ } 1 .. @names;
}
my %REQUEST_HEADER_NAME = reverse %REQUEST_HEADER_CODE;

my %RESPONSE_HEADER_CODE;
{
    my @names = qw(Content-Type Content-Language Content-Length Date
                   Last-Modified Location Set-Cookie Set-Cookie2 Servlet-Engine
                   Status WWW-Authenticate);
    @RESPONSE_HEADER_CODE{map { lc } @names} = map { 0xA000 + $_ } 1 .. @names;
}

my %ATTRIBUTE_NAME = (
    0x01 => 'context', 0x02 => 'servlet_path', 0x03 => 'remote_user',
    0x04 => 'auth_type', 0x05 => 'query_string', 0x06 => 'route',
    0x07 => 'ssl_cert', 0x08 => 'ssl_cipher', 0x09 => 'ssl_session',
    0x0A => 'req_attribute', 0x0B => 'ssl_key_size', 0x0C => 'secret',
    0x0D => 'stored_method',
);
my %ATTRIBUTE_CODE = reverse %ATTRIBUTE_NAME;

use constant {
    FORWARD_REQUEST => 2, CPING => 10, SHUTDOWN => 7,
    SEND_BODY_CHUNK => 3, SEND_HEADERS => 4, END_RESPONSE => 5,
    GET_BODY_CHUNK => 6, CPONG => 9,
};

# --- for the tests ------------------------------------------------------------

sub start_ajp_backend {
    my ($t, $name, %opts) = @_;
    my $port = $t->port("ajp:$name");
    my $listen;
    for (1 .. 50) {    # the port of a killed backend may linger a moment
        $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                        Proto => 'tcp', Listen => 128, ReuseAddr => 1)
            and last;
        sleep 0.1;
    }
    $listen or die "ajp backend $name: cannot listen on $port: $!";
    my %conf = (name => $name, port => $port, behaviour => 'echo', reuse => 1,
                status => 200, packet_size => 8192, cping => 'answer', http => 0,
                %opts);
    my $base = $t->dir . "/ajp-$name";
    unlink "$base.ctl";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $SIG{$_} = 'DEFAULT' for qw(TERM INT);
        _listener($listen, \%conf, $base);
        POSIX::_exit(0);
    }
    POSIX::setpgid($pid, $pid);    # set on both sides: no race with a kill
    close $listen;
    # a negative pid: StickyTest's DESTROY and kill_backend kill the group
    $t->{backends}{"ajp:$name"} = -$pid;
    return $port;
}

sub stop_ajp_backend {
    my ($t, $name) = @_;
    $t->kill_backend("ajp:$name");
}

# Changes options of a running backend: every connection reads them before
# each packet it waits for.
sub set_ajp_backend {
    my ($t, $name, %opts) = @_;
    my $ctl = $t->dir . "/ajp-$name.ctl";
    open my $fh, '>', "$ctl.tmp" or die "$ctl.tmp: $!";
    print $fh $JSON->encode(\%opts);
    close $fh;
    rename "$ctl.tmp", $ctl or die "rename $ctl: $!";
}

# Every event of the backend's log, in order (hashes); only those of `ev`
# when given.
sub ajp_events {
    my ($t, $name, $ev) = @_;
    my @events;
    for (split /\n/, $t->read_file("ajp-$name.log")) {
        my $e = eval { $JSON->decode($_) } or next;
        push @events, $e if !defined $ev || $e->{ev} eq $ev;
    }
    return @events;
}

sub ajp_requests { map { $_->{request} } ajp_events($_[0], $_[1], 'request') }

# The decoded request echoed in a response, or undef.
sub ajp_echo {
    my ($r) = @_;
    return undef unless ($r->{headers}{'content-type'}[0] // '') =~ m{json};
    return eval { $JSON->decode($r->{body}) };
}

# { serial => requests served on it } of the connections the backend saw.
sub ajp_connections {
    my ($t, $name) = @_;
    my %n;
    $n{$_->{serial}} //= 0 for ajp_events($t, $name, 'conn');
    $n{$_->{serial}}++ for ajp_events($t, $name, 'request');
    return \%n;
}

# One raw HTTP exchange with nginx: $request is sent as it is (the test
# writes every byte; an array of strings and \SECONDS sends in parts); reads until the server closes or `timeout` seconds
# (default 10). Returns { status, headers => { lc name => [values] }, body
# (de-chunked), complete (the whole body came: the final chunk, or
# Content-Length bytes, or the close of an HTTP/1.0 answer without either),
# raw, local_port (the client's port), took (seconds until the close),
# arrivals => [[seconds since sent, bytes so far]] }.
sub http_raw {
    my ($port, $request, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return { status => 0, body => '', raw => '', headers => {}, error => "$!" };
    my $local_port = $s->sockport;
    my $t0 = time;
    my @parts = ref $request ? @$request : ($request);
    for my $part (@parts) {    # [bytes, \SECONDS to wait, bytes, ...]
        if (ref $part) { sleep $$part } else { syswrite $s, $part }
    }
    my $sel = IO::Select->new($s);
    my ($raw, @arrivals) = ('');
    my $deadline = time + ($o{timeout} // 10);
    while (time < $deadline) {
        $sel->can_read($deadline - time) or last;
        my $n = sysread($s, $raw, 65536, length $raw);
        last unless $n;
        push @arrivals, [time - $t0, length $raw];
    }
    my $r = parse_http($raw);
    $r->{local_port} = $local_port;
    $r->{took} = time - $t0;
    $r->{arrivals} = \@arrivals;
    return $r;
}

sub parse_http {
    my ($raw) = @_;
    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    my @lines = split /\r\n/, $head // '';
    my ($proto, $status) = (shift(@lines) // '') =~ m{^(HTTP/\d\.\d) (\d+)};
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{$h{lc $k}}, $v;
    }
    my $r = { status => $status // 0, headers => \%h, raw => $raw, body => $rest // '',
              complete => 0 };
    if (($h{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        my ($body, $rest2) = ('', $rest // '');
        while ($rest2 =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            if ($n == 0) { $r->{complete} = 1; last }
            last if length $rest2 < $n + 2;
            $body .= substr($rest2, 0, $n);
            substr($rest2, 0, $n + 2) = '';
        }
        $r->{body} = $body;
    } elsif (defined $h{'content-length'}) {
        $r->{complete} = length($r->{body}) == $h{'content-length'}[0] ? 1 : 0;
    } else {
        $r->{complete} = defined $rest ? 1 : 0;
    }
    return $r;
}

# --- the listener ---------------------------------------------------------------

sub _listener {
    my ($listen, $conf, $base) = @_;
    $SIG{CHLD} = 'IGNORE';    # connection processes reap themselves
    my $serial = 0;
    my $listener = $$;
    while (1) {
        my $sock = $listen->accept or next;
        $serial++;
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $listen;
            my $b = { conf => $conf, base => $base, listener => $listener };
            my $c = { sock => $sock, serial => $serial, requests => 0, b => $b,
                      last_sent => time };
            $SIG{PIPE} = 'IGNORE';
            if (options($c)->{http}) { serve_http($c) } else { serve_ajp($c) }
            POSIX::_exit(0);
        }
        close $sock;
    }
}

# The backend's options now: start options, then the control file.
sub options {
    my ($c) = @_;
    my %o = %{$c->{b}{conf}};
    my $ctl = "$c->{b}{base}.ctl";
    if (-e $ctl) {
        open my $fh, '<', $ctl;
        local $/;
        my $more = $fh ? eval { $JSON->decode(<$fh> // '') } : undef;
        %o = (%o, %$more) if ref $more eq 'HASH';
    }
    return \%o;
}

sub log_event {
    my ($c, $ev, %fields) = @_;
    my $line = $JSON->encode({ t => sprintf('%.3f', time) + 0, ev => $ev,
                               serial => $c->{serial}, pid => $$, %fields }) . "\n";
    open my $fh, '>>', "$c->{b}{base}.log" or return;
    flock $fh, LOCK_EX;
    syswrite $fh, $line;
    close $fh;
}

# --- one connection -------------------------------------------------------------

sub serve_ajp {
    my ($c) = @_;
    log_event($c, 'conn');
    while (1) {
        my $p = read_packet($c, idle => 1) or return;
        if ($p->{type} == CPING) {
            answer_cping($c) or return;
        } elsif ($p->{type} == FORWARD_REQUEST) {
            serve_request($c, $p) or return close_connection($c);
        } else {
            log_event($c, 'protocol_error',
                      why => "packet type $p->{type} where a request was expected",
                      hex => unpack('H*', substr($p->{payload}, 0, 32)));
            return close_connection($c);
        }
    }
}

# CPING: CPONG at once, late, or never (the connection stays open).
sub answer_cping {
    my ($c) = @_;
    my $how = options($c)->{cping} // 'answer';
    log_event($c, 'cping', requests => $c->{requests}, how => $how);
    if ($how eq 'never') {
        log_event($c, 'cpong_withheld');
        wait_for_close($c, 120);
        return 0;
    }
    sleep $1 if $how =~ /^late=(\d+(?:\.\d+)?)$/;
    return send_packet($c, pack('C', CPONG));
}

sub serve_request {
    my ($c, $p) = @_;
    $c->{requests}++;
    my $req = eval { decode_forward_request($p->{payload}) };
    if (!$req) {
        log_event($c, 'protocol_error', why => "FORWARD_REQUEST: $@",
                  hex => unpack('H*', $p->{payload}));
        return 0;
    }
    $req->{packet_size} = $p->{size};
    $req->{conn} = $c->{serial};
    $req->{conn_request} = $c->{requests};
    log_event($c, 'request', request => $req);

    my $o = options($c);
    # KEY=VALUE for every backend, KEY.NAME=VALUE for the backend NAME only
    # (a request retried on another member behaves normally there)
    my %q = parse_query($req->{attr}{query_string});
    for my $k (qw(do reuse status delay ask size)) {
        my $v = $q{"$k.$o->{name}"} // $q{$k};
        $o->{$k eq 'do' ? 'behaviour' : $k} = $v if defined $v;
    }
    $c->{o} = $o;
    $c->{req} = $req;
    $c->{body} = { data => '', packets => [], packet_sizes => [], asked => [],
                   unrequested => 0 };

    if (defined $o->{secret} && ($req->{attr}{secret} // '') ne $o->{secret}) {
        return refuse_secret($c);
    }
    my $do = __PACKAGE__->can("do_$o->{behaviour}");
    if (!$do) {
        log_event($c, 'protocol_error', why => "unknown behaviour $o->{behaviour}");
        return 0;
    }
    return $do->($c);
}

# Tomcat with a `secret`: 403, no body, the connection is not reused.
sub refuse_secret {
    my ($c) = @_;
    log_event($c, 'secret_refused', got => $c->{req}{attr}{secret});
    send_headers($c, 403, 'Forbidden', []) or return 0;
    send_end($c, 0);
    return 0;
}

# --- behaviours: each returns 1 to keep the connection, 0 to close it -------------

sub do_echo {
    my ($c) = @_;
    read_body($c) or return 0;
    return echo($c);
}

sub echo {
    my ($c, %how) = @_;
    my $json = $JSON->encode(echo_document($c));
    unless ($how{headers_sent}) {
        send_headers($c, $c->{o}{status}, 'OK', response_headers($c, length $json)) or return 0;
    }
    send_body($c, $json) or return 0 unless swallows_body($c);
    return finish($c);
}

# Tomcat (AjpProcessor's swallowResponse) sends no body chunk for HEAD and
# for statuses that have no body.
sub swallows_body {
    my ($c) = @_;
    my $status = $c->{o}{status};
    return $c->{req}{method} eq 'HEAD' || $status < 200 || $status == 204
        || $status == 205 || $status == 304;
}

sub do_after_headers {
    my ($c) = @_;
    send_headers($c, $c->{o}{status}, 'OK', response_headers($c)) or return 0;
    read_body($c) or return 0;
    return echo($c, headers_sent => 1);
}

sub do_delay {
    my ($c) = @_;
    read_body($c) or return 0;
    sleep $c->{o}{delay} // 1;
    return echo($c);
}

sub do_flush_delay {
    my ($c) = @_;
    read_body($c) or return 0;
    send_headers($c, 200, 'OK', [['Content-Type', 'text/plain'],
                                 ['X-Backend', $c->{o}{name}]]) or return 0;
    send_chunk($c, "first\n") or return 0;
    send_chunk($c, '') or return 0;    # Tomcat's flush
    log_event($c, 'flushed');
    sleep $c->{o}{delay} // 1;
    send_chunk($c, "second\n") or return 0;
    return finish($c);
}

sub do_hang {
    my ($c) = @_;
    read_body($c) or return 0;
    wait_for_close($c, 300);
    return 0;
}

# Reads the request and the first body packet (if any), then closes without
# an answer: a POST whose body was partly sent.
sub do_close_early {
    my ($c) = @_;
    my $length = $c->{req}{content_length};
    read_body_packet($c, undef) if defined $length && $length > 0;
    log_event($c, 'closed_early', body => length $c->{body}{data});
    return 0;
}

sub do_close_mid_body {
    my ($c) = @_;
    read_body($c) or return 0;
    send_headers($c, 200, 'OK', [['Content-Length', 1000], ['Content-Type', 'text/plain'],
                                 ['X-Backend', $c->{o}{name}]]) or return 0;
    send_chunk($c, '0123456789');
    return 0;
}

sub do_bytes {
    my ($c) = @_;
    read_body($c) or return 0;
    my $size = $c->{o}{size} // 100000;
    send_headers($c, 200, 'OK', [['Content-Length', $size], ['Content-Type', 'text/plain'],
                                 ['X-Backend', $c->{o}{name}]]) or return 0;
    send_body($c, pattern($size)) or return 0;
    return finish($c);
}

# The malformed answers. Each sends its bytes, then waits for nginx to close.
sub do_bad_magic {
    my ($c) = @_;
    read_body($c) or return 0;
    return malformed($c, 'XY' . pack('n', 1) . pack('C', END_RESPONSE));
}

sub do_too_long {    # a packet one byte over packet_size, sent in full
    my ($c) = @_;
    read_body($c) or return 0;
    my $size = $c->{o}{packet_size} + 1;
    my $base = length headers_payload(200, 'OK', [['X-Pad', '']]);
    my $headers = headers_payload(200, 'OK', [['X-Pad', 'p' x ($size - 4 - $base)]]);
    return malformed($c, 'AB' . pack('n', length $headers) . $headers);
}

sub do_unknown_type {
    my ($c) = @_;
    read_body($c) or return 0;
    return malformed($c, 'AB' . pack('n', 1) . pack('C', 0x42));
}

sub do_truncated_string {    # the reason says 100 bytes, the packet ends after 5
    my ($c) = @_;
    read_body($c) or return 0;
    my $payload = pack('C n n', SEND_HEADERS, 200, 100) . 'OK...';
    return malformed($c, 'AB' . pack('n', length $payload) . $payload);
}

sub do_body_before_headers {
    my ($c) = @_;
    read_body($c) or return 0;
    return malformed($c, packet(pack('C n', SEND_BODY_CHUNK, 5) . "hello\0"));
}

sub do_second_headers {
    my ($c) = @_;
    read_body($c) or return 0;
    my $h = packet(headers_payload(200, 'OK', [['Content-Type', 'text/plain'],
                                               ['X-Backend', $c->{o}{name}]]));
    return malformed($c, $h . $h);
}

sub do_headers_then_junk {    # a good header, then a bad magic where the body is
    my ($c) = @_;
    read_body($c) or return 0;
    my $h = packet(headers_payload(200, 'OK', [['Content-Type', 'text/plain'],
                                               ['X-Backend', $c->{o}{name}]]));
    return malformed($c, $h . packet(pack('C n', SEND_BODY_CHUNK, 3) . "abc\0")
                         . 'XY' . pack('n', 1) . 'Z');
}

# A whole good answer, END_RESPONSE with reuse=1, then a stray packet in the
# same write: the connection must not be used again.
sub do_bytes_after_end {
    my ($c) = @_;
    read_body($c) or return 0;
    my $body = "complete\n";
    my $bytes = packet(headers_payload(200, 'OK', [['Content-Type', 'text/plain'],
                                                   ['Content-Length', length $body],
                                                   ['X-Backend', $c->{o}{name}]]))
        . packet(pack('C n', SEND_BODY_CHUNK, length $body) . "$body\0")
        . packet(pack('C C', END_RESPONSE, 1))
        . packet(pack('C', CPONG));
    log_event($c, 'malformed_sent', behaviour => $c->{o}{behaviour});
    write_all($c, $bytes) or return 0;
    # a request that still comes on this connection is logged by serve_ajp
    return 1;
}

sub malformed {
    my ($c, $bytes) = @_;
    log_event($c, 'malformed_sent', behaviour => $c->{o}{behaviour});
    write_all($c, $bytes) or return 0;
    wait_for_close($c, 120);
    return 0;
}

# --- the request body, read as Tomcat reads it --------------------------------------

# With a Content-Length > 0 the first body packet follows the request
# unasked; for the rest, GET_BODY_CHUNK asks `ask` bytes at a time until the
# length is reached. Without a Content-Length nothing is read (Tomcat asks
# only when the application reads).
sub read_body {
    my ($c) = @_;
    my $length = $c->{req}{content_length};
    my $body = $c->{body};
    return 1 unless defined $length && $length > 0;
    my $max = $c->{o}{packet_size} - 6;
    my $ask = $c->{o}{ask} && $c->{o}{ask} < $max ? $c->{o}{ask} : $max;
    read_body_packet($c, undef) // return 0;
    while (length $body->{data} < $length) {
        send_packet($c, pack('C n', GET_BODY_CHUNK, $ask)) or return 0;
        my $n = read_body_packet($c, $ask) // return 0;
        last if $n == 0;    # the empty packet: the web server has no more
    }
    log_event($c, 'body', length => length $body->{data},
              packets => $body->{packets}, packet_sizes => $body->{packet_sizes},
              asked => $body->{asked});
    return 1;
}

# One body packet: 0x1234, length, then a data length and the data (or
# nothing: the empty packet). Returns the data's length, undef on error.
sub read_body_packet {
    my ($c, $asked) = @_;
    my $p = read_packet($c, body => 1, timeout => 10) or return undef;
    my $body = $c->{body};
    push @{$body->{packet_sizes}}, $p->{size};
    push @{$body->{asked}}, $asked // 0;
    $body->{unrequested}++ unless defined $asked;
    if ($p->{size} == 4) {
        push @{$body->{packets}}, 0;
        return 0;
    }
    my $payload = $p->{payload};
    my $n = length($payload) >= 2 ? unpack('n', $payload) : -1;
    if ($n != length($payload) - 2) {
        log_event($c, 'protocol_error', why => "body packet: data length $n in a "
                  . "payload of " . length($payload) . " bytes");
        return undef;
    }
    if (defined $asked && $n > $asked) {
        log_event($c, 'protocol_error', why => "body packet of $n bytes, $asked asked");
        return undef;
    }
    push @{$body->{packets}}, $n;
    $body->{data} .= substr($payload, 2);
    return $n;
}

# --- decoding FORWARD_REQUEST --------------------------------------------------------

# The payload (after magic and length) of a FORWARD_REQUEST, as a hash:
#   method, method_code, protocol, uri, remote_addr, remote_host,
#   server_name, server_port, is_ssl,
#   headers      [[name, value, coded 0|1], ...] in order; coded names in
#                lower case, as the protocol spells them
#   header       { lc name => value } (the last of a name)
#   attributes   [[name, value], ...] in order; req_attribute as
#                ["req_attribute:NAME", value]; ssl_key_size an int
#   attr         { name => value } of the attributes (req_attribute:NAME too)
#   order        the attribute names in order
#   content_length   the Content-Length header's value, or undef
# Dies with the reason when the bytes are not a valid request.
sub decode_forward_request {
    my ($payload) = @_;
    my $d = { buf => $payload, pos => 0 };
    my %r;
    my $type = get_byte($d);
    die "type $type is not FORWARD_REQUEST\n" unless $type == FORWARD_REQUEST;
    $r{method_code} = get_byte($d);
    $r{method} = $METHOD_NAME{$r{method_code}};
    die "unknown method code $r{method_code}\n"
        unless defined $r{method} || $r{method_code} == $SC_M_JK_STORED;
    $r{$_} = get_string($d) for qw(protocol uri remote_addr remote_host server_name);
    $r{server_port} = get_int($d);
    $r{is_ssl} = get_byte($d);
    die "is_ssl is $r{is_ssl}\n" if $r{is_ssl} > 1;
    my $n = get_int($d);
    for (1 .. $n) {
        my ($name, $coded);
        if (peek_byte($d) == 0xA0) {
            my $code = get_int($d);
            $name = $REQUEST_HEADER_NAME{$code}
                // die sprintf("unknown request header code 0x%04X\n", $code);
            $coded = 1;
        } else {
            $name = get_string($d) // die "null header name\n";
            $coded = 0;
        }
        my $value = get_string($d) // die "null value of header $name\n";
        push @{$r{headers}}, [$name, $value, $coded];
        $r{header}{lc $name} = $value;
    }
    $r{headers} //= [];
    while (1) {
        my $code = get_byte($d);
        last if $code == 0xFF;
        my $name = $ATTRIBUTE_NAME{$code} // die sprintf("unknown attribute 0x%02X\n", $code);
        my $value;
        if ($name eq 'req_attribute') {
            $name .= ':' . (get_string($d) // die "null req_attribute name\n");
            $value = get_string($d);
        } elsif ($name eq 'ssl_key_size') {
            $value = get_int($d);
        } else {
            $value = get_string($d);
        }
        push @{$r{attributes}}, [$name, $value];
        push @{$r{order}}, $name;
        $r{attr}{$name} = $value;
    }
    $r{attributes} //= [];
    $r{order} //= [];
    $r{attr} //= {};
    die "bytes after the terminator\n" if $d->{pos} != length $d->{buf};
    if ($r{method_code} == $SC_M_JK_STORED) {
        $r{method} = $r{attr}{stored_method} // die "method 0xFF without stored_method\n";
    }
    $r{content_length} = $r{header}{'content-length'};
    return \%r;
}

sub need {
    my ($d, $n, $what) = @_;
    die "$what runs past the packet (at $d->{pos}, $n bytes)\n"
        if $d->{pos} + $n > length $d->{buf};
}

sub get_byte {
    my ($d) = @_;
    need($d, 1, 'a byte');
    return ord substr($d->{buf}, $d->{pos}++, 1);
}

sub peek_byte {
    my ($d) = @_;
    need($d, 1, 'a byte');
    return ord substr($d->{buf}, $d->{pos}, 1);
}

sub get_int {
    my ($d) = @_;
    need($d, 2, 'an int');
    my $v = unpack 'n', substr($d->{buf}, $d->{pos}, 2);
    $d->{pos} += 2;
    return $v;
}

# A string: length, bytes, NUL; length 0xFFFF is null (undef).
sub get_string {
    my ($d) = @_;
    my $len = get_int($d);
    return undef if $len == 0xFFFF;
    need($d, $len + 1, "a string of $len bytes");
    my $s = substr($d->{buf}, $d->{pos}, $len);
    die "string of $len bytes without its NUL\n"
        unless substr($d->{buf}, $d->{pos} + $len, 1) eq "\0";
    $d->{pos} += $len + 1;
    return $s;
}

# --- what the echo answers ---------------------------------------------------------

sub echo_document {
    my ($c) = @_;
    my $body = $c->{body};
    return {
        backend => $c->{o}{name},
        pid => $$,
        conn => $c->{serial},
        conn_request => $c->{requests},
        request => $c->{req},
        body => {
            length => length $body->{data},
            md5 => md5_hex($body->{data}),
            packets => $body->{packets},            # data bytes of each
            packet_sizes => $body->{packet_sizes},  # whole packets
            asked => $body->{asked},                # 0: came unasked
            unrequested => $body->{unrequested},
        },
    };
}

# Content-Type (coded), X-Backend (named), Content-Length when known, and a
# new session cookie (coded) when the request had none, like Tomcat with
# jvmRoute.
sub response_headers {
    my ($c, $length) = @_;
    my @h = (['Content-Type', 'application/json'], ['X-Backend', $c->{o}{name}]);
    push @h, ['Content-Length', $length] if defined $length;
    my $req = $c->{req};
    my $has = ($req->{header}{cookie} // '') =~ /JSESSIONID=/ || $req->{uri} =~ /;jsessionid=/;
    push @h, ['Set-Cookie', sprintf('JSESSIONID=%08X%04X%04X.%s; Path=/', $$, $c->{serial},
                                    $c->{requests}, $c->{o}{route} // $c->{o}{name})]
        unless $has;
    return \@h;
}

sub pattern {
    my ($n) = @_;
    my $unit = join '', map { sprintf "%07d\n", $_ } 0 .. 1023;
    return substr($unit x (int($n / length $unit) + 1), 0, $n);
}

# --- writing the container's packets --------------------------------------------------

sub packet { 'AB' . pack('n', length $_[0]) . $_[0] }

sub string { defined $_[0] ? pack('n', length $_[0]) . $_[0] . "\0" : pack('n', 0xFFFF) }

sub headers_payload {
    my ($status, $reason, $headers) = @_;
    my $p = pack('C n', SEND_HEADERS, $status) . string($reason) . pack('n', scalar @$headers);
    for (@$headers) {
        my ($name, $value) = @$_;
        my $code = $RESPONSE_HEADER_CODE{lc $name};
        $p .= (defined $code ? pack('n', $code) : string($name)) . string("$value");
    }
    return $p;
}

sub send_packet {
    my ($c, $payload) = @_;
    return write_all($c, packet($payload));
}

sub send_headers {
    my ($c, $status, $reason, $headers) = @_;
    return send_packet($c, headers_payload($status, $reason, $headers));
}

sub send_chunk {
    my ($c, $data) = @_;
    return send_packet($c, pack('C n', SEND_BODY_CHUNK, length $data) . $data . "\0");
}

# The data in chunks of the largest size a packet holds (packet_size - 8).
sub send_body {
    my ($c, $data) = @_;
    my $max = $c->{o}{packet_size} - 8;
    for (my $off = 0; $off < length $data; $off += $max) {
        send_chunk($c, substr($data, $off, $max)) or return 0;
    }
    return 1;
}

sub send_end {
    my ($c, $reuse) = @_;
    return send_packet($c, pack('C C', END_RESPONSE, $reuse ? 1 : 0));
}

# END_RESPONSE with the reuse flag. The connection stays open even with
# reuse=0: a request nginx should not send on it would show (the log has the
# serial of each request's connection); nginx is expected to close it.
sub finish {
    my ($c) = @_;
    my $reuse = $c->{o}{reuse} ? 1 : 0;
    send_end($c, $reuse) or return 0;
    log_event($c, 'answered', status => $c->{o}{status}, reuse => $reuse,
              behaviour => $c->{o}{behaviour});
    return 1;
}

sub write_all {
    my ($c, $bytes) = @_;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($c->{sock}, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            log_event($c, 'write_failed', error => "$!");
            return 0;
        }
        $off += $n;
    }
    $c->{last_sent} = time;
    return 1;
}

# --- reading the web server's packets ----------------------------------------------------

# Reads exactly $n bytes; undef when the peer closes, the listener is gone, or
# `timeout` seconds pass (then logs why).
sub read_exact {
    my ($c, $n, %o) = @_;
    my $buf = '';
    my $sel = IO::Select->new($c->{sock});
    my $deadline = defined $o{timeout} ? time + $o{timeout} : undef;
    while (length $buf < $n) {
        return undef if getppid() != $c->{b}{listener};
        if ($deadline && time > $deadline) {
            log_event($c, 'read_timeout', waiting_for => $o{what} // 'bytes');
            return undef;
        }
        next unless $sel->can_read(0.5);
        my $got = sysread($c->{sock}, $buf, $n - length $buf, length $buf);
        if (!$got) {
            log_event($c, 'peer_closed', idle => ($o{idle} && $buf eq '') ? 1 : 0,
                      requests => $c->{requests},
                      after => sprintf('%.3f', time - $c->{last_sent}) + 0,
                      error => defined $got ? '' : "$!");
            return undef;
        }
    }
    return $buf;
}

# One packet from the web server: { type, payload, size }; the empty packet
# (type -1) only where a body is read. undef (logged) on a close, a wrong
# magic (then the first line that came is logged: an HTTP request?), or a
# packet over packet_size (Tomcat: an error, the connection is closed).
sub read_packet {
    my ($c, %o) = @_;
    my $head = read_exact($c, 4, %o, what => 'a packet header') // return undef;
    if (substr($head, 0, 2) ne "\x12\x34") {
        my $more = '';
        if (IO::Select->new($c->{sock})->can_read(0.2)) {
            sysread($c->{sock}, $more, 4096);
        }
        my ($line) = ($head . $more) =~ /^([^\r\n]*)/;
        log_event($c, 'not_ajp', first_line => $line, hex => unpack('H*', $head));
        return undef;
    }
    my $len = unpack 'n', substr($head, 2, 2);
    my $size = $len + 4;
    my $max = options($c)->{packet_size};
    if ($size > $max) {
        log_event($c, 'too_big', size => $size, packet_size => $max);
        return undef;
    }
    if ($len == 0) {
        return { type => -1, payload => '', size => 4 } if $o{body};
        log_event($c, 'protocol_error', why => 'an empty packet where a request was expected');
        return undef;
    }
    my $payload = read_exact($c, $len, timeout => 10, what => 'a packet payload') // return undef;
    return { type => $o{body} ? -1 : ord($payload), payload => $payload, size => $size };
}

# After a malformed answer or a hang: waits (at most $limit seconds) for
# nginx to close the connection, which read_exact logs (peer_closed).
sub wait_for_close {
    my ($c, $limit) = @_;
    my $deadline = time + $limit;
    my $sel = IO::Select->new($c->{sock});
    while (time < $deadline) {
        return if getppid() != $c->{b}{listener};
        next unless $sel->can_read(0.5);
        my $got = sysread($c->{sock}, my $buf, 65536);
        if (!$got) {
            log_event($c, 'peer_closed', idle => 0, requests => $c->{requests},
                      after => sprintf('%.3f', time - $c->{last_sent}) + 0);
            return;
        }
        log_event($c, 'ignored_bytes', bytes => length $buf,
                  hex => unpack('H*', substr($buf, 0, 16)));
    }
    log_event($c, 'still_open', after => $limit);
}

sub close_connection {
    my ($c) = @_;
    log_event($c, 'closed_by_backend', requests => $c->{requests});
    close $c->{sock};
    return;
}

sub parse_query {
    my ($q) = @_;
    my %q;
    for (split /&/, $q // '') {
        my ($k, $v) = split /=/, $_, 2;
        $q{$k} = $v // '' if defined $k && length $k;
    }
    return %q;
}

# --- a backend that speaks HTTP -----------------------------------------------------

# What a Tomcat HTTP connector does with AJP bytes: 400, close.
sub serve_http {
    my ($c) = @_;
    log_event($c, 'conn');
    my $sel = IO::Select->new($c->{sock});
    my $got = '';
    $sel->can_read(5) and sysread($c->{sock}, $got, 65536);
    log_event($c, 'http_got', hex => unpack('H*', substr($got, 0, 16)));
    write_all($c, "HTTP/1.1 400 \r\nContent-Type: text/html;charset=utf-8\r\n"
              . "Content-Length: 11\r\nConnection: close\r\n\r\nBad Request");
    close $c->{sock};
}

# --- a client: the web server's side, for the self-test (t/59) -------------------------------

# A FORWARD_REQUEST packet (with magic and length) from a hash like the
# decoder's: method, protocol, uri, remote_addr, remote_host, server_name,
# server_port, is_ssl, headers [[name, value]] (coded when the protocol has
# a code), attributes [[name, value]] (req_attribute:NAME for pairs).
sub encode_forward_request {
    my (%r) = @_;
    my $code = $METHOD_CODE{$r{method}} // $SC_M_JK_STORED;
    my @attrs = @{$r{attributes} || []};
    unshift @attrs, ['stored_method', $r{method}] if $code == $SC_M_JK_STORED;
    my $p = pack('C C', FORWARD_REQUEST, $code)
        . join('', map { string($r{$_}) } qw(protocol uri remote_addr remote_host server_name))
        . pack('n C n', $r{server_port} // 80, $r{is_ssl} ? 1 : 0, scalar @{$r{headers} || []});
    for (@{$r{headers} || []}) {
        my ($name, $value) = @$_;
        my $hc = $REQUEST_HEADER_CODE{lc $name};
        $p .= (defined $hc ? pack('n', $hc) : string($name)) . string($value);
    }
    for (@attrs) {
        my ($name, $value) = @$_;
        if ($name =~ /^req_attribute:(.*)$/s) {
            $p .= pack('C', 0x0A) . string($1) . string($value);
        } elsif ($name eq 'ssl_key_size') {
            $p .= pack('C n', 0x0B, $value);
        } else {
            $p .= pack('C', $ATTRIBUTE_CODE{$name} // die "no attribute $name") . string($value);
        }
    }
    $p .= pack('C', 0xFF);
    return "\x12\x34" . pack('n', length $p) . $p;
}

# Sends raw bytes (a CPING, a request, body packets) on $sock and answers
# GET_BODY_CHUNKs from @$body_packets (data strings; the empty packet when
# none is left); returns the container's packets up to END_RESPONSE or CPONG
# as [type, decoded fields], or up to a close / `timeout` seconds.
sub ajp_client_request {
    my ($sock, $bytes, $body_packets, %o) = @_;
    syswrite $sock, $bytes if length $bytes;
    my @got;
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + ($o{timeout} // 5);
    while (time < $deadline) {
        while (length $buf >= 2) {
            return (@got, ['bad_magic']) if substr($buf, 0, 2) ne 'AB';
            last if length $buf < 4;
            my $len = unpack 'n', substr($buf, 2, 2);
            last if length $buf < 4 + $len;
            my $payload = substr($buf, 4, $len);
            substr($buf, 0, 4 + $len) = '';
            my $p = decode_container_packet($payload);
            push @got, $p;
            if ($p->[0] eq 'GET_BODY_CHUNK') {
                my $data = shift @$body_packets;
                syswrite $sock, defined $data && length $data
                    ? "\x12\x34" . pack('n n', length($data) + 2, length $data) . $data
                    : "\x12\x34\0\0";
            }
            return @got if $p->[0] =~ /^(END_RESPONSE|CPONG)$/;
        }
        $sel->can_read(0.1) or next;
        my $n = sysread($sock, $buf, 65536, length $buf);
        last unless $n;
    }
    return @got;
}

sub decode_container_packet {
    my ($payload) = @_;
    my $d = { buf => $payload, pos => 0 };
    my $type = get_byte($d);
    if ($type == SEND_HEADERS) {
        my %h = (status => get_int($d), reason => get_string($d));
        my $n = get_int($d);
        for (1 .. $n) {
            my $name = peek_byte($d) == 0xA0 ? sprintf('0x%04X', get_int($d)) : get_string($d);
            push @{$h{headers}}, [$name, get_string($d)];
        }
        return ['SEND_HEADERS', \%h];
    }
    if ($type == SEND_BODY_CHUNK) {
        my $n = get_int($d);
        return ['SEND_BODY_CHUNK', substr($payload, 3, $n)];
    }
    return ['END_RESPONSE', get_byte($d)] if $type == END_RESPONSE;
    return ['GET_BODY_CHUNK', get_int($d)] if $type == GET_BODY_CHUNK;
    return ['CPONG'] if $type == CPONG;
    return ["type $type"];
}

1;
