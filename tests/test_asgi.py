"""awaitest.asgi: an httpx client on an ASGI app in-process, with its lifespan.

Behaviour is tested black-box through inner pytest runs (the app, a conftest
with `client_fixture`, tests recording what they saw); the app check and the
override bookkeeping are pure logic, tested directly.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from awaitest import ConfigError
from awaitest._asgi_app import check_app
from awaitest._asgi_overrides import Lifetime, Overrides
from awaitest.asgi import ASGIUsageError, client_fixture
from inner import events

# Imported here so in-process inner runs find them loaded rather than import them each time.
pytest.importorskip("fastapi")

Run = Callable[..., pytest.RunResult]

#: Module `shop`: a FastAPI app whose lifespan yields state, with dependencies to override,
#: logging what happens to events.log.
SHOP = """
import asyncio
import pathlib
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse


def log(line):
    with pathlib.Path(__file__).with_name("events.log").open("a") as f:
        f.write(line + "\\n")


@asynccontextmanager
async def lifespan(app):
    log("startup")
    yield {"db": "real-db"}
    log("shutdown")


app = FastAPI(lifespan=lifespan)


def get_db(request: Request):
    return request.state.db


def get_user():
    return "alice"


@app.get("/whoami")
async def whoami(db=Depends(get_db), user=Depends(get_user)):
    log(f"request db={db} user={user}")
    return {"db": db, "user": user}


@app.get("/visit")
async def visit(request: Request):
    seen = getattr(request.state, "visited", False)
    request.state.visited = True
    return {"seen": seen, "db": request.state.db}


@app.get("/echo")
async def echo(request: Request):
    return {"url": str(request.url), "token": request.headers.get("x-token")}


@app.get("/events")
async def events():
    async def stream():
        n = 0
        try:
            while True:
                n += 1
                yield f"data: {n}\\n\\n"
                await asyncio.sleep(0)
        finally:
            log(f"stream closed after {n}")

    return StreamingResponse(stream(), media_type="text/event-stream")


@app.post("/orders")
async def order(tasks: BackgroundTasks):
    async def send_mail():
        await asyncio.sleep(0.01)
        log("mail sent")

    tasks.add_task(send_mail)
    return {"ok": True}


@app.get("/crash")
async def crash():
    raise ValueError("bad order id")
"""

#: Inner runs where a warning (an unclosed stream, a task never awaited) fails the test.
STRICT_WARNINGS = "[pytest]\nfilterwarnings = error\n"

CONFTEST = """
from awaitest.asgi import client_fixture
from shop import app

