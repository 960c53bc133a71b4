"""Serving a model over HTTP: export, an inference service, micro-batching and a load test.

**Export.** :func:`export_model` writes a model twice: as a ``.keras`` archive (architecture,
weights and config, for Keras to load again) and with ``model.export`` as a TensorFlow
SavedModel (a graph with a ``serving_default`` signature, what TF Serving and other runtimes
load without the model's Python code). :func:`keras_predictor` and
:func:`saved_model_predictor` turn either into a plain function from a batch of inputs to a
batch of outputs, the only thing the service needs.

**The service.** :func:`create_app` builds a FastAPI app around such a function:
``POST /predict`` takes ``{"instances": [...]}`` (the request format of TF Serving's REST API),
validates it with pydantic (shape, numbers only, finite, in range, at most ``max_instances``)
and answers malformed requests with a 4xx whose message names the expected input;
``GET /health``, ``GET /metadata`` and ``GET /stats`` say whether it is up, what it serves and
how many model calls it made. With ``max_batch > 1`` a :class:`MicroBatcher` gathers
concurrent requests for up to ``max_wait_ms`` into one model call. The model always runs on
one worker thread (one replica), so the event loop keeps accepting requests meanwhile.

**Running and loading it.** :class:`Server` runs the app with uvicorn on 127.0.0.1 (a free
port, a background thread), waits until ``/health`` answers and always stops it.
:func:`load_test` sends a bounded number of requests with a fixed concurrency (at most
``time_limit_s`` seconds) and returns a :class:`LoadReport` with latency percentiles,
throughput and status counts.

>>> import httpx
>>> app = create_app(lambda x: x.sum(axis=1, keepdims=True), input_shape=(2,),
...                  class_names=["sum"], model_name="adder")
>>> with Server(app) as server:
...     ok = httpx.post(server.url + "/predict", json={"instances": [[1, 2]]})
...     bad = httpx.post(server.url + "/predict", json={"instances": [[1, 2, 3]]})
>>> ok.status_code, ok.json()["predictions"]
(200, [[3.0]])
>>> bad.status_code, bad.json()["detail"]
(422, 'instances: each instance must have shape (2,); got a batch of shape (1, 3)')
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import socket
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras  # Keras on first use: the load generator never needs it

__all__ = [
    "LoadReport",
    "artifact_bytes",
    "MicroBatcher",
    "Server",
    "create_app",
    "encode_instances",
    "export_model",
    "keras_predictor",
    "load_test",
    "saved_model_predictor",
]

PredictFn = Callable[[np.ndarray], Any]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# --- export and reload --------------------------------------------------------------------------


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def export_model(model: Any, directory: str | Path, *, name: str = "model") -> dict[str, Path]:
    """Save ``model`` as ``<directory>/<name>.keras`` and as a SavedModel in
    ``<directory>/<name>_savedmodel`` (``model.export``, its "Saved artifact" printout
    swallowed); return both paths.

    >>> import tempfile
    >>> from dlbook.config import import_keras; keras = import_keras()
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = export_model(m, tmp)
    ...     sorted(p.name for p in paths.values())
    ['model.keras', 'model_savedmodel']
    """
    if not hasattr(model, "export") or not hasattr(model, "save"):
        raise TypeError(f"model must be a built keras.Model, got {type(model).__name__}")
    if not name or "/" in name:
        raise ValueError(f"name must be a plain file name such as 'model', got {name!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"keras": directory / f"{name}.keras", "savedmodel": directory / f"{name}_savedmodel"}
    logger = logging.getLogger("tensorflow")       # its "Assets written to ..." notice
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", DeprecationWarning)   # Keras' numpy-2 notice
            model.save(paths["keras"])
            model.export(str(paths["savedmodel"]), format="tf_saved_model")
    finally:
        logger.setLevel(level)
    return paths


def artifact_bytes(path: str | Path) -> int:
    """Bytes on disk of a file, or of every file under a folder (a SavedModel).

    >>> artifact_bytes(__file__) > 0
    True
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; export the model first")
    return _size(path)


def keras_predictor(model: Any) -> PredictFn:
    """A function from a NumPy batch to the model's NumPy output: the model's call in
    inference mode, compiled once for any batch size (no retracing per size).

    >>> from dlbook.config import import_keras; keras = import_keras()
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> keras_predictor(m)(np.zeros((4, 3))).shape
    (4, 2)
    """
    if not callable(model) or not hasattr(model, "inputs"):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    import_keras()
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                     input_signature=[tf.TensorSpec((None, *shape), "float32")])
    return lambda x: fn(np.asarray(x, dtype="float32")).numpy()


