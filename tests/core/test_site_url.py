"""Links in emails point where `make run` serves, whatever PORT it was given."""

import os
import subprocess
import sys

from django.conf import settings


def _site_url(**env):
    environment = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from config import settings; print(settings.SITE_URL)"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_site_url_follows_the_port_served_when_unset():
    assert _site_url(PORT="9123") == "http://127.0.0.1:9123"
    assert _site_url() == "http://127.0.0.1:8000"


def test_an_explicit_site_url_wins():
    assert _site_url(PORT="9123", SITE_URL="https://incidents.example.org/") == (
        "https://incidents.example.org"
    )