client = client_fixture(app{args})
"""


def _shop(pytester: pytest.Pytester, args: str = "") -> None:
    pytester.makeini(STRICT_WARNINGS)
    pytester.makepyfile(shop=SHOP, conftest=CONFTEST.format(args=args))


# -- lifespan ---------------------------------------------------------------------------------


def test_lifespan_runs_around_each_test_and_its_state_reaches_handlers(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Startup before the first request, shutdown after the test; lifespan state in handlers."""
    _shop(pytester)
    pytester.makepyfile(
        test_orders="""
        from shop import log

        async def test_first(client):
            log("test_first")
            response = await client.get("/whoami")
            assert response.json() == {"db": "real-db", "user": "alice"}
            assert client.state == {"db": "real-db"}

        async def test_second(client):
            log("test_second")
        """
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert events(pytester) == [
        "startup",
        "test_first",
        "request db=real-db user=alice",
        "shutdown",
        "startup",
        "test_second",
        "shutdown",
    ]


def test_each_request_gets_its_own_copy_of_the_state(pytester: pytest.Pytester, run: Run) -> None:
    """What a handler stores on request.state stays in that request, as under uvicorn."""
    _shop(pytester)
    pytester.makepyfile(
        test_visits="""
        async def test_visits(client):
            for _ in range(2):
                response = await client.get("/visit")
                assert response.json() == {"seen": False, "db": "real-db"}
            assert client.state == {"db": "real-db"}
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_session_client_starts_the_app_once_for_every_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """scope="session": one client and one lifespan for the tests of several modules."""
    _shop(pytester, ', scope="session"')
    for name in ("test_carts", "test_users"):
        pytester.makepyfile(
            **{
                name: f"""
                from shop import log

                seen = []

                async def test_one(client):
                    seen.append(client)
                    await client.get("/whoami")
                    log("{name} " + str(id(client)))

                async def test_two(client):
                    assert seen == [client]
                    log("{name} " + str(id(client)))
                """
            }
        )
    result = run()
    result.assert_outcomes(passed=4)
    lines = events(pytester)
    assert lines[0] == "startup"
    assert lines[-1] == "shutdown"
    assert lines.count("startup") == lines.count("shutdown") == 1
    clients = {line.split()[1] for line in lines if line.startswith("test_")}
    assert len(clients) == 1, lines


def test_client_for_an_app_fixture(pytester: pytest.Pytester, run: Run) -> None:
    """client_fixture("name") uses the app another fixture (async, per test) provides."""
    pytester.makepyfile(
        shop=SHOP,
        conftest="""
        import pytest
        from fastapi import FastAPI
        from awaitest.asgi import client_fixture

        @pytest.fixture
        async def shop_app():
            app = FastAPI(title="made per test")

            @app.get("/title")
            async def title():
                return app.title

            yield app

        client = client_fixture("shop_app")
        """,
        test_app="""
        async def test_title(client, shop_app):
            assert client.app is shop_app
            assert (await client.get("/title")).json() == "made per test"
        """,
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_base_url_headers_and_httpx_options_are_passed_on(
    pytester: pytest.Pytester, run: Run
) -> None:
    """base_url, headers and other httpx.AsyncClient options reach the requests."""
    _shop(pytester, ', base_url="https://shop.test/", headers={"X-Token": "s3cret"}, timeout=3')
    pytester.makepyfile(
        test_echo="""
        async def test_echo(client):
            response = await client.get("/echo")
            assert response.json() == {"url": "https://shop.test/echo", "token": "s3cret"}
            assert client.timeout.read == 3
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_open_client_runs_the_lifespan_around_its_block(
    pytester: pytest.Pytester, run: Run
) -> None:
    """open_client() as a context manager in a fixture of one's own, shut down also on failure."""
    pytester.makepyfile(
        shop=SHOP,
        test_own="""
        import pytest
        from awaitest.asgi import open_client
        from shop import app, log

        async def test_block():
            async with open_client(app) as client:
                log("inside")
                await client.get("/whoami")
            log("after")

        async def test_failing_block():
            with pytest.raises(ZeroDivisionError):
                async with open_client(app):
                    1 / 0
            log("after failure")
        """,
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert events(pytester) == [
        "startup",
        "inside",
        "request db=real-db user=alice",
        "shutdown",
        "after",
        "startup",
        "shutdown",
        "after failure",
    ]


def test_client_fixture_runs_in_strict_mode(pytester: pytest.Pytester, run: Run) -> None:
    """The fixture is awaitest's in strict mode too (it is made with awaitest.fixture)."""
    _shop(pytester)
    pytester.makeini(STRICT_WARNINGS + "awaitest_mode = strict\n")
    pytester.makepyfile(
        test_strict="""
        import pytest

        @pytest.mark.awaitest
        async def test_marked(client):
            assert (await client.get("/whoami")).status_code == 200
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


# -- dependency overrides ---------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["function", "module", "session"])
def test_override_ends_with_the_test_even_a_failing_one(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """client.override() lasts until the end of the test, at every client scope."""
    _shop(pytester, f", scope={scope!r}")
    pytester.makepyfile(
        test_users="""
        from shop import app, get_user

        async def test_admin(client):
            client.override(get_user, lambda: "admin")
            assert (await client.get("/whoami")).json()["user"] == "admin"
            assert False, "the test fails with the override in place"

        async def test_next(client):
            assert (await client.get("/whoami")).json()["user"] == "alice"
            assert app.dependency_overrides == {}
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the test fails with the override in place"])


def test_override_in_a_with_block_or_a_fixture(pytester: pytest.Pytester, run: Run) -> None:
    """`with client.override(...)` ends at the block's end; in a fixture, at its teardown."""
    _shop(pytester, ', scope="session"')
    pytester.makepyfile(
        test_blocks="""
        import pytest
        from shop import app, get_db, get_user

        @pytest.fixture
        def fake_db(client):
            with client.override(get_db, lambda: "fake-db"):
                yield

        async def whoami(client):
            return (await client.get("/whoami")).json()

        async def test_block(client):
            with client.override(get_user, lambda: "bob"):
                assert (await whoami(client))["user"] == "bob"
            assert (await whoami(client))["user"] == "alice"

        async def test_fixture(client, fake_db):
            assert (await whoami(client)) == {"db": "fake-db", "user": "alice"}

        async def test_after(client):
            assert (await whoami(client)) == {"db": "real-db", "user": "alice"}
            assert app.dependency_overrides == {}
        """
    )
    result = run()
    result.assert_outcomes(passed=3)


def test_overrides_argument_lasts_for_the_client(pytester: pytest.Pytester, run: Run) -> None:
    """overrides={...} holds for every test using a wide client, and ends with the client."""
    pytester.makepyfile(
        shop=SHOP,
        conftest=CONFTEST.replace("import app", "import app, get_user").format(
            args=', scope="module", overrides={get_user: lambda: "carol"}'
        ),
        test_carol="""
        async def test_one(client):
            assert (await client.get("/whoami")).json()["user"] == "carol"

        async def test_two(client):
            assert (await client.get("/whoami")).json()["user"] == "carol"
        """,
        test_zz_after="""
        from shop import app

        def test_gone():
            assert app.dependency_overrides == {}
        """,
    )
    result = run()
    result.assert_outcomes(passed=3)


def _dep(name: str) -> Callable[[], str]:
    def dependency() -> str:
        return name

    dependency.__name__ = name
    return dependency


class _App:
    def __init__(self) -> None:
        self.dependency_overrides: dict[Any, Any] = {}


def test_overrides_end_in_any_order_restoring_what_was_there() -> None:
    """Ending an override restores the latest one still active, or the app's own override."""
    get_db, theirs, mine, nested = _dep("get_db"), _dep("theirs"), _dep("mine"), _dep("nested")
    app = _App()
    app.dependency_overrides[get_db] = theirs
    overrides = Overrides(app)
    first = overrides.add(get_db, mine, Lifetime.TEST, "test")
    second = overrides.add(get_db, nested, Lifetime.TEST, "test")
    assert app.dependency_overrides == {get_db: nested}
    first.undo()
    assert app.dependency_overrides == {get_db: nested}
    second.undo()
    assert app.dependency_overrides == {get_db: theirs}
    second.undo()
    assert app.dependency_overrides == {get_db: theirs}


def test_ending_overrides_by_lifetime() -> None:
    """end() ends the overrides of the lifetimes asked for, newest first, and keeps the rest."""
    get_db, get_user = _dep("get_db"), _dep("get_user")
    app = _App()
    overrides = Overrides(app)
    kept = overrides.add(get_db, _dep("client_db"), Lifetime.CLIENT, "test")
    overrides.add(get_db, _dep("test_db"), Lifetime.TEST, "test")
    with overrides.add(get_user, _dep("block_user"), Lifetime.TEST, "test") as block:
        assert block.lifetime is Lifetime.BLOCK
        overrides.end((Lifetime.TEST,))
        assert app.dependency_overrides == {get_db: kept.replacement, get_user: block.replacement}
    assert app.dependency_overrides == {get_db: kept.replacement}
    overrides.end()
    assert app.dependency_overrides == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "client.override(get_user, 'admin')",
            "client.override(get_user, ...): the replacement for get_user must be callable, as "
            "FastAPI calls it instead; got 'admin'. To return a value, pass lambda: value.",
        ),
        (
            "client.override('get_user', lambda: 'admin')",
            "client.override(get_user, ...): the dependency to override is the function the app "
            "passes to Depends(), e.g. override(get_db, fake_db); got 'get_user'.",
        ),
    ],
    ids=["replacement", "dependency"],
)
def test_override_with_something_not_callable_is_refused(
    pytester: pytest.Pytester, run: Run, call: str, message: str
) -> None:
    """A value where a function is expected (the usual slip: the value itself) is explained."""
    _shop(pytester)
    pytester.makepyfile(
        test_bad=f"""
        from shop import get_user

        async def test_bad(client):
            {call}
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E * awaitest.asgi.ASGIUsageError: {message}"])


def test_override_on_an_app_that_is_not_fastapi_is_refused(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Overrides are FastAPI's; on a Starlette app the message says so and what to pass."""
    pytester.makepyfile(
        test_starlette="""
        from starlette.applications import Starlette
        from awaitest.asgi import client_fixture

        client = client_fixture(Starlette())

        def get_db(): ...

        async def test_override(client):
            client.override(get_db, lambda: "fake")
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * awaitest.asgi.ASGIUsageError: client.override(get_db, ...): Starlette app has no "
            "dependency_overrides, so its dependencies cannot be overridden (a FastAPI feature). "
            "Give the client the FastAPI app itself, not one wrapped in middleware; other "
            "frameworks replace dependencies their own way."
        ]
    )


# -- streaming --------------------------------------------------------------------------------


def test_endless_event_stream_is_read_incrementally_and_closed(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Three events of an endless SSE stream, then closing it ends the app's stream."""
    _shop(pytester)
    pytester.makepyfile(
        test_events="""
        import asyncio
        from shop import log

        async def read_three(client):
            received = []
            async with client.stream("GET", "/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async for line in response.aiter_lines():
                    if line:
                        received.append(line)
                    if len(received) == 3:
                        return received

        async def test_three_events(client):
            received = await asyncio.wait_for(read_three(client), 10)
            log("closed")
            assert received == ["data: 1", "data: 2", "data: 3"]
        """
    )
    result = run_subprocess("-p", "no:randomly", timeout=60)
    result.assert_outcomes(passed=1)
    assert not result.errlines, result.errlines
    startup, stream_closed, closed, shutdown = events(pytester)
    assert (startup, closed, shutdown) == ("startup", "closed", "shutdown")
    # The app's body generator was closed with the response, a few chunks ahead at most.
    assert stream_closed.startswith("stream closed after ")
    assert int(stream_closed.split()[-1]) < 3 + 20


def test_closing_a_stream_cancels_an_app_deaf_to_the_disconnect(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """An app that ignores the disconnect is cancelled when the client closes the response."""
    pytester.makeini(STRICT_WARNINGS)
    pytester.makepyfile(
        raw=RAW_APP,
        test_endless="""
        from awaitest.asgi import open_client
        from raw import endless, log

        async def test_close_early():
            async with open_client(endless, lifespan=False) as client:
                async with client.stream("GET", "/") as response:
                    chunks = response.aiter_bytes()
                    assert await anext(chunks) == b"tick "
                    log("read one")
                log("closed")
        """,
    )
    result = run_subprocess("-p", "no:randomly", timeout=60)
    result.assert_outcomes(passed=1)
    assert not result.errlines, result.errlines
    assert events(pytester) == ["read one", "app cancelled", "closed"]


def test_whole_response_waits_for_background_tasks(pytester: pytest.Pytester, run: Run) -> None:
    """A request read to its end returns after the app's background tasks, as with httpx."""
    _shop(pytester)
    pytester.makepyfile(
        test_mail="""
        from shop import log

        async def test_order(client):
            assert (await client.post("/orders")).json() == {"ok": True}
            log("response")
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert events(pytester) == ["startup", "mail sent", "response", "shutdown"]


@pytest.mark.parametrize("raise_app_exceptions", [True, False])
def test_app_exception_propagates_or_gives_500(
    pytester: pytest.Pytester, run: Run, raise_app_exceptions: bool
) -> None:
    """An exception in a handler reaches the test, or is a 500 with raise_app_exceptions=False."""
    _shop(pytester, f", raise_app_exceptions={raise_app_exceptions}")
    pytester.makepyfile(
        test_crash=f"""
        import pytest

        async def test_crash(client):
            if {raise_app_exceptions}:
                with pytest.raises(ValueError, match="bad order id"):
                    await client.get("/crash")
            else:
                assert (await client.get("/crash")).status_code == 500
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


# -- other frameworks -------------------------------------------------------------------------

RAW_APP = """
import asyncio
import pathlib


def log(line):
    with pathlib.Path(__file__).with_name("events.log").open("a") as f:
        f.write(line + "\\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            log(message["type"])
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body = (await receive())["body"]
    await send({"type": "http.response.start", "status": 201, "headers": [(b"x-raw", b"1")]})
    await send({"type": "http.response.body", "body": b"got " + body, "more_body": True})
    await send({"type": "http.response.body", "body": b"!"})


async def endless(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    try:
        while True:  # never listens for the disconnect
            await send({"type": "http.response.body", "body": b"tick ", "more_body": True})
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        log("app cancelled")
        raise


async def http_only(scope, receive, send):
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body"})
"""


def test_raw_asgi_app_with_and_without_lifespan(pytester: pytest.Pytester, run: Run) -> None:
    """A plain ASGI callable: lifespan events, request body, chunked response; lifespan=False."""
    pytester.makepyfile(
        raw=RAW_APP,
        conftest="""
        from awaitest.asgi import client_fixture
        import raw

        client = client_fixture(raw.app)
        bare = client_fixture(raw.http_only, lifespan=False)
        """,
        test_raw="""
        from raw import log

        async def test_post(client):
            response = await client.post("/", content=b"order")
            assert (response.status_code, response.text) == (201, "got order!")
            assert response.headers["x-raw"] == "1"
            log("test_post")

        async def test_bare(bare):
            assert (await bare.get("/")).status_code == 204
        """,
    )
    result = run("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert events(pytester) == ["lifespan.startup", "test_post", "lifespan.shutdown"]


def test_quart_app(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Quart: before_serving / after_serving around the test, and a streamed response."""
    pytest.importorskip("quart")
    pytester.makeini(STRICT_WARNINGS)
    pytester.makepyfile(
        test_quart="""
        import asyncio
        import pathlib
        from quart import Quart, make_response
        from awaitest.asgi import client_fixture

        app = Quart(__name__)
        log = []

        @app.before_serving
        async def startup():
            log.append("startup")

        @app.after_serving
        async def shutdown():
            log.append("shutdown")

        @app.get("/events")
        async def events():
            async def stream():
                n = 0
                while True:
                    n += 1
                    yield f"data: {n}\\n\\n".encode()
                    await asyncio.sleep(0)

            response = await make_response(stream(), 200, {"Content-Type": "text/event-stream"})
            response.timeout = None
            return response

        client = client_fixture(app)

        async def read_three(client):
            received = []
            async with client.stream("GET", "/events") as response:
                async for line in response.aiter_lines():
                    if line:
                        received.append(line)
                    if len(received) == 3:
                        return received

        async def test_events(client):
            assert log == ["startup"]
            received = await asyncio.wait_for(read_three(client), 10)
            assert received == ["data: 1", "data: 2", "data: 3"]

        def test_after():
            assert log == ["startup", "shutdown"]
        """
    )
    result = run_subprocess("-p", "no:randomly", timeout=60)
    result.assert_outcomes(passed=2)
    assert not result.errlines, result.errlines


# -- mistakes and failures, and their messages ------------------------------------------------


def test_startup_failure_is_a_fixture_error_naming_the_app(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A lifespan startup that raises errors the test at setup, with the app's traceback."""
    pytester.makepyfile(
        test_broken="""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from awaitest.asgi import client_fixture

        @asynccontextmanager
        async def lifespan(app):
            raise ConnectionError("database is down")
            yield

        client = client_fixture(FastAPI(lifespan=lifespan))

        async def test_orders(client):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_orders*",
            "fixture 'client': the lifespan startup of FastAPI app raised ConnectionError: "
            "database is down, so no request was sent. Fix the app's startup, or pass "
            "lifespan=False to test without it.",
            "Traceback (most recent call last):",
            "*",
            '*File "*test_broken.py", line 7, in lifespan',
            '    raise ConnectionError("database is down")',
            "ConnectionError: database is down",
        ]
    )
    assert "asgi_lifespan" not in result.stdout.str()


def test_quart_startup_failure_is_reported_at_once(pytester: pytest.Pytester, run: Run) -> None:
    """Quart reports a failed startup and waits; the error comes at once, not at the timeout."""
    pytest.importorskip("quart")
    pytester.makepyfile(
        test_quart_broken="""
        from quart import Quart
        from awaitest.asgi import client_fixture

        app = Quart(__name__)

        @app.before_serving
        async def connect():
            raise ConnectionError("no redis")

        client = client_fixture(app, startup_timeout=60)

        async def test_index(client):
            pass
        """
    )
    result = run("--durations=1", "--durations-min=0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "fixture 'client': the lifespan startup of Quart app raised ConnectionError: no "
            "redis, so no request was sent. Fix the app's startup, or pass lifespan=False to "
            "test without it.",
        ]
    )
    assert result.duration < 30


@pytest.mark.parametrize(
    ("app", "what"),
    [
        (
            "raw.http_only",
            "called with the 'lifespan' scope, it raised AssertionError",
        ),
        (
            "returns_at_once",
            "it returned from the 'lifespan' scope without receiving an event",
        ),
    ],
    ids=["raises", "returns"],
)
def test_app_without_lifespan_support_is_told_to_pass_lifespan_false(
    pytester: pytest.Pytester, run: Run, app: str, what: str
) -> None:
    """lifespan=True (the default) on an app without lifespan support says to pass False."""
    pytester.makepyfile(
        raw=RAW_APP,
        test_no_lifespan=f"""
        import raw
        from awaitest.asgi import client_fixture

        async def returns_at_once(scope, receive, send):
            if scope["type"] != "http":
                return

        client = client_fixture({app})

        async def test_get(client):
            pass
        """,
    )
    result = run()
    result.assert_outcomes(errors=1)
    name = app.replace("returns_at_once", "test_no_lifespan.returns_at_once")
    result.stdout.fnmatch_lines(
        [
            f"fixture 'client': app '{name}' does not support the ASGI lifespan protocol: "
            f"{what}. Pass lifespan=False to test it without startup and shutdown."
        ]
    )


def test_startup_timeout(pytester: pytest.Pytester, run: Run) -> None:
    """A startup that never finishes fails after startup_timeout, saying which setting."""
    pytester.makepyfile(
        test_slow="""
        import asyncio
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from awaitest.asgi import client_fixture

        @asynccontextmanager
        async def lifespan(app):
            await asyncio.Event().wait()
            yield

        client = client_fixture(FastAPI(lifespan=lifespan), startup_timeout=0.1)

        async def test_get(client):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "fixture 'client': FastAPI app did not finish its lifespan startup within 0.1 "
            "seconds (startup_timeout=0.1). Find what its startup waits for, or raise "
            "startup_timeout (None waits as long as it takes)."
        ]
    )


#: Module `lifespans`: raw ASGI apps that break the lifespan protocol, each in its own way.
LIFESPANS = """
import asyncio


async def startup_returns(scope, receive, send):
    await receive()


async def sends_first(scope, receive, send):
    await send({"type": "lifespan.startup.complete"})


async def reports_failure(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no config file"})
    await receive()  # waits, as Quart does


async def shutdown_hangs(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await asyncio.Event().wait()


async def leaves_early(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.complete"})
"""


@pytest.mark.parametrize(
    ("app", "outcomes", "message"),
    [
        (
            "startup_returns",
            {"errors": 1},
            "the lifespan startup of app 'lifespans.startup_returns' returned without sending "
            "'lifespan.startup.complete', so no request was sent. Fix the app's startup, or "
            "pass lifespan=False to test without it.",
        ),
        (
            "sends_first",
            {"errors": 1},
            "app 'lifespans.sends_first' does not support the ASGI lifespan protocol: it sent a "
            "message on the 'lifespan' scope before receiving one. Pass lifespan=False to test "
            "it without startup and shutdown.",
        ),
        (
            "reports_failure",
            {"errors": 1},
            "the lifespan startup of app 'lifespans.reports_failure' reported: no config file, "
            "so no request was sent. Fix the app's startup, or pass lifespan=False to test "
            "without it.",
        ),
        (
            "shutdown_hangs",
            {"passed": 1, "errors": 1},
            "the lifespan shutdown of app 'lifespans.shutdown_hangs' did not finish within 0.1 "
            "seconds (shutdown_timeout=0.1); find what it waits for, or raise shutdown_timeout.",
        ),
        (
            "leaves_early",
            {"passed": 1, "errors": 1},
            "the lifespan shutdown of app 'lifespans.leaves_early' ended before the shutdown: "
            "the app returned from the 'lifespan' scope early.",
        ),
    ],
    ids=["startup_returns", "sends_first", "reports_failure", "shutdown_hangs", "leaves_early"],
)
def test_lifespan_protocol_broken(
    pytester: pytest.Pytester, run: Run, app: str, outcomes: dict[str, int], message: str
) -> None:
    """Apps breaking the lifespan protocol are named, with what they did, at once."""
    pytester.makepyfile(
        lifespans=LIFESPANS,
        test_lifespan=f"""
        import lifespans
        from awaitest.asgi import client_fixture

        client = client_fixture(lifespans.{app}, startup_timeout=30, shutdown_timeout=0.1)

        async def test_get(client):
            pass
        """,
    )
    result = run("--durations=0")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines([f"fixture 'client': {message}"])
    assert result.duration < 20  # not the 30 s startup timeout


def test_shutdown_failure_is_a_teardown_error(pytester: pytest.Pytester, run: Run) -> None:
    """A lifespan shutdown that raises errors the test at teardown; overrides are gone anyway."""
    pytester.makepyfile(
        test_shutdown="""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from awaitest.asgi import client_fixture

        @asynccontextmanager
        async def lifespan(app):
            yield
            raise RuntimeError("pool already closed")

        app = FastAPI(lifespan=lifespan)
        client = client_fixture(app)

        def get_db(): ...

        async def test_get(client):
            client.override(get_db, lambda: "fake")

        def test_after():
            assert app.dependency_overrides == {}
        """
    )
    result = run("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_get*",
            "fixture 'client': the lifespan shutdown of FastAPI app raised RuntimeError: pool "
            "already closed.",
            "Traceback (most recent call last):",
            '*raise RuntimeError("pool already closed")',
        ]
    )


def test_app_that_never_responds(pytester: pytest.Pytester, run: Run) -> None:
    """An app returning without a response fails the request with the app, method and URL."""
    pytester.makepyfile(
        test_silent="""
        from awaitest.asgi import open_client

        async def silent(scope, receive, send):
            pass

        async def test_get():
            async with open_client(silent, lifespan=False) as client:
                await client.get("/orders?page=2")
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * awaitest.asgi.AppError: app 'test_silent.silent' returned without sending a "
            "response to GET http://testserver/orders?page=2 (no 'http.response.start')."
        ]
    )


def test_client_fixture_of_a_non_app_stops_the_conftest(
    pytester: pytest.Pytester, run: Run
) -> None:
    """client_fixture(module) fails when the conftest is imported, before any test runs."""
    pytester.makepyfile(
        shop=SHOP,
        conftest="""
        import shop
        from awaitest.asgi import client_fixture

        client = client_fixture(shop)
        """,
        test_nothing="def test_nothing(): pass",
    )
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "E * awaitest.asgi.ASGIUsageError: client_fixture(): got the module 'shop', not an "
            "ASGI app. Pass the application object it defines, e.g. shop.app."
        ]
    )


def test_client_fixture_of_something_that_cannot_name_a_fixture() -> None:
    """A string that is no fixture name (an import path, say) is refused where it is written."""
    with pytest.raises(ConfigError) as info:
        client_fixture("shop:app")
    assert str(info.value) == (
        "client_fixture('shop:app'): 'shop:app' is not a fixture name. Pass the app itself "
        "(imported: from shop import app; client_fixture(app)), or the name of a fixture that "
        "provides it."
    )


def test_app_fixture_providing_no_app(pytester: pytest.Pytester, run: Run) -> None:
    """An app fixture returning something that is not an app errors the test, naming both."""
    pytester.makepyfile(
        test_factory="""
        import pytest
        from fastapi import FastAPI
        from awaitest.asgi import client_fixture

        @pytest.fixture
        def shop_app():
            return FastAPI  # the class, not an app

        client = client_fixture("shop_app")

        async def test_get(client):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "fixture 'client' (the app of fixture 'shop_app'): app "
            "'fastapi.applications.FastAPI' takes no arguments, so it looks like an app factory "
            "(or a class), not an app: an ASGI app is an async callable taking (scope, receive, "
            "send). Pass the app it makes, e.g. FastAPI()."
        ]
    )


def test_open_client_refuses_its_own_options(pytester: pytest.Pytester, run: Run) -> None:
    """transport=, app= or mounts= would bypass the app: refused, naming them."""
    pytester.makepyfile(
        test_options="""
        import httpx
        from awaitest.asgi import open_client
        from fastapi import FastAPI

        async def test_transport():
            async with open_client(FastAPI(), transport=httpx.AsyncHTTPTransport()):
                pass
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * awaitest.asgi.ASGIUsageError: open_client(): transport cannot be passed on to "
            "httpx.AsyncClient: the client sends requests to the app through its own "
            "transport. Pass base_url and headers as keyword arguments; for a transport of "
            "your own, use httpx.AsyncClient directly."
        ]
    )


async def _asgi(scope: Any, receive: Any, send: Any) -> None: ...


def _factory() -> None: ...


def _wsgi(environ: Any, start_response: Any) -> None: ...


class _Asgi:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


EXPECTED = "an ASGI app is an async callable taking (scope, receive, send)"


@pytest.mark.parametrize(
    ("app", "message"),
    [
        (
            functools,
            "got the module 'functools', not an ASGI app. Pass the application object it "
            "defines, e.g. functools.app.",
        ),
        (
            "shop:app",
            "got the string 'shop:app', not an ASGI app. Pass the application object; to name "
            "a fixture that provides the app, use client_fixture().",
        ),
        (
            None,
            f"got None (NoneType), which is not an ASGI app: {EXPECTED}. Pass the application "
            "object, e.g. the FastAPI() or Starlette() instance.",
        ),
        (
            _factory,
            "app 'test_asgi._factory' takes no arguments, so it looks like an app factory (or a "
            f"class), not an app: {EXPECTED}. Pass the app it makes, e.g. _factory().",
        ),
        (
            _Asgi,
            "app 'test_asgi._Asgi' takes no arguments, so it looks like an app factory (or a "
            f"class), not an app: {EXPECTED}. Pass the app it makes, e.g. _Asgi().",
        ),
        (
            _wsgi,
            "app 'test_asgi._wsgi' takes two arguments, so it looks like a WSGI app (environ, "
            f"start_response), and {EXPECTED}. Wrap it for ASGI (asgiref.wsgi.WsgiToAsgi(app)), "
            "or test it with a WSGI client.",
        ),
        (
            max,
            None,
        ),
        (
            lambda scope: None,
            f"app 'test_asgi.<lambda>' cannot be called as (scope, receive, send): {EXPECTED}.",
        ),
    ],
    ids=["module", "string", "none", "factory", "class", "wsgi", "builtin", "one-argument"],
)
def test_check_app(app: object, message: str | None) -> None:
    """What is surely not an ASGI app is refused, saying what it is and what to pass."""
    if message is None:
        check_app(app, "open_client()")  # cannot tell: accepted
        return
    with pytest.raises(ASGIUsageError) as info:
        check_app(app, "open_client()")
    assert str(info.value) == f"open_client(): {message}"


@pytest.mark.parametrize(
    "app", [_asgi, _Asgi(), functools.partial(_asgi)], ids=["function", "instance", "partial"]
)
def test_check_app_accepts_asgi_callables(app: object) -> None:
    """Coroutine functions, objects with an async __call__ and partials pass the check."""
    check_app(app, "open_client()")


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("lifespan='yes'", "lifespan='yes' is not True or False."),
        ("startup_timeout=0", "startup_timeout=0 is not a number of seconds above 0 (or None)."),
        (
            "shutdown_timeout='5'",
            "shutdown_timeout='5' is not a number of seconds above 0 (or None).",
        ),
    ],
)
def test_bad_arguments(pytester: pytest.Pytester, run: Run, argument: str, message: str) -> None:
    """Wrong lifespan and timeout values are refused with the value and what is expected."""
    pytester.makepyfile(
        test_args=f"""
        from fastapi import FastAPI
        from awaitest.asgi import open_client

        async def test_open():
            async with open_client(FastAPI(), {argument}):
                pass
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E * awaitest.asgi.ASGIUsageError: open_client(): {message}"])


# -- packaging --------------------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_awaitest_does_not_import_httpx() -> None:
    """The core and the plugin load without the asgi extra's libraries."""
    result = _python(
        """
        import sys
        import awaitest, awaitest.plugin
        print(sorted({"httpx", "asgi_lifespan", "anyio"} & set(sys.modules)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_extra_says_what_to_install() -> None:
    """Without httpx, importing awaitest.asgi says to install the asgi extra."""
    result = _python(
        """
        import sys
        sys.modules["httpx"] = None  # as if not installed
        import awaitest.asgi
        """
    )
    assert result.returncode != 0
    assert (
        "ImportError: awaitest.asgi needs httpx and asgi-lifespan, and 'httpx' is not "
        "installed: install awaitest with its asgi extra, pip install 'awaitest[asgi]'."
    ) in result.stderr
