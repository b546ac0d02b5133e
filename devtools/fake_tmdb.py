"""A fake TMDB v3 API for tests, benchmarks and local development (not part of the product).

Serves the routes ``movies/tmdb.py`` uses, in TMDB's JSON shapes and error bodies:

* ``GET /3/movie/popular?page=N``   20 movies a page, most popular first
* ``GET /3/movie/{id}``             details; ``append_to_response=keywords,credits``
* ``GET /3/configuration``          image base URL and sizes
* ``GET /3/movie/changes``          ids listed in ``changed_ids``

The movies come from ``tmdb-5000-partial/movie_details.jsonl`` read at run time (never copied
into the repository) or from a list given by a test. That data has no credits, so the fake
serves empty ones unless a movie carries its own ``credits``.

Auth is checked like TMDB does (Bearer read token or ``api_key``). Faults are injected per
route from Python (``server.add_fault(...)``) or over HTTP (``POST /__control/faults``) and
every request is logged so a test can count requests per time window.

Run it for local development::

    python -m devtools.fake_tmdb --port 8765
    TMDB_API_BASE=http://127.0.0.1:8765/3 TMDB_READ_TOKEN=fake-read-token \\
        python manage.py sync_tmdb --pages 2
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 20
MAX_PAGE = 500  # TMDB refuses pages above 500
DEFAULT_READ_TOKEN = "fake-read-token"
DEFAULT_API_KEY = "fake-api-key"
DATA_FILE = Path("tmdb-5000-partial") / "movie_details.jsonl"

# TMDB's own status codes and messages (https://developer.themoviedb.org/docs/errors).
ERRORS = {
    401: (7, "Invalid API key: You must be granted a valid key."),
    404: (34, "The resource you requested could not be found."),
    429: (25, "Your request count (#) is over the allowed limit of (40)."),
    500: (11, "Internal error: Something went wrong, contact TMDb."),
    503: (9, "Service offline: This service is temporarily offline, try again later."),
    400: (22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."),
}
FAULT_KINDS = {"429", "500", "503", "slow", "malformed", "401", "trickle", "huge", "wrong_id"}
ROUTES = {"popular", "movie", "configuration", "changes", "*"}
LIST_FIELDS = (
    "id",
    "title",
    "original_title",
    "original_language",
    "overview",
    "popularity",
    "release_date",
    "vote_average",
    "vote_count",
    "poster_path",
    "backdrop_path",
)


def load_movies(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Fault:
    """``kind`` on ``route`` (optionally one movie id) for the next ``times`` requests
    (None: until removed). ``delay`` is for "slow" and "trickle", ``retry_after`` for
    "429"/"503", ``size`` and ``hide_length`` for "huge".

    * "trickle": the normal answer, headers at once, then the body one byte every ``delay``
      seconds (a read timeout never fires);
    * "huge": a 200 whose JSON body is ``size`` bytes, with a true Content-Length, or none
      (``hide_length``: the body ends when the connection closes);
    * "wrong_id": a movie's details under another movie's id.

    ``sent`` counts the body bytes the client took before it hung up (trickle, huge)."""

    route: str
    kind: str
    times: int | None = None
    movie_id: int | None = None
    delay: float = 0.0
    retry_after: float | None = None
    size: int = 0
    hide_length: bool = False
    used: int = 0
    sent: int = 0

    def matches(self, route: str, movie_id: int | None) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.route not in ("*", route):
            return False
        return self.movie_id is None or self.movie_id == movie_id


@dataclass
class LoggedRequest:
    at: float  # time.monotonic() at arrival
    route: str
    path: str
    status: int
    movie_id: int | None = None


@dataclass
class FakeTMDB:
    """The server. ``movies``: TMDB detail dicts; ``data_path``: the jsonl to read instead."""

    movies: list[dict] | None = None
    data_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    read_token: str = DEFAULT_READ_TOKEN
    api_key: str = DEFAULT_API_KEY
    # Optional server-side limit (requests, seconds) answered with 429, like the real TMDB.
    server_rate_limit: tuple[int, float] | None = None
    changed_ids: list[int] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self):
        if self.movies is None:
            if self.data_path is None:
                raise ValueError("give FakeTMDB either movies or data_path")
            self.movies = load_movies(Path(self.data_path))
        self.by_id = {int(m["id"]): m for m in self.movies}
        self.popular = sorted(self.movies, key=lambda m: (-(m.get("popularity") or 0), m["id"]))
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTMDB:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers sleeping in a "slow" fault
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeTMDB:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What TMDB_API_BASE should be set to."""
        return f"http://{self.host}:{self.port}/3"

    # -- faults and stats --------------------------------------------------------------------

    def add_fault(self, route: str, kind: str, **kwargs) -> Fault:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {sorted(ROUTES)}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        fault = Fault(route=route, kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def requests(self, route: str | None = None, movie_id: int | None = None) -> list:
        with self.lock:
            return [
                r
                for r in self.log
                if (route is None or r.route == route)
                and (movie_id is None or r.movie_id == movie_id)
            ]

    def status_counts(self, route: str | None = None) -> Counter:
        return Counter(r.status for r in self.requests(route))

    def max_in_window(self, window: float) -> int:
        """Most requests that arrived in any sliding ``window``-second span."""
        times = sorted(r.at for r in self.requests())
        best = 0
        for i, t in enumerate(times):
            # requests in [t, t + window): a span of exactly `window` seconds
            best = max(best, bisect.bisect_left(times, t + window) - i)
        return best

    def per_window(self, window: float) -> list[int]:
        """Requests per consecutive fixed window, from the first request."""
        times = sorted(r.at for r in self.requests())
        if not times:
            return []
        counts = Counter(int((t - times[0]) // window) for t in times)
        return [counts.get(i, 0) for i in range(max(counts) + 1)]

    def stats(self, window: float = 10.0) -> dict:
        reqs = self.requests()
        return {
            "requests": len(reqs),
            "by_route": dict(Counter(r.route for r in reqs)),
            "by_status": {str(k): v for k, v in Counter(r.status for r in reqs).items()},
            "window": window,
            "max_in_window": self.max_in_window(window),
            "per_window": self.per_window(window),
        }

    # -- request handling (called from handler threads) ----------------------------------------

    def take_fault(self, route: str, movie_id: int | None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(route, movie_id):
                    fault.used += 1
                    return fault
        return None

    def over_server_limit(self, now: float) -> bool:
        if not self.server_rate_limit:
            return False
        limit, window = self.server_rate_limit
        with self.lock:
            # The request being judged is already in the log, hence ">".
            recent = sum(1 for r in self.log if r.at > now - window and r.status != 429)
        return recent > limit

    def record(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.log.append(entry)

    def popular_page(self, page: int) -> dict:
        total = len(self.popular)
        items = self.popular[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return {
            "page": page,
            "results": [
                {
                    **{k: m.get(k) for k in LIST_FIELDS},
                    "adult": False,
                    "video": False,
                    "genre_ids": [g["id"] for g in m.get("genres") or []],
                }
                for m in items
            ],
            "total_pages": min(MAX_PAGE, -(-total // PAGE_SIZE)),
            "total_results": total,
        }

    def details(self, movie: dict, append: set[str]) -> dict:
        data = {k: v for k, v in movie.items() if k not in ("keywords", "credits")}
        data.setdefault("poster_path", None)
        data.setdefault("imdb_id", None)
        if "keywords" in append:
            data["keywords"] = movie.get("keywords") or {"keywords": []}
        if "credits" in append:
            data["credits"] = movie.get("credits") or {"cast": [], "crew": []}
        return data

    def changes_page(self, page: int) -> dict:
        ids = list(self.changed_ids)
        items = ids[(page - 1) * 100 : page * 100]
        return {
            "results": [{"id": i, "adult": False} for i in items],
            "page": page,
            "total_pages": max(1, -(-len(ids) // 100)),
            "total_results": len(ids),
        }


CONFIGURATION = {
    "images": {
        "base_url": "http://image.tmdb.org/t/p/",
        "secure_base_url": "https://image.tmdb.org/t/p/",
        "backdrop_sizes": ["w300", "w780", "w1280", "original"],
        "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
        "profile_sizes": ["w45", "w185", "h632", "original"],
    },
    "change_keys": ["genres", "keywords", "overview", "release_dates", "title"],
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTMDB
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API and requests.Session use

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read fake.log instead
        pass

    # -- helpers -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry.status = status  # before the client can read the answer
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to do

    def _json(self, status: int, data, headers: dict | None = None) -> None:
        body = json.dumps(data).encode()
        fault = getattr(self, "_fault", None)
        if fault is not None and fault.kind == "trickle":
            return self._send_trickle(status, body, fault)
        self._send(status, body, headers)

    def _start(self, status: int, length: int | None) -> None:
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def _send_trickle(self, status: int, body: bytes, fault: Fault) -> None:
        try:
            self._start(status, len(body))
            for i in range(len(body)):
                if self.fake.stopping.wait(fault.delay):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                fault.sent += 1
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as it should

    def _send_huge(self, fault: Fault, movie_id: int | None) -> None:
        head = b'{"id": %d, "padding": "' % (movie_id or 0)
        tail = b'"}'
        pad = max(0, fault.size - len(head) - len(tail))
        piece = b"x" * 65536
        try:
            self._start(200, None if fault.hide_length else len(head) + pad + len(tail))
            self.wfile.write(head)
            fault.sent += len(head)
            left = pad
            while left > 0 and not self.fake.stopping.is_set():
                chunk = piece[: min(left, len(piece))]
                self.wfile.write(chunk)
                fault.sent += len(chunk)
                left -= len(chunk)
            self.wfile.write(tail)
            fault.sent += len(tail)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error(self, status: int, headers: dict | None = None) -> None:
        code, message = ERRORS[status]
        self._json(
            status, {"status_code": code, "status_message": message, "success": False}, headers
        )

    # -- routing -----------------------------------------------------------------------------

    def do_POST(self):  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        if parts.path == "/__control/faults":
            try:
                for spec in body if isinstance(body, list) else [body]:
                    self.fake.add_fault(spec.pop("route"), spec.pop("kind"), **spec)
            except (KeyError, TypeError, ValueError) as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, {"faults": len(self.fake.faults)})
        if parts.path == "/__control/reset":
            self.fake.reset()
            return self._json(200, {"ok": True})
        return self._error(404)

    def do_GET(self):  # noqa: N802 - http.server's naming
        fake = self.fake
        now = time.monotonic()
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path

        if path == "/__control/stats":
            return self._json(200, fake.stats(float(query.get("window", 10))))

        route, movie_id = self._route(path)
        # Logged on arrival (status filled in after), so slow requests count at once.
        entry = LoggedRequest(at=now, route=route, path=path, status=0, movie_id=movie_id)
        fake.record(entry)
        self._entry = entry
        self._fault = None
        self._handle(route, movie_id, query, now)

    def _route(self, path: str) -> tuple[str, int | None]:
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["3"]:
            segments = segments[1:]
        if segments == ["movie", "popular"]:
            return "popular", None
        if segments == ["movie", "changes"]:
            return "changes", None
        if segments == ["configuration"]:
            return "configuration", None
        if len(segments) == 2 and segments[0] == "movie" and segments[1].isdigit():
            return "movie", int(segments[1])
        return "unknown", None

    def _authorized(self, query: dict) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] == self.fake.read_token:
            return True
        return bool(query.get("api_key")) and query["api_key"] == self.fake.api_key

    def _handle(self, route: str, movie_id: int | None, query: dict, now: float) -> int:
        fake = self.fake
        if fake.over_server_limit(now):
            self._error(429, {"Retry-After": "1"})
            return 429
        fault = fake.take_fault(route, movie_id)
        if fault is not None:
            if fault.kind == "slow":
                # Sleep before any byte is sent so the client's read timeout fires.
                fake.stopping.wait(fault.delay)
            elif fault.kind == "malformed":
                self._send(200, b'{"id": 1, "title": "Trunc')
                return 200
            elif fault.kind == "huge":
                self._send_huge(fault, movie_id)
                return 200
            elif fault.kind in ("trickle", "wrong_id"):
                self._fault = fault  # applied to the normal answer below
            else:
                status = int(fault.kind)
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                self._error(status, headers)
                return status
        if not self._authorized(query):
            self._error(401)
            return 401

        if route == "popular":
            try:
                page = int(query.get("page", 1))
            except ValueError:
                page = 0
            if not 1 <= page <= MAX_PAGE:
                self._error(400)
                return 400
            self._json(200, fake.popular_page(page))
        elif route == "movie":
            movie = fake.by_id.get(movie_id)
            if movie is None:
                self._error(404)
                return 404
            append = set(filter(None, query.get("append_to_response", "").split(",")))
            data = fake.details(movie, append)
            if fault is not None and fault.kind == "wrong_id":
                data["id"] = movie_id + 1
            self._json(200, data)
        elif route == "configuration":
            self._json(200, CONFIGURATION)
        elif route == "changes":
            self._json(200, fake.changes_page(max(1, int(query.get("page", 1)))))
        else:
            self._error(404)
            return 404
        return 200


def default_data_path() -> Path:
    """``SHARED_DATA_DIR`` from Django settings when they load, else the environment."""
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")
        from django.conf import settings

        base = Path(settings.SHARED_DATA_DIR)
    except Exception:  # noqa: BLE001 - a dev tool: fall back to the conventional location
        base = Path(
            os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data")
        )
    return base / DATA_FILE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=None, help="movie_details.jsonl")
    parser.add_argument("--read-token", default=DEFAULT_READ_TOKEN)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)
    data = args.data or default_data_path()
    if not data.is_file():
        parser.error(f"no TMDB data at {data} (give --data or set SHARED_DATA_DIR)")
    fake = FakeTMDB(
        data_path=data,
        host=args.host,
        port=args.port,
        read_token=args.read_token,
        api_key=args.api_key,
    ).start()
    print(f"fake TMDB with {len(fake.movies)} movies at {fake.url}", flush=True)
    print(f"TMDB_API_BASE={fake.url} TMDB_READ_TOKEN={fake.read_token}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