def saved_model_predictor(path: str | Path, signature: str = "serving_default") -> PredictFn:
    """Load a SavedModel with TensorFlow alone (no Keras, no model code) and return a function
    that calls its ``signature`` on a NumPy batch and returns its only output.

    >>> import tempfile
    >>> from dlbook.config import import_keras; keras = import_keras()
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     predict = saved_model_predictor(export_model(m, tmp)["savedmodel"])
    ...     predict(np.ones((5, 3))).shape
    (5, 2)
    """
    import_keras()                       # TensorFlow, without its C-level start-up notices
    import tensorflow as tf

    path = Path(path)
    if not (path / "saved_model.pb").exists():
        raise FileNotFoundError(f"{path} holds no saved_model.pb; write one with model.export()")
    loaded = tf.saved_model.load(str(path))
    if signature not in loaded.signatures:
        raise ValueError(f"no signature {signature!r}; the SavedModel has {list(loaded.signatures)}")
    fn = loaded.signatures[signature]
    (arg,) = fn.structured_input_signature[1].keys()
    (out,) = fn.structured_outputs.keys()

    def predict(x: np.ndarray) -> np.ndarray:
        return fn(**{arg: tf.constant(np.asarray(x, dtype="float32"))})[out].numpy()

    predict.loaded = loaded  # keep the graph alive as long as the function
    return predict


# --- request validation -------------------------------------------------------------------------


class TooManyInstances(ValueError):
    """A request holds more instances than the service accepts in one call."""


def _holds_bool(value: Any) -> bool:
    """Whether a JSON booleans hides among numbers: NumPy reads ``[1, true]`` as ``[1, 1]``.
    Rows are checked with one C-level pass each, so a 28x28 image costs microseconds."""
    if type(value) is bool:
        return True
    if isinstance(value, list) and value:
        if isinstance(value[0], list):
            return any(map(_holds_bool, value))
        return bool in set(map(type, value))
    return False


def _as_batch(instances: Any, input_shape: tuple[int, ...],
              value_range: tuple[float, float] | None, max_instances: int) -> np.ndarray:
    """The instances as a float32 batch, or a ValueError that says what is wrong."""
    expected = f"each instance must have shape {input_shape}"
    if not isinstance(instances, list) or not instances:
        raise ValueError(f"instances must be a non-empty list; {expected}")
    if len(instances) > max_instances:
        raise TooManyInstances(f"{len(instances)} instances in one request; send at most "
                               f"{max_instances} (split the batch)")
    try:
        x = np.asarray(instances)
    except ValueError:
        raise ValueError(f"instances are ragged (their lists differ in length); {expected}") from None
    if x.dtype.kind not in "iuf" or _holds_bool(instances):
        raise ValueError(f"instances must hold numbers only (no strings, nulls or booleans); "
                         f"{expected}")
    if x.shape[1:] != input_shape:
        raise ValueError(f"{expected}; got a batch of shape {x.shape}")
    x = x.astype("float32")
    if not np.isfinite(x).all():
        raise ValueError("instances hold NaN or infinite values; send finite numbers")
    if value_range is not None and (x.min() < value_range[0] or x.max() > value_range[1]):
        raise ValueError(f"values must lie in [{value_range[0]:g}, {value_range[1]:g}], got "
                         f"{x.min():g} to {x.max():g}")
    return x


def encode_instances(x: Any) -> bytes:
    """The JSON body of a ``/predict`` request for the batch ``x`` (integers stay integers,
    which keeps pixel values short on the wire).

    >>> encode_instances(np.array([[0, 255]], dtype="uint8"))
    b'{"instances":[[0,255]]}'
    """
    import json

    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (n, ...), got shape {x.shape}; one instance needs x[None]")
    if x.dtype.kind == "f" and np.array_equal(x, np.round(x)):
        x = x.astype("int64")
    return json.dumps({"instances": x.tolist()}, separators=(",", ":")).encode()


# --- micro-batching -----------------------------------------------------------------------------


