"""The loopback OpenID provider (tests/oidc_provider/server.js, the npm `oidc-provider`
package) for the tests: started once per test session, stopped at its end.

Node and npm are required, not optional: without them the tests that use the provider
fail (`.ci/run` and `make test` install the package with `npm ci`)."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

FOLDER = Path(__file__).resolve().parent / "oidc_provider"


class Provider:
    def __init__(self, process, issuer, client_id, client_secret):
        self.process = process
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret

    def reset(self):
        requests.post(f"{self.issuer}/test/reset", timeout=5).raise_for_status()

    def set_account(self, subject, **change):
        requests.put(
            f"{self.issuer}/test/accounts/{subject}", json=change, timeout=5
        ).raise_for_status()


def start_provider():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail(
            "node and npm are needed for the OpenID provider tests (apt-get install nodejs npm)"
        )
    if not (FOLDER / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=FOLDER, check=True, timeout=300
        )
    process = subprocess.Popen(
        [node, "server.js"],
        cwd=FOLDER,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail("The loopback OpenID provider did not start (tests/oidc_provider/server.js)")
    started = json.loads(line)
    return Provider(process, started["issuer"], started["client_id"], started["client_secret"])


def stop_provider(provider):
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
        provider.process.wait()


def configure(settings, provider, **extra):
    """Django's settings for the provider, as the environment would set them."""
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_PROVIDER_NAME = "Example SSO"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_GROUP_MAP = {"all-staff": ["Staff"], "ir-coordinators": ["Coordinators"]}
    settings.OIDC_TRUST_EMAIL = False
    settings.OIDC_LINK_PRIVILEGED = False
    settings.OIDC_ENABLED = True
    if "directory.oidc.OidcBackend" not in settings.AUTHENTICATION_BACKENDS:
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "directory.oidc.OidcBackend",
        ]
    for name, value in extra.items():
        setattr(settings, name, value)


def through_provider(start_url, username, password, *, browser=None, host="testserver"):
    """Follow the provider's pages from `start_url` (its authorization URL) as a browser
    would, signing in with `username` and `password` on its form; returns the URL it sends
    the browser back to on our side (`http://<host>/...`), or the last provider response."""
    browser = browser or requests.Session()
    url = start_url
    for _ in range(10):
        if urlsplit(url).hostname == host:
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["Location"])
            continue
        if "/interaction/" in url and "<form" in response.text:
            response = browser.post(
                f"{url}/login",
                data={"username": username, "password": password},
                allow_redirects=False,
                timeout=10,
            )
            if response.status_code not in (302, 303):
                return response
            url = urljoin(url, response.headers["Location"])
            continue
        form = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', response.text)
        if form and "Submitting" in response.text:  # the provider's self-submitting form
            fields = dict(
                re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text)
            )
            response = browser.post(
                urljoin(url, html.unescape(form.group(1))),
                data={key: html.unescape(value) for key, value in fields.items()},
                allow_redirects=False,
                timeout=10,
            )
            if response.status_code not in (302, 303):
                return response
            url = urljoin(url, response.headers["Location"])
            continue
        return response
    raise AssertionError("too many redirects at the provider")
