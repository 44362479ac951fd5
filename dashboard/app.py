"""The dashboard's web app: the page, its JSON, `/metrics` and a health check, served by uvicorn.

    python3 main.py dashboard            # what `up` supervises; http://127.0.0.1:8050 by default

Starlette (an ASGI toolkit, no ORM or templating to carry) serves one static page and three small endpoints;
the sampling runs in one background thread, so a browser or a Prometheus scrape never waits on an engine.
The charts' JavaScript is plotly.js as the `plotly` package installs it: nothing is fetched from the internet.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard import metrics
from dashboard.collector import Collector

STATIC = Path(__file__).resolve().parent / "static"
# Found, not imported: the plotly package itself (a Python plotting library) is never loaded here.
PLOTLY_JS = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"


def build_app(collector: Collector) -> Starlette:
    async def page(_request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def plotly_js(_request) -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    async def snapshot(_request) -> Response:
        if collector.latest is None:
            return JSONResponse({"error": "no sample yet: the first one is being taken"}, status_code=503)
        return Response(json.dumps(collector.latest, default=str), media_type="application/json")

    async def prometheus(_request) -> Response:
        return Response(metrics.render(collector.latest), media_type=metrics.CONTENT_TYPE)

    async def health(_request) -> PlainTextResponse:
        return PlainTextResponse("ok" if collector.latest is not None else "starting", status_code=200)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        collector.start()
        yield
        collector.stop()

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/snapshot", snapshot),
            Route("/metrics", prometheus),
            Route("/healthz", health),
            Route("/vendor/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


def serve(collector: Collector, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(collector), host=host, port=port, log_level="warning", access_log=False)
