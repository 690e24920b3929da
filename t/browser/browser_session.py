"""A headless Debian chromium for the page tests, driven through
chromium-driver with python3-selenium (both Debian packages; no browser
download, no network).

BrowserSession opens one page of one origin with a fresh profile and
collects what a test must see as an error: console errors (a CSP violation
is one), uncaught exceptions, and any request to another origin (the page
must load nothing from outside).
"""
import base64
import json
import os
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')


def wait_until(condition, seconds, what):
    """Polls `condition` every 50 ms until it is true; raises after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError('waited %d s for %s' % (seconds, what))
        time.sleep(0.05)


def origin_of(url):
    parts = urlsplit(url)
    return '%s://%s' % (parts.scheme, parts.netloc)


class BrowserSession:
    def __init__(self, url, width, height):
        self.url = url
        self.origin = origin_of(url)
        self.width, self.height = width, height
        self.driver = None
        self._errors = []

    def __enter__(self):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                    '--no-first-run', '--disable-background-networking',
                    '--disable-component-update', '--disable-sync', '--disable-default-apps',
                    '--disable-extensions', '--metrics-recording-only',
                    '--disable-dev-shm-usage', '--window-size=%d,%d' % (self.width, self.height)):
            options.add_argument(arg)
        # The browser's console and the network events, read by errors().
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)
        self.viewport(self.width, self.height, mobile=False)
        return self

    def __exit__(self, *exc):
        if self.driver is not None:
            self.driver.quit()
        return False

    def open(self):
        self.driver.get(self.url)
        wait_until(lambda: self.script('return document.readyState;') == 'complete',
                   30, 'the page to load')

    def viewport(self, width, height, mobile):
        self.driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
            'width': width, 'height': height, 'deviceScaleFactor': 1, 'mobile': mobile})
        # Let the page lay itself out at the new size.
        self.script('return new Promise(r => requestAnimationFrame(() => '
                    'requestAnimationFrame(() => r(true))));')

    def script(self, source, *args):
        return self.driver.execute_script(source, *args)

    def exists(self, css):
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def attribute(self, css, name):
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0].get_attribute(name) if found else None

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def click(self, css):
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def screenshot(self, path, full_page):
        params = {'format': 'png'}
        if full_page:
            size = self.driver.execute_cdp_cmd('Page.getLayoutMetrics', {})['cssContentSize']
            params.update(captureBeyondViewport=True, clip={
                'x': 0, 'y': 0, 'width': size['width'], 'height': size['height'], 'scale': 1})
        data = self.driver.execute_cdp_cmd('Page.captureScreenshot', params)['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))

    def errors(self):
        """Console errors, uncaught exceptions and requests to other origins
        since the session began (each log is read once: call at the end)."""
        if self.driver is None:
            return self._errors
        for entry in self.driver.get_log('browser'):
            if entry.get('level') == 'SEVERE':
                self._errors.append(entry.get('message', ''))
        for entry in self.driver.get_log('performance'):
            message = json.loads(entry['message'])['message']
            if message.get('method') != 'Network.requestWillBeSent':
                continue
            url = message['params']['request']['url']
            if not url.startswith('data:') and origin_of(url) != self.origin:
                self._errors.append('external request: ' + url)
        return self._errors
