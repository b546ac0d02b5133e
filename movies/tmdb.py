"""The TMDB v3 client: the only module in the project that talks to TMDB.

* One ``requests.Session`` per client, base URL from ``TMDB_API_BASE``; auth by the v4 read
  token (``Authorization: Bearer``) or the v3 key (``api_key`` query parameter), whichever is
  configured. Neither ever leaves the server: error messages are redacted.
* A (connect, read) timeout on every call, and an overall deadline per attempt
  (``TMDB_REQUEST_DEADLINE``): the read timeout is per socket read, so a server trickling a byte
  every few seconds would otherwise hold a request for as long as it likes. Bodies are streamed
  and refused past ``TMDB_MAX_RESPONSE_BYTES`` (up front when Content-Length says so), so a
  huge answer costs at most that much memory.
* Retries with exponential backoff and full jitter on connection errors, timeouts, a missed
  deadline, 429 and 5xx, honouring ``Retry-After``. 401 and 404 (and any other 4xx) are
  permanent. Malformed JSON, an oversized body and details of another movie than the one asked
  for are permanent too: TMDB does not send them by accident twice, and one bad movie must not
  cost a whole retry budget.
* A client-side rate limit shared by every process through Redis when ``REDIS_URL`` is set.
* Exactly one exception type leaves this module: ``TMDBError`` (``status`` is the HTTP status,
  or None when no response arrived), with ``TMDBAuthError`` as the 401 case callers stop on.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import urllib3
from django.conf import settings

from movies.errors import CatalogError

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024  # most bytes taken from the socket per read


class TMDBError(CatalogError):
    """Any failure talking to TMDB. ``status`` is the HTTP status (None: no response)."""

    def __init__(self, message: str, *, status: int | None = None, path: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path

    def __str__(self) -> str:
        return self.message


class TMDBAuthError(TMDBError):
    """401: the key is wrong or missing. Retrying cannot help; a sync stops on it."""


AUTH_HELP = "check your TMDB key (TMDB_READ_TOKEN or TMDB_API_KEY)"
_SECRET_RE = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)


def _redact(text: str) -> str:
    """requests puts the full URL (with ?api_key=...) into exception texts; strip the key."""
    return _SECRET_RE.sub(r"\1***", text)


# --- Rate limiting --------------------------------------------------------------------------


class RateLimiter(Protocol):
    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""


def bucket_params(limit: int, window: float) -> tuple[float, float]:
    """(capacity, refill rate per second) of a token bucket that never lets more than ``limit``
    requests into any ``window``-second span.

    A bucket of capacity C refilled at r tokens/s admits at most C + r*window requests in a
    window, so C + r*window must stay below the limit. A small burst (a tenth of the limit)
    keeps short syncs snappy; one request of headroom absorbs network jitter between our clock
    and the server's (the server counts arrivals, not departures).
    """
    if limit < 2 or window <= 0:
        raise ValueError("TMDB_RATE_LIMIT must be >= 2 and TMDB_RATE_WINDOW > 0")
    capacity = max(1.0, float(limit // 10))
    rate = (limit - capacity - 1) / window
    if rate <= 0:  # tiny limits: no burst, one request every window/limit seconds
        capacity, rate = 1.0, (limit - 1) / window
    return capacity, rate


class LocalTokenBucket:
    """In-process token bucket (thread-safe): the limiter when no Redis is configured.

    Reservation style: a caller takes a token even when the bucket is empty and sleeps until
    its slot, so waiting callers are served in arrival order without polling.
    """

    def __init__(self, *, limit: int, window: float):
        self.capacity, self.rate = bucket_params(limit, window)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        return wait


# The same reservation algorithm, atomic in Redis, on Redis' own clock so that the processes
# sharing the bucket need no clock agreement. Returns the wait as a string (Lua numbers would be
# truncated to integers on the way out).
_REDIS_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = capacity
  stamp = now
end
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
tokens = tokens - 1
local wait = 0
if tokens < 0 then wait = -tokens / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl_ms + math.ceil(wait * 1000))
return tostring(wait)
"""


class RedisTokenBucket:
    """Token bucket in Redis shared by every process and Celery worker (one Lua call each).

    If Redis cannot be reached the process falls back to its own in-process bucket (logged):
    still limited, and a sync does not die because the cache server blinked.
    """

    def __init__(self, *, url: str, key: str, limit: int, window: float):
        import redis  # imported here: the site runs without Redis installed or configured

        self.capacity, self.rate = bucket_params(limit, window)
        self.key = key
        self._redis_error = redis.RedisError
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script = self._redis.register_script(_REDIS_BUCKET_LUA)
        self._ttl_ms = int((self.capacity / self.rate) * 1000) + 1000
        self._fallback = LocalTokenBucket(limit=limit, window=window)

    def reserve(self) -> float:
        try:
            wait = self._script(keys=[self.key], args=[self.capacity, self.rate, self._ttl_ms])
        except self._redis_error as exc:
            logger.warning("TMDB rate limit: Redis unavailable (%s); limiting in-process", exc)
            return self._fallback.reserve()
        return float(wait.decode())

    def acquire(self) -> float:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        return wait


