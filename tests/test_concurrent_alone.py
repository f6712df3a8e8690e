"""Concurrent tests that must run alone, and the cap on how many run at once.

A test using a fixture that patches process-wide state (awaitest's list,
the awaitest_unsafe_fixtures ini key, the pytest_awaitest_unsafe_fixtures
hook), a test on virtual time, and every test under --setup-show run
alone: the tests before it overlap among themselves (they pass a
`Meeting`), and nothing else happens between its start and its end.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import CONCURRENT, TWO_PAIRS, assert_alone, read_log, write_suite

Run = Callable[..., pytest.RunResult]

#: The test that must run alone: it uses `{uses}`, gives other tests turns, then does `{body}`.
ALONE = """
async def test_alone({uses}):
    note("start alone")
    for _ in range(3):
        await asyncio.sleep(0.01)  # any other running test would get turns here
    {body}
    note("end alone")
"""


def write_around(pytester: pytest.Pytester, alone: str, fixtures: str = "") -> None:
    """Write a concurrent test_suite.py: `fixtures`, then `alone` between two pairs."""
    header = CONCURRENT + "first, second = Meeting(2), Meeting(2)\n" + fixtures
    write_suite(pytester, header, TWO_PAIRS.format(self="", alone=alone))


def check_alone(pytester: pytest.Pytester, result: pytest.RunResult) -> None:
    """All five tests passed; test_alone ran between the pairs, with nothing beside it."""
    result.assert_outcomes(passed=5)
    log = read_log(pytester)
    assert_alone(log, "alone")
    assert log.index("start alone") > max(log.index("end a"), log.index("end b")), log
    assert log.index("end alone") < min(log.index("start c"), log.index("start d")), log


@pytest.mark.parametrize(
    ("uses", "body"),
    [
        ("monkeypatch", 'monkeypatch.setenv("MODE", "test")'),
        ("capsys", 'print("hi"); assert capsys.readouterr().out == "hi\\n"'),
        ("caplog", "assert caplog.records == []"),
        ("recwarn", "assert len(recwarn) == 0"),
        ("patched", "assert patched is None"),
    ],
    ids=["monkeypatch", "capsys", "caplog", "recwarn", "through-a-fixture"],
)
def test_a_test_using_an_unsafe_fixture_runs_alone(
    pytester: pytest.Pytester, run: Run, uses: str, body: str
) -> None:
    """Unsafe fixtures of awaitest's list, used directly or by another fixture, isolate it."""
    fixtures = """
@pytest.fixture
def patched(monkeypatch):
    monkeypatch.setattr("os.sep", "/")
"""
    write_around(pytester, ALONE.format(uses=uses, body=body), fixtures)
    check_alone(pytester, run())


@pytest.mark.parametrize("way", ["ini", "hook"])
def test_projects_declare_their_own_unsafe_fixtures(
    pytester: pytest.Pytester, run: Run, way: str
) -> None:
    """A fixture named in awaitest_unsafe_fixtures or by the hook makes its tests run alone."""
    if way == "ini":
        pytester.makeini("[pytest]\nawaitest_unsafe_fixtures =\n    other\n    global_settings\n")
    else:
        pytester.makeconftest(
            """
            def pytest_awaitest_unsafe_fixtures(config):
                assert config.getini("awaitest_unsafe_fixtures") == []
                return ["other", "global_settings"]
            """
        )
    fixtures = """
SETTINGS = {"mode": "prod"}


@pytest.fixture
def global_settings():
    SETTINGS["mode"] = "test"
    yield SETTINGS
    SETTINGS["mode"] = "prod"
"""
    body = 'assert global_settings["mode"] == "test"'
    write_around(pytester, ALONE.format(uses="global_settings", body=body), fixtures)
    check_alone(pytester, run())


@pytest.mark.parametrize(
    ("marker", "uses"),
    [
        ("@pytest.mark.awaitest(virtual_time=True)", ""),
        ("", "virtual_clock"),
    ],
    ids=["virtual_time-marker", "virtual_clock-fixture"],
)
def test_a_test_on_virtual_time_runs_alone(
    pytester: pytest.Pytester, run: Run, marker: str, uses: str
) -> None:
    """The clock belongs to the loop: a test on virtual time has the loop to itself."""
    write_around(pytester, marker + ALONE.format(uses=uses, body="await asyncio.sleep(3600)"))
    check_alone(pytester, run())


def test_every_test_runs_alone_under_setup_show(pytester: pytest.Pytester, run: Run) -> None:
    """--setup-show prints each test's fixtures as they set up: tests run one by one."""
    body = """
@pytest.fixture
async def resource():
    await asyncio.sleep(0)
    yield


async def test_a(resource):
    note("start a")
    await asyncio.sleep(0.01)
    note("end a")


async def test_b(resource):
    note("start b")
    await asyncio.sleep(0.01)
    note("end b")
"""
    write_suite(pytester, CONCURRENT, body)
    result = run("--setup-show")
    result.assert_outcomes(passed=2)
    assert read_log(pytester) == ["start a", "end a", "start b", "end b"]
    result.stdout.fnmatch_lines(
        [
            "*SETUP    F resource*",
            "*test_suite.py::test_a (fixtures used: resource)*",
            "*TEARDOWN F resource*",
            "*SETUP    F resource*",
            "*test_suite.py::test_b (fixtures used: resource)*",
            "*TEARDOWN F resource*",
        ]
    )


# -- the cap --------------------------------------------------------------------------


CAPPED = """
peak = Peak()
meetings = [Meeting(2) for _ in range(3)]


@pytest.mark.parametrize("n", range(6))
async def test_pairs(n):
    peak.enter()
    try:
        await meetings[n // 2]()
        await asyncio.sleep(0.01)
    finally:
        peak.leave()
    note("peak", peak.most)
"""


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_max_concurrency_caps_how_many_tests_run_at_once(
    pytester: pytest.Pytester, run: Run, cap: int
) -> None:
    """With awaitest_max_concurrency = N, at most N tests run at once (and N do).

    Pairs of tests meet: with a cap of 2 or more each pair overlaps; with a cap
    of 1 the first of each pair waits in vain (briefly) for its partner.
    """
    pytester.makeini(f"[pytest]\nawaitest_max_concurrency = {cap}\n")
    body = CAPPED if cap > 1 else CAPPED.replace("Meeting(2)", "Meeting(2, timeout=0.1)")
    write_suite(pytester, CONCURRENT, body)
    result = run()
    if cap == 1:
        result.assert_outcomes(failed=3, passed=3)
        result.stdout.fnmatch_lines(["*AssertionError: only 1 of 2 tests met"])
    else:
        result.assert_outcomes(passed=6)
    assert max(int(line.split()[1]) for line in read_log(pytester)) == cap


def test_the_default_cap_is_100(pytester: pytest.Pytester, run: Run) -> None:
    """Without the ini key, 100 tests run at once: the 101st starts when one of them ends."""
    body = """
peak = Peak()
meeting = Meeting(100)


@pytest.mark.parametrize("n", range(101))
async def test_many(n):
    peak.enter()
    try:
        if n < 100:
            await meeting()
        await asyncio.sleep(0)
    finally:
        peak.leave()
    note("peak", peak.most)
"""
    write_suite(pytester, CONCURRENT, body)
    result = run()
    result.assert_outcomes(passed=101)
    assert max(int(line.split()[1]) for line in read_log(pytester)) == 100
