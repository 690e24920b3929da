package StickyStatus;

# Helpers for the sticky_status tests (t/4*.t): read the page as JSON, find a
# worker in it, send admin POSTs the way the dashboard and curl do.
#
#   my $json = status_json($t, $port, '/status');
#   my $w = worker($json, 'tomcats', 'tomcat1');
#   my $r = admin($t, $port, '/admin', upstream => 'tomcats',
#                 worker => 'tomcat1', activation => 'D');

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Test::More;

our @EXPORT_OK = qw(status_json worker admin form_encode decode_json_or_diag);

# GET $path?format=json; the decoded document, or undef (with a diag).
sub status_json {
    my ($t, $port, $path) = @_;
    $path .= ($path =~ /\?/ ? '&' : '?') . 'format=json';
    my $r = $t->get($port, $path);
    unless ($r->{status} == 200) {
        diag("GET $path: status $r->{status}: $r->{body}");
        return undef;
    }
    return decode_json_or_diag($r->{body});
}

sub decode_json_or_diag {
    my ($text) = @_;
    my $doc = eval { JSON::PP->new->utf8->decode($text) };
    diag("not JSON ($@): $text") unless $doc;
    return $doc;
}

# The worker $name of upstream $upstream in a decoded document.
sub worker {
    my ($doc, $upstream, $name) = @_;
    return undef unless $doc;
    for my $u (@{$doc->{upstreams}}) {
        next unless $u->{name} eq $upstream;
        for my $w (@{$u->{workers}}) {
            return $w if $w->{name} eq $name;
        }
    }
    return undef;
}

sub form_encode {
    my (@pairs) = @_;
    my @out;
    while (my ($k, $v) = splice @pairs, 0, 2) {
        for ($k, $v) {
            s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
        }
        push @out, "$k=$v";
    }
    return join '&', @out;
}

# An admin POST as the dashboard sends it (X-Sticky-Admin, a form body);
# %opts may hold headers => {...} to add or override (undef removes one).
sub admin {
    my ($t, $port, $path, @fields) = @_;
    my %headers = ('X-Sticky-Admin' => '1',
                   'Content-Type' => 'application/x-www-form-urlencoded');
    if (@fields && ref $fields[-1] eq 'HASH') {
        my $extra = pop @fields;
        for (keys %$extra) {
            if (defined $extra->{$_}) { $headers{$_} = $extra->{$_} }
            else { delete $headers{$_} }
        }
    }
    return $t->request($port, 'POST', $path, form_encode(@fields), %headers);
}

1;
