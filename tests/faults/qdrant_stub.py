"""A stand-in for a Qdrant server: the REST calls a search makes, answered from qdrant-client's local
mode, on a real socket that a test can take down and bring back. The server is not what is under test;
how the service behaves while it is gone, and after it is back, is."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from fastapi import Body, FastAPI
from qdrant_client import QdrantClient, models


def stub_app(local: QdrantClient) -> FastAPI:
    app = FastAPI()

    def ok(result: Any) -> dict[str, Any]:
        return {"result": result, "status": "ok", "time": 0.0}

    @app.get("/collections/{name}/exists")
    def exists(name: str) -> dict[str, Any]:
        return ok({"exists": local.collection_exists(name)})

    @app.get("/collections/{name}")
    def collection(name: str) -> dict[str, Any]:
        return ok(local.get_collection(name).model_dump(mode="json"))

    def answer(name: str, request: models.QueryRequest) -> dict[str, Any]:
        response = local.query_points(
            name,
            query=request.query,
            prefetch=request.prefetch,
            using=request.using,
            query_filter=request.filter,
            limit=request.limit or 10,
            with_payload=request.with_payload if request.with_payload is not None else True,
            with_vectors=request.with_vector if request.with_vector is not None else False,
        )
        return {"points": [point.model_dump(mode="json") for point in response.points]}

    @app.post("/collections/{name}/points/query")
    def query(name: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return ok(answer(name, models.QueryRequest.model_validate(body)))

    # The explained (hybrid) search runs its rankings as one batch, then reads the winners' payloads.
    @app.post("/collections/{name}/points/query/batch")
    def query_batch(name: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        batch = models.QueryRequestBatch.model_validate(body)
        return ok([answer(name, request) for request in batch.searches])

    @app.post("/collections/{name}/points")
    def points(name: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        request = models.PointRequest.model_validate(body)
        found = local.retrieve(
            name,
            ids=request.ids,
            with_payload=request.with_payload if request.with_payload is not None else True,
            with_vectors=request.with_vector if request.with_vector is not None else False,
        )
        return ok([point.model_dump(mode="json") for point in found])

    return app


class StubServer:
    """Start and stop the stub on one fixed loopback port, as often as a test likes."""

    def __init__(self, local: QdrantClient, port: int) -> None:
        self._app = stub_app(local)
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self._server.started, "the Qdrant stub did not start"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)
        self._server = self._thread = None
