# What the browser tests (t/44-status-*.t) share: Debian's chromium,
# chromium-driver and python3-selenium, checked before a test starts
# anything. Never skipped: a missing piece is a failure, since `make deps`
# installs all three.
package BrowserTest;

use strict;
use warnings;
use Exporter 'import';
use FindBin;
use Test::More;

our @EXPORT_OK = qw(require_browser $PYTHON $BROWSER_DIR);

our $PYTHON = '/usr/bin/python3';                # Debian's, with python3-selenium
our $BROWSER_DIR = "$FindBin::Bin/browser";      # the drivers: t/browser/*.py

# Ends the test with one failure naming what is missing, if anything is.
sub require_browser {
    my $chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';
    my $driver = $ENV{CHROMEDRIVER} || '/usr/bin/chromedriver';
    my $missing = !-x $chromium ? "no $chromium (Debian's chromium)"
                : !-x $driver ? "no $driver (Debian's chromium-driver)"
                : system("$PYTHON -c 'import selenium' 2>/dev/null") != 0
                  ? "no selenium for $PYTHON (Debian's python3-selenium)"
                : '';
    return unless $missing;
    plan tests => 1;
    fail("the browser test can run: $missing");
    exit;
}

1;
