"""The blotter: the web page the gateway serves at ``/``, from static files shipped in the package.

Why static files and no build step: the page is plain HTML, CSS and JavaScript modules that the
browser loads as they are (``static/``, package data), so what is in the repository is what runs, and
nothing is fetched from anywhere but this gateway at run time.

Headers say so too. The Content-Security-Policy allows scripts, styles, images and connections from
this origin only (no inline script, no eval): the page renders every value the platform sends with
``textContent``, and the policy is the second line of defence if a bug ever let markup through.
Assets are revalidated at every load (``no-cache`` with their ETag), so a gateway upgrade is seen at
the next reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _Assets(StaticFiles):
    """Static files with the page's security and caching headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_SECURITY_HEADERS)
        return response


def install_page(app: FastAPI) -> None:
    """Serve the blotter at ``/`` and its assets under ``/static/`` (neither is part of the API)."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=_SECURITY_HEADERS)

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.mount("/static", _Assets(directory=STATIC), name="static")


__all__ = ["STATIC", "install_page"]