_limiters: dict[tuple, RateLimiter] = {}
_limiters_lock = threading.Lock()


def get_rate_limiter() -> RateLimiter:
    """The process-wide limiter for the current settings (one bucket per process, or Redis)."""
    redis_url = settings.REDIS_URL
    limit, window = settings.TMDB_RATE_LIMIT, settings.TMDB_RATE_WINDOW
    key = (redis_url, limit, window)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            if redis_url:
                prefix = settings.CACHES["default"].get("KEY_PREFIX", "netflixrecs")
                limiter = RedisTokenBucket(
                    url=redis_url, key=f"{prefix}:tmdb:bucket", limit=limit, window=window
                )
            else:
                limiter = LocalTokenBucket(limit=limit, window=window)
            _limiters[key] = limiter
        return limiter


def reset_rate_limiters() -> None:
    """Forget cached limiters (tests change the settings between runs)."""
    with _limiters_lock:
        _limiters.clear()


# --- Client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_base: float
    backoff_max: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        # Full jitter: spreads the retries of several workers that failed at the same moment.
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class TMDBClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        read_token: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        deadline: float | None = None,
        max_bytes: int | None = None,
    ):
        self.base_url = (base_url or settings.TMDB_API_BASE).rstrip("/")
        read_token = settings.TMDB_READ_TOKEN if read_token is None else read_token
        api_key = settings.TMDB_API_KEY if api_key is None else api_key
        if not read_token and not api_key:
            raise TMDBError(f"TMDB is not configured: {AUTH_HELP} must be set")
        self.timeout = (
            connect_timeout if connect_timeout is not None else settings.TMDB_CONNECT_TIMEOUT,
            read_timeout if read_timeout is not None else settings.TMDB_READ_TIMEOUT,
        )
        self.deadline = deadline if deadline is not None else settings.TMDB_REQUEST_DEADLINE
        self.max_bytes = max_bytes if max_bytes is not None else settings.TMDB_MAX_RESPONSE_BYTES
        self.retry = retry or RetryPolicy(
            max_retries=settings.TMDB_MAX_RETRIES,
            backoff_base=settings.TMDB_BACKOFF_BASE,
            backoff_max=settings.TMDB_BACKOFF_MAX,
        )
        self.limiter = limiter or get_rate_limiter()
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self._params: dict[str, str] = {}
        if read_token:
            self.session.headers["Authorization"] = f"Bearer {read_token}"
        else:
            self._params["api_key"] = api_key

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> TMDBClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the calls the project uses ---------------------------------------------------------

    def popular_movies(self, *, page: int = 1) -> dict[str, Any]:
        """One page (20 movies) of /movie/popular: ``{"page", "results", "total_pages", ...}``."""
        return self.get("/movie/popular", params={"page": page})

    def movie_details(self, tmdb_id: int) -> dict[str, Any]:
        """A movie with its keywords and credits in one call. Raises ``TMDBError`` (not
        retried) when the answer is about another movie than ``tmdb_id``."""
        tmdb_id = int(tmdb_id)
        path = f"/movie/{tmdb_id}"
        data = self.get(path, params={"append_to_response": "keywords,credits"})
        if data.get("id") != tmdb_id:
            # A proxy or cache mix-up would otherwise store one film's data under another's id.
            raise TMDBError(
                f"TMDB answered {path} with the details of movie {data.get('id')!r}, not {tmdb_id}",
                status=200,
                path=path,
            )
        return data

    def configuration(self) -> dict[str, Any]:
        """TMDB's configuration (image base URL and sizes)."""
        return self.get("/configuration")

    def image_base_url(self) -> str:
        images = self.configuration().get("images") or {}
        return images.get("secure_base_url") or images.get("base_url") or ""

    def movie_changes(
        self, *, start_date: str | None = None, end_date: str | None = None, page: int = 1
    ) -> dict[str, Any]:
        """Ids of movies changed between two dates (YYYY-MM-DD, at most 14 days apart)."""
        params: dict[str, Any] = {"page": page}
        if start_date:
            params["start_date"] = start_date
        if end_date:
            params["end_date"] = end_date
        return self.get("/movie/changes", params=params)

    def iter_changed_movie_ids(self, *, start_date: str | None = None, end_date: str | None = None):
        page, total_pages = 1, 1
        while page <= total_pages:
            data = self.movie_changes(start_date=start_date, end_date=end_date, page=page)
            total_pages = int(data.get("total_pages") or 1)
            for item in data.get("results") or []:
                if item.get("id") is not None:
                    yield int(item["id"])
            page += 1

    # -- transport ---------------------------------------------------------------------------

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        query = {**(params or {}), **self._params}
        attempt = 0
        while True:
            self.limiter.acquire()
            retry_after = None
            # The clock starts after the rate limiter: waiting our turn is not TMDB's slowness.
            deadline = time.monotonic() + self.deadline
            try:
                status, headers, body = self._fetch(url, query, path, deadline)
            except TMDBError as exc:
                if exc.status is not None:  # a 200 that is unusable (too large): permanent
                    raise
                error = exc
            else:
                if status == 200:
                    return self._decode(body, status, path)
                error = self._http_error(status, headers.get("reason", ""), body, path)
                if not self._retryable(status):
                    raise error
                retry_after = parse_retry_after(headers.get("Retry-After"))
            if attempt >= self.retry.max_retries:
                error.message = f"{error.message} (gave up after {attempt + 1} attempts)"
                raise error
            delay = self.retry.delay(attempt, retry_after)
            logger.info("TMDB %s: %s; retry %d in %.2fs", path, error, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1

    def _fetch(self, url: str, query: dict, path: str, deadline: float):
        """One attempt: ``(status, headers, body)``. Raises ``TMDBError`` with ``status=None``
        for transport failures (retried) and with the status for a body over the size limit
        (not retried)."""
        connect, read = self.timeout
        try:
            response = self.session.get(
                url,
                params=query,
                timeout=(connect, max(0.001, min(read, deadline - time.monotonic()))),
                stream=True,
            )
        except requests.Timeout as exc:
            raise self._timeout_error(path, deadline, exc) from None
        except requests.RequestException as exc:
            raise TMDBError(
                f"could not reach TMDB for {path}: {_redact(str(exc))[:300]}", path=path
            ) from None
        with response:
            headers = {**response.headers, "reason": response.reason or ""}
            body = self._read_body(response, path, deadline)
        return response.status_code, headers, body

    def _read_body(self, response: requests.Response, path: str, deadline: float) -> bytes:
        status = response.status_code
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(path, status, f"Content-Length {int(declared):,}")
        raw = response.raw
        body = bytearray()
        # Not iter_content(): it blocks until a whole chunk has arrived, which a trickling
        # server never completes. read1() returns whatever one socket read brings, and every
        # read may wait at most until the deadline.
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._deadline_error(path, len(body))
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if sock is not None:
                sock.settimeout(min(self.timeout[1], remaining))
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise self._deadline_error(path, len(body)) from None
                if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
                    raise self._timeout_error(path, deadline, exc) from None
                raise TMDBError(
                    f"TMDB's answer to {path} broke off: {_redact(str(exc))[:300]}", path=path
                ) from None
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_large(path, status, f"more than {len(body) - len(chunk):,}")

    def _timeout_error(self, path: str, deadline: float, exc: Exception) -> TMDBError:
        if time.monotonic() >= deadline:
            return self._deadline_error(path, 0)
        return TMDBError(
            f"TMDB did not answer {path} within {self.timeout[1]:g}s ({type(exc).__name__})",
            path=path,
        )

    def _deadline_error(self, path: str, received: int) -> TMDBError:
        return TMDBError(
            f"TMDB did not finish answering {path} within the {self.deadline:g}s deadline "
            f"(TMDB_REQUEST_DEADLINE; {received:,} bytes received)",
            path=path,
        )

    def _too_large(self, path: str, status: int, size: str) -> TMDBError:
        return TMDBError(
            f"TMDB's answer to {path} is too large ({size} bytes; TMDB_MAX_RESPONSE_BYTES is "
            f"{self.max_bytes:,})",
            status=status,
            path=path,
        )

    @staticmethod
    def _retryable(status: int) -> bool:
        return status == 429 or status >= 500

    @staticmethod
    def _decode(body: bytes, status: int, path: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise TMDBError(
                f"TMDB sent malformed JSON for {path}: {exc}", status=status, path=path
            ) from None
        if not isinstance(data, dict):
            raise TMDBError(
                f"TMDB sent unexpected JSON for {path} (a {type(data).__name__}, not an object)",
                status=status,
                path=path,
            )
        return data

    @staticmethod
    def _http_error(status: int, reason: str, body: bytes, path: str) -> TMDBError:
        try:
            data = json.loads(body)
            detail = data.get("status_message") if isinstance(data, dict) else None
        except ValueError:
            detail = None
        detail = _redact(str(detail or reason or "no message"))
        if status == 401:
            return TMDBAuthError(
                f"TMDB rejected the credentials (401: {detail}): {AUTH_HELP}",
                status=status,
                path=path,
            )
        if status == 404:
            return TMDBError(f"TMDB has no {path} (404: {detail})", status=status, path=path)
        return TMDBError(f"TMDB answered {status} for {path}: {detail}", status=status, path=path)
