"""Browser journeys: Debian's chromium driven by Playwright against the live test server."""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls our
# tests make between browser steps are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    # CI installs chromium and sets E2E_REQUIRED=1, so there a missing browser fails.
    if os.environ.get("E2E_REQUIRED"):
        raise pytest.UsageError(f"E2E_REQUIRED is set but no chromium at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "e2e" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def shot(tmp_path):
    """`shot(page, "name")` saves name.png: into docs/screenshots/ (shown by the README) when
    UPDATE_SCREENSHOTS=1, otherwise into the test's temporary folder, so a test run leaves
    the tracked images alone."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def sign_in(live_server):
    """`sign_in(page, username)` signs in through the self-service sign-in page."""

    def do(page, username, password="pw", next_url="/"):
        page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    return do


@pytest.fixture
def admin_sign_in(live_server):
    """`admin_sign_in(page, username)` signs in to the admin afresh (cookies cleared first)."""

    def do(page, username, password="pw"):
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(
            page.get_by_role("link", name="Log out").or_(page.get_by_role("button", name="Log out"))
        ).to_be_visible()

    return do
