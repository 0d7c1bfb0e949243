"""`/docs` and `GET /` work with no internet: every file the page names comes from the API
itself (the Swagger UI wheel pinned in uv.lock), with the content type a browser accepts under
`X-Content-Type-Options: nosniff`, and nothing points at another host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from myhealth import __version__
from myhealth.storage.local_cluster import LocalCluster

from ..conftest import TEMPLATE
from .conftest import ClientFactory
from .process import ApiProcess, running_api

EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _Links(HTMLParser):
    """Every `src` and `href` attribute of a page, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def linked_urls(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


@pytest.fixture(scope="module")
def api(pg_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One real `myhealth api` process for this module (starting one takes seconds)."""
    database_url = pg_cluster.create_database("offline_docs", template=TEMPLATE)
    log_dir = tmp_path_factory.mktemp("offline-docs")
    # No drain delay on stop: nothing routes traffic to this process.
    with running_api(database_url, log_dir, API_SHUTDOWN_DELAY_SECONDS="0") as process:
        yield process


def test_the_docs_page_loads_every_asset_from_the_api_itself(api: ApiProcess) -> None:
    page = httpx.get(f"{api.url}/docs", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = linked_urls(page.text)
    # The script, the stylesheet, the icon and the start-up script: a page that lost one
    # would still parse, so the count is pinned.
    assert len(urls) == 4, urls
    assert "<script>" not in page.text, "an inline script would need 'unsafe-inline'"

    start_script = ""
    for url in urls:
        absolute = urljoin(str(page.url), url)
        assert urlsplit(absolute).netloc == urlsplit(api.url).netloc, f"off-host: {url}"
        asset = httpx.get(absolute, timeout=10)
        assert asset.status_code == 200, url
        suffix = Path(urlsplit(absolute).path).suffix
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert len(asset.content) > 0, url
        if url.endswith("start.js"):
            start_script = asset.text

    # The start-up script names the OpenAPI document; it is on this host too.
    named = re.findall(r'"url": "([^"]+)"', start_script)
    assert named == ["/openapi.json"]
    assert httpx.get(urljoin(api.url, named[0]), timeout=10).status_code == 200
    assert '"validatorUrl": null' in start_script

    # The page's policy lets the browser load nothing from anywhere else.
    policy = page.headers["content-security-policy"]
    assert "http" not in policy, policy
    assert "*" not in policy, policy
    assert "script-src 'self';" in policy


def test_the_index_names_the_version_and_links_that_answer(api: ApiProcess) -> None:
    index = httpx.get(f"{api.url}/", timeout=10)
    assert index.status_code == 200
    body = index.json()
    assert body["name"] == "myHealth API"
    assert body["version"] == __version__
    for name in ("docs", "openapi", "health", "ready"):
        assert httpx.get(urljoin(api.url, body["links"][name]), timeout=10).status_code == 200


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fcore.py", "index.html"])
def test_only_the_files_the_page_needs_are_served(
    make_client: ClientFactory, database_url: str, name: str
) -> None:
    response = make_client(database_url).get(f"/docs/static/{name}")

    assert response.status_code == 404
    assert response.json()["detail"] in ("no such file", "Not Found")  # unmatched: no `/`


def test_docs_and_index_stay_out_of_the_openapi_document(
    make_client: ClientFactory, database_url: str
) -> None:
    paths = make_client(database_url).get("/openapi.json").json()["paths"]

    assert not {"/", "/docs", "/docs/static/{name}"} & paths.keys()