class MicroBatcher:
    """Gather concurrent requests into one model call: wait for the first request, then for
    more until ``max_batch`` instances are in or ``max_wait_ms`` has passed, call the model
    once (on ``executor``'s thread) and hand each request its own rows.

    >>> async def demo():
    ...     with ThreadPoolExecutor(1) as pool:
    ...         batcher = MicroBatcher(lambda x: x * 2, max_batch=8, max_wait_ms=20,
    ...                                executor=pool)
    ...         batcher.start()
    ...         parts = [np.full((1, 2), float(i)) for i in range(3)]
    ...         out = await asyncio.gather(*(batcher.submit(p) for p in parts))
    ...         await batcher.stop()
    ...     return [o.tolist() for o in out], dict(batcher.batch_sizes)
    >>> asyncio.run(demo())
    ([[[0.0, 0.0]], [[2.0, 2.0]], [[4.0, 4.0]]], {3: 1})
    """

    def __init__(self, predict: PredictFn, *, max_batch: int, max_wait_ms: float,
                 executor: ThreadPoolExecutor) -> None:
        self.predict = predict
        self.max_batch = positive_int(max_batch, "max_batch")
        self.max_wait_s = positive_number(max_wait_ms, "max_wait_ms",
                                          hint="how long the first request waits for company") / 1000
        self.executor = executor
        self.batch_sizes: Counter[int] = Counter()
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start gathering (inside the running event loop)."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop gathering; requests still waiting fail with ``CancelledError``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue is not None and not self._queue.empty():
            self._queue.get_nowait()[1].cancel()

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """Queue the batch ``x`` and wait for its rows of the model's output."""
        if self._queue is None:
            raise RuntimeError("call start() inside the event loop before submit()")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((x, future))
        return await future

    async def _gather(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        items = [await self._queue.get()]              # block until a request arrives
        size = len(items[0][0])
        deadline = time.perf_counter() + self.max_wait_s
        while size < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                item = await asyncio.wait_for(self._queue.get(), left)
            except TimeoutError:
                break
            items.append(item)
            size += len(item[0])
        return items

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._gather()
            batch = np.concatenate([x for x, _ in items])
            self.batch_sizes[len(batch)] += 1
            try:
                out = np.asarray(await loop.run_in_executor(self.executor, self.predict, batch))
            except Exception as error:                 # the model failed: fail these requests
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for x, future in items:
                if not future.done():                  # its client may have gone away
                    future.set_result(out[start:start + len(x)])
                start += len(x)


# --- the app ------------------------------------------------------------------------------------


class _BodyLimit:
    """ASGI middleware: refuse a POST body over ``max_bytes`` (413) or of unknown length (411)
    before anyone reads it. Plain ASGI, because Starlette's ``BaseHTTPMiddleware`` costs
    milliseconds per request."""

    def __init__(self, app: Any, *, max_bytes: int, expected: dict) -> None:
        self.app, self.max_bytes, self.expected = app, max_bytes, expected

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        from fastapi.responses import JSONResponse

        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length", b"").decode()
            response = None
            if not length.isdigit():
                response = JSONResponse({"detail": "send a Content-Length header (no chunked "
                                         "bodies)", "expected": self.expected}, 411)
            elif int(length) > self.max_bytes:
                response = JSONResponse({"detail": f"body of {int(length):,} bytes is over the "
                                         f"limit of {self.max_bytes:,}; send fewer instances per "
                                         "request", "expected": self.expected}, 413)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(predict: PredictFn, *, input_shape: Sequence[int], class_names: Sequence[str],
               model_name: str = "model", version: str = "1",
               value_range: tuple[float, float] | None = None, max_instances: int = 128,
               max_body_bytes: int = 2_000_000, max_batch: int = 1,
               max_wait_ms: float = 5.0) -> Any:
    """A FastAPI app that serves ``predict`` (a function from a float32 batch
    ``(n, *input_shape)`` to ``(n, len(class_names))`` scores).

    ``POST /predict`` takes ``{"instances": [...]}`` and returns ``{"predictions": scores,
    "labels": class names of the top scores, "model_version": version}``. A malformed request
    gets 422 (or 413 for more than ``max_instances`` instances or a body over
    ``max_body_bytes``, 411 for a body of unknown length) with ``detail``, a one-line message,
    and ``expected``, what the service accepts. ``max_batch > 1`` turns on micro-batching.

    >>> app = create_app(lambda x: x, input_shape=(3,), class_names="abc")
    >>> sorted(r.path for r in app.routes if r.path in ("/predict", "/health", "/metadata"))
    ['/health', '/metadata', '/predict']
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, field_validator
    from pydantic_core import PydanticCustomError

    input_shape = tuple(positive_int(int(d), "each input dimension") for d in input_shape)
    class_names = [str(c) for c in class_names]
    if not class_names:
        raise ValueError("class_names is empty; pass one name per output column")
    max_instances = positive_int(max_instances, "max_instances")
    max_body_bytes = positive_int(max_body_bytes, "max_body_bytes")
    max_batch = positive_int(max_batch, "max_batch")
    max_wait_ms = positive_number(max_wait_ms, "max_wait_ms",
                                  hint="how long the first request of a batch waits for company")
    if value_range is not None and not value_range[0] < value_range[1]:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}")
    expected = {"instances": f"a list of 1 to {max_instances} arrays of shape {list(input_shape)}",
                "values": "finite numbers" + (f" in [{value_range[0]:g}, {value_range[1]:g}]"
                                              if value_range else "")}

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        instances: Any

        @field_validator("instances")
        @classmethod
        def _batch(cls, value: Any) -> np.ndarray:
            try:
                return _as_batch(value, input_shape, value_range, max_instances)
            except TooManyInstances as why:
                raise PydanticCustomError("too_many_instances", str(why)) from None

    stats = {"requests": 0, "instances": 0, "model_calls": 0}
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        state["executor"] = ThreadPoolExecutor(1, thread_name_prefix="model")
        if max_batch > 1:
            state["batcher"] = MicroBatcher(predict, max_batch=max_batch, max_wait_ms=max_wait_ms,
                                            executor=state["executor"])
            state["batcher"].start()
        try:
            yield
        finally:
            if "batcher" in state:
                await state.pop("batcher").stop()
            state.pop("executor").shutdown(wait=True)

    app = FastAPI(title=f"{model_name} inference", version=str(version), lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = []
        for e in error.errors():
            loc, msg = [str(p) for p in e.get("loc", ()) if p != "body"], e.get("msg", "")
            if e.get("type") == "json_invalid":      # loc is a character offset: not helpful
                loc, msg = [], f"not valid JSON ({e.get('ctx', {}).get('error', msg)})"
            errors.append({"loc": loc, "msg": msg, "type": e.get("type", "")})
        detail = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg'].removeprefix('Value error, ')}"
                           for e in errors)
        code = 413 if any(e["type"] == "too_many_instances" for e in errors) else 422
        return JSONResponse({"detail": detail, "expected": expected, "errors": errors}, code)

    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes, expected=expected)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata")
    async def metadata() -> dict:
        return {"model": model_name, "version": str(version), "input_shape": list(input_shape),
                "class_names": class_names, "value_range": value_range,
                "max_instances": max_instances, "batching": {"max_batch": max_batch,
                                                             "max_wait_ms": max_wait_ms}}

    @app.get("/stats")
    async def get_stats() -> dict:
        sizes = state["batcher"].batch_sizes if "batcher" in state else {}
        return {**stats, "batch_sizes": {str(k): v for k, v in sorted(sizes.items())}}

    async def predict_route(body: PredictRequest) -> Any:
        x = body.instances
        try:
            if "batcher" in state:
                out = await state["batcher"].submit(x)
            else:
                loop = asyncio.get_running_loop()
                out = np.asarray(await loop.run_in_executor(state["executor"], predict, x))
                stats["model_calls"] += 1
        except Exception as error:  # a model failure is the server's fault: 500, and go on
            return JSONResponse({"detail": f"the model failed: {type(error).__name__}: {error}"}, 500)
        if out.shape != (len(x), len(class_names)):
            return JSONResponse({"detail": f"the model returned shape {out.shape}, expected "
                                 f"{(len(x), len(class_names))}"}, 500)
        stats["requests"] += 1
        stats["instances"] += len(x)
        if "batcher" in state:
            stats["model_calls"] = sum(state["batcher"].batch_sizes.values())
        return {"predictions": out.astype("float64").tolist(),
                "labels": [class_names[i] for i in out.argmax(axis=1)],
                "model_version": str(version)}

    # this module postpones annotations, and FastAPI cannot see a class local to this function
    predict_route.__annotations__["body"] = PredictRequest
    app.post("/predict")(predict_route)
    return app


# --- running it ---------------------------------------------------------------------------------


class Server:
    """Run an ASGI ``app`` with uvicorn on a free port of 127.0.0.1 in a background thread:
    ``with Server(app) as s:`` waits until ``s.url + "/health"`` answers and always stops the
    server afterwards, also when the block raises.

    >>> app = create_app(lambda x: x, input_shape=(1,), class_names=["x"])
    >>> with Server(app) as s:
    ...     s.url.startswith("http://127.0.0.1:")
    True
    >>> s.running
    False
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 start_timeout_s: float = 20.0) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"host must be a loopback address {LOOPBACK}, got {host!r}: this "
                             "helper serves to this machine only")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"port must be an int in [0, 65535] (0: any free port), got {port!r}")
        self.app, self.host, self.port = app, host, port
        self.start_timeout_s = positive_number(start_timeout_s, "start_timeout_s")
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException as error:  # reported by start()
            self._error = error

    def start(self) -> Server:
        import httpx
        import uvicorn

        if self.running:
            raise RuntimeError("the server is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
        # they are TCP, and without it Nagle's algorithm adds ~40 ms to every small response
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="error", access_log=False,
                                timeout_graceful_shutdown=5, lifespan="on")
        self._server, self._error = uvicorn.Server(config), None
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name=f"uvicorn:{self.port}")
        self._thread.start()
        deadline = time.perf_counter() + self.start_timeout_s
        while time.perf_counter() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server stopped while starting: {self._error!r}")
            with contextlib.suppress(httpx.HTTPError):
                if self._server.started and httpx.get(self.url + "/health", timeout=1).is_success:
                    return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"no answer from {self.url}/health within {self.start_timeout_s} s")

    def stop(self) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5)
        self._thread = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- load testing -------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What :func:`load_test` measured: one latency (ms) and status per finished request."""

    concurrency: int
    latencies_ms: np.ndarray
    statuses: Counter = field(default_factory=Counter)
    failures: int = 0                       # no HTTP answer (refused, timed out)
    wall_s: float = math.nan
    stopped_by_time: bool = False

    @property
    def completed(self) -> int:
        return int(self.statuses.get(200, 0))

    @property
    def errors(self) -> int:
        return int(sum(n for code, n in self.statuses.items() if code != 200) + self.failures)

    @property
    def throughput(self) -> float:
        """Successful requests per second of wall time."""
        return self.completed / self.wall_s if self.wall_s > 0 else math.nan

    def percentile(self, q: float) -> float:
        if not len(self.latencies_ms):
            return math.nan
        return float(np.percentile(self.latencies_ms, q))

    def summary(self) -> dict[str, float]:
        """One table row: requests, errors, p50/p95/p99 latency in ms, requests per second.

        >>> r = LoadReport(1, np.arange(1.0, 101.0), Counter({200: 100}), wall_s=2.0)
        >>> r.summary()
        {'requests': 100, 'errors': 0, 'p50 ms': 50.5, 'p95 ms': 95.05, 'p99 ms': 99.01, 'req/s': 50.0}
        """
        return {"requests": self.completed + self.errors, "errors": self.errors,
                "p50 ms": round(self.percentile(50), 2), "p95 ms": round(self.percentile(95), 2),
                "p99 ms": round(self.percentile(99), 2), "req/s": round(self.throughput, 1)}


async def _post_raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> tuple[int, bool]:
    """Send one prepared HTTP/1.1 request on an open connection, read the whole answer; return
    its status and whether the server keeps the connection open."""
    writer.write(request)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields = dict(line.lower().split(":", 1) for line in head[1:] if ":" in line)
    await reader.readexactly(int(fields.get("content-length", "0")))
    return status, fields.get("connection", "").strip() != "close"


async def _load(*, url: str, bodies: Sequence[bytes], concurrency: int, total: int,
                time_limit_s: float, timeout_s: float, client: str = "raw") -> LoadReport:
    from urllib.parse import urlsplit

    import httpx

    latencies: list[float] = []
    statuses: Counter = Counter()
    failures, sent = 0, 0
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    requests = [(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b
                for b in bodies]
    start = time.perf_counter()
    deadline = start + time_limit_s

    async def raw_worker() -> None:
        nonlocal failures, sent
        connection = None
        while sent < total and time.perf_counter() < deadline:
            request = requests[sent % len(requests)]
            sent += 1
            t0 = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                        timeout_s)
                status, keep = await asyncio.wait_for(_post_raw(*connection, request), timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                failures += 1
                if connection is not None:
                    connection[1].close()
                connection = None
                continue
            latencies.append(1000 * (time.perf_counter() - t0))
            statuses[status] += 1
            if not keep:
                connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    async def httpx_worker(session: httpx.AsyncClient) -> None:
        nonlocal failures, sent
        while sent < total and time.perf_counter() < deadline:
            body = bodies[sent % len(bodies)]
            sent += 1
            t0 = time.perf_counter()
            try:
                response = await session.post(url, content=body,
                                              headers={"content-type": "application/json"})
            except httpx.HTTPError:
                failures += 1
                continue
            latencies.append(1000 * (time.perf_counter() - t0))
            statuses[response.status_code] += 1

    if client == "raw":
        await asyncio.gather(*(raw_worker() for _ in range(concurrency)))
    else:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as session:
            await asyncio.gather(*(httpx_worker(session) for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return LoadReport(concurrency, np.array(latencies), statuses, failures, wall, sent < total)


def load_test(url: str, bodies: Sequence[bytes], *, concurrency: int, total: int,
              time_limit_s: float = 30.0, timeout_s: float = 10.0, client: str = "raw",
              separate_process: bool = True) -> LoadReport:
    """Send ``total`` POST requests (cycling through the JSON ``bodies``) to ``url`` from
    ``concurrency`` clients that each wait for an answer before sending the next (a closed
    loop), stopping early after ``time_limit_s`` seconds.

    The clients run in a separate Python process (``python -m dlbook.serving``), as real
    clients would: in the server's process they would compete with it for the interpreter
    lock and slow it down. ``separate_process=False`` runs them in a thread of this process.

    ``client="raw"`` sends each request as prepared bytes on a kept-alive HTTP/1.1 connection
    (asyncio streams, a few microseconds of Python per request); ``client="httpx"`` uses
    ``httpx.AsyncClient``, which is convenient but costs milliseconds of CPU per request, enough
    on a small machine to measure the client instead of the server.

    >>> app = create_app(lambda x: x, input_shape=(1,), class_names=["x"])
    >>> with Server(app) as s:
    ...     report = load_test(s.url + "/predict", [encode_instances([[1.0]])],
    ...                        concurrency=2, total=10)
    >>> report.completed, report.errors, len(report.latencies_ms)
    (10, 0, 10)
    """
    if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ValueError(f"url must point at this machine (http://127.0.0.1:...), got {url!r}")
    bodies = list(bodies)
    if not bodies or not all(isinstance(b, bytes) for b in bodies):
        raise ValueError("bodies must be a non-empty list of JSON bytes; build them with "
                         "encode_instances(x[i:i + 1])")
    job = {"url": url, "concurrency": positive_int(concurrency, "concurrency"),
           "total": positive_int(total, "total"),
           "time_limit_s": positive_number(time_limit_s, "time_limit_s", hint="a wall-clock cap"),
           "timeout_s": positive_number(timeout_s, "timeout_s", hint="seconds per request"),
           "client": client}
    if client not in ("raw", "httpx"):
        raise ValueError(f"client must be 'raw' (fast, prepared requests) or 'httpx', got {client!r}")
    if separate_process:
        return _load_in_process(job, bodies)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["report"] = asyncio.run(_load(bodies=bodies, **job))
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=run, name="load-test")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["report"]


def _load_in_process(job: dict, bodies: list[bytes]) -> LoadReport:
    import json
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "job.json"
        spec.write_text(json.dumps({**job, "bodies": [b.decode() for b in bodies]}))
        done = subprocess.run([sys.executable, "-m", "dlbook.serving", str(spec)],
                              capture_output=True, text=True,
                              timeout=job["time_limit_s"] + job["timeout_s"] + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    out = json.loads(done.stdout)
    return LoadReport(job["concurrency"], np.array(out["latencies_ms"]),
                      Counter({int(k): v for k, v in out["statuses"].items()}), out["failures"],
                      out["wall_s"], out["stopped_by_time"])


def _main(argv: Sequence[str]) -> int:
    """``python -m dlbook.serving JOB.json``: run one load test and print its results."""
    import json

    if len(argv) != 1:
        print("usage: python -m dlbook.serving JOB.json (written by dlbook.serving.load_test)")
        return 2
    job = json.loads(Path(argv[0]).read_text())
    job["bodies"] = [b.encode() for b in job["bodies"]]
    report = asyncio.run(_load(**job))
    print(json.dumps({"latencies_ms": report.latencies_ms.tolist(),
                      "statuses": {str(k): v for k, v in report.statuses.items()},
                      "failures": report.failures, "wall_s": report.wall_s,
                      "stopped_by_time": report.stopped_by_time}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
