#!/usr/bin/python3
"""Drives Debian's chromium (headless, no network) against the sticky_status
dashboard as an operator would: load the page, press "Drain" on a worker,
wait until the page shows it drained, take screenshots.

    /usr/bin/python3 drain.py URL UPSTREAM WORKER SCREENSHOT.png [PHONE.png]

Uses only Debian's packages: python3-selenium and chromium-driver (which
drives /usr/bin/chromium). Prints one JSON line: what the page showed before
and after, the answer shown to the operator, and every console error, CSP
violation or request to another origin. Exits 0 when the page showed the
change, 1 otherwise. CHROMIUM and CHROMEDRIVER override the paths.
"""
import json
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
from browser_session import BrowserSession, wait_until


def main(argv):
    if len(argv) < 5:
        print('usage: drain.py URL UPSTREAM WORKER SCREENSHOT.png [PHONE.png]', file=sys.stderr)
        return 2
    url, upstream, worker, shot = argv[1:5]
    phone_shot = argv[5] if len(argv) > 5 else None
    result = {'errors': [], 'before': None, 'after': None, 'message': None}
    row = 'section[data-upstream="%s"] tr[data-worker="%s"]' % (upstream, worker)
    drain_button = row + ' button[data-field="activation"][data-value="D"]'

    with BrowserSession(url, width=1400, height=520) as browser:
        try:
            browser.open()
            result['before'] = browser.attribute(row, 'class')

            browser.click(drain_button)
            wait_until(lambda: browser.exists('#msg.ok'), 10, 'the answer #msg.ok')
            result['message'] = browser.text('#msg')
            # The page refreshes itself: wait for the row to show the drain.
            wait_until(lambda: 'a-D' in (browser.attribute(row, 'class') or '').split(),
                       10, 'the row to show a-D')
            result['after'] = browser.attribute(row, 'class')
            result['drain_button_disabled'] = browser.script(
                'return document.querySelector(arguments[0]).disabled;', drain_button)
            # A refresh on its own (every 2 s) keeps working.
            refreshed = browser.script("return document.body.getAttribute('data-refreshed');")
            wait_until(lambda: browser.script(
                "return document.body.getAttribute('data-refreshed');") != refreshed,
                10, 'the page to refresh itself')
            result['refreshes'] = True

            browser.screenshot(shot, full_page=True)
            if phone_shot:
                browser.viewport(390, 844, mobile=True)
                result['phone_overflow'] = browser.script(
                    'return document.documentElement.scrollWidth > window.innerWidth + 1;')
                browser.screenshot(phone_shot, full_page=False)
        except Exception as e:  # reported as JSON, like every other outcome
            result['fatal'] = '%s: %s' % (type(e).__name__, e)
        result['errors'] = browser.errors()

    print(json.dumps(result))
    return 0 if 'a-D' in (result['after'] or '').split() else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
