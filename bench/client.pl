#!/usr/bin/perl
# A fixed number of requests over one keep-alive connection, one after the
# other, with the same mix of session cookies as bench/sessions.lua (made-up
# sessions of tomcat1..3, NEW_PERCENT without a session). For callgrind,
# where wrk's open-ended load is no use. Core Perl only.
#
#   client.pl PORT COUNT [NEW_PERCENT]
# Exits non-zero unless every answer is a 200.
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $count, $new_percent) = @ARGV;
die "usage: client.pl PORT COUNT [NEW_PERCENT]\n" unless $port && $count;
$new_percent //= 10;
srand(20240601);

my @requests;
for my $i (0 .. 999) {
    my $cookie = '_ga=GA1.2.1234567890.1700000000; lang=en';
    if (int(rand(100)) >= $new_percent) {
        my $id = join '', map { sprintf '%08X', int(rand(0x7fffffff)) } 1 .. 4;
        $cookie = "_ga=GA1.2.1234567890.1700000000; JSESSIONID=$id.tomcat"
            . ($i % 3 + 1) . '; lang=en';
    }
    push @requests, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: $cookie\r\n\r\n";
}

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp', Timeout => 30)
    or die "connect $port: $!\n";
my $buf = '';
my $bad = 0;
for my $n (0 .. $count - 1) {
    print {$s} $requests[$n % @requests];
    # the status line and headers, then Content-Length bytes of body
    my $head;
    until (($head) = $buf =~ /^(.*?\r\n\r\n)/s) {
        my $got = sysread($s, $buf, 65536, length $buf);
        die "connection closed after $n answers\n" unless $got;
    }
    $buf = substr($buf, length $head);
    my ($len) = $head =~ /\r\nContent-Length:\s*(\d+)/i;
    die "no Content-Length in answer $n:\n$head" unless defined $len;
    while (length $buf < $len) {
        my $got = sysread($s, $buf, 65536, length $buf);
        die "connection closed in answer $n\n" unless $got;
    }
    $buf = substr($buf, $len);
    $bad++ unless $head =~ m{^HTTP/1\.1 200 };
}
close $s;
die "$bad of $count answers were not 200\n" if $bad;
