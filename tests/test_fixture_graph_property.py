"""Property test: awaitest keeps its fixture and loop invariants on random fixture graphs.

Hypothesis draws small suites: a package whose conftest (and its subpackage's)
defines fixtures of every scope and kind (sync function, sync generator,
coroutine, async generator), each depending on earlier fixtures at least as
wide, and a few test modules whose sync and async tests (some in a class)
request random fixtures. Every fixture and test appends what it saw (instance,
running loop, task) to an event log; the outer test runs pytest on the suite
with awaitest and checks the log with `check_events`: every instance tears down
exactly once, before what it depends on, on the loop and in the task it set up
in; each test and the async fixtures it uses share one loop, owned as "loops
that just work" says (one loop per owner node, the widest node of the group);
and every loop is closed once its owner node is done, and by the session's end.
A second property checks that sync code using async fixtures gets their loop
from `asyncio.get_event_loop()`. The last tests feed hand-broken logs to
`check_events`, so the properties can fail.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SCOPES = ("function", "class", "module", "package", "session")
RANK = {scope: rank for rank, scope in enumerate(SCOPES)}
KINDS = ("sync", "syncgen", "coroutine", "asyncgen")
ASYNC_KINDS = ("coroutine", "asyncgen")
#: Where a test sits in its module: before the class, in it, or after it.
PLACES = ("top", "class", "bottom")
CLASS_NAME = "TestGroup"
LOG_NAME = "events.jsonl"

#: A collection node as the path of names below the session: () is the session,
#: ("ex_0", "sub", "test_m1.py", "TestGroup", "test_0") a test.
Node = tuple[str, ...]


# -- the generated suites -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FixtureSpec:
    """One generated conftest fixture."""

    name: str
    scope: str
    kind: str
    deps: tuple[str, ...]
    autouse: bool = False
    in_sub: bool = False  # defined in the subpackage's conftest, so visible only there

    @property
    def is_async(self) -> bool:
        return self.kind in ASYNC_KINDS


@dataclasses.dataclass(frozen=True)
class CaseSpec:
    """One generated test function."""

    name: str
    is_async: bool
    place: str
    args: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ModuleSpec:
    """One generated test module, in the top package or its subpackage `sub`."""

    name: str
    in_sub: bool
    cases: tuple[CaseSpec, ...]

    def path(self, package: Node) -> Node:
        return (*package, *(("sub",) if self.in_sub else ()), f"{self.name}.py")


@dataclasses.dataclass(frozen=True)
class Suite:
    """A generated conftest and its test modules."""

    fixtures: tuple[FixtureSpec, ...]
    modules: tuple[ModuleSpec, ...]

    def cases_by_node(self, package: Node) -> dict[Node, tuple[ModuleSpec, CaseSpec]]:
        found: dict[Node, tuple[ModuleSpec, CaseSpec]] = {}
        for module in self.modules:
            for case in module.cases:
                in_class = (CLASS_NAME,) if case.place == "class" else ()
                node = (*module.path(package), *in_class, case.name)
                found[node] = (module, case)
        return found

    def closure(self, module: ModuleSpec, case: CaseSpec) -> set[str]:
        """Return the fixtures a test uses: its arguments, autouse ones, and their deps."""
        specs = {spec.name: spec for spec in self.fixtures}
        autouse = [spec.name for spec in self.fixtures if spec.autouse]
        todo = [*case.args, *(name for name in autouse if module.in_sub or not specs[name].in_sub)]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(specs[name].deps)
        return seen


@st.composite
def suites(draw: st.DrawFn) -> Suite:
    """Draw a small suite; `sampled_from` orders make it shrink to sync, function-scoped."""
    fixtures: list[FixtureSpec] = []
    for index in range(draw(st.integers(1, 7))):
        scope = draw(st.sampled_from(SCOPES))
        in_sub = draw(st.booleans())
        # Depending only on fixtures at least as wide avoids pytest's ScopeMismatch.
        wider = [
            spec.name
            for spec in fixtures
            if RANK[spec.scope] >= RANK[scope] and (in_sub or not spec.in_sub)
        ]
        deps = draw(st.lists(st.sampled_from(wider), unique=True, max_size=3)) if wider else []
        fixtures.append(
            FixtureSpec(
                name=f"f{index}",
                scope=scope,
                kind=draw(st.sampled_from(KINDS)),
                deps=tuple(sorted(deps)),
                autouse=draw(st.integers(0, 5)) == 5,
                in_sub=in_sub,
            )
        )
    modules = []
    for module_index in range(draw(st.integers(1, 3))):
        module_in_sub = draw(st.booleans())
        names = [spec.name for spec in fixtures if module_in_sub or not spec.in_sub]
        cases = tuple(
            CaseSpec(
                name=f"test_{case_index}",
                is_async=draw(st.booleans()),
                place=draw(st.sampled_from(PLACES)),
                args=tuple(sorted(draw(st.lists(st.sampled_from(names), unique=True, max_size=3))))
                if names
                else (),
            )
            for case_index in range(draw(st.integers(1, 4)))
        )
        modules.append(ModuleSpec(f"test_m{module_index}", module_in_sub, cases))
    return Suite(tuple(fixtures), tuple(modules))


# -- writing a suite as files ---------------------------------------------------

RECORD_MODULE = '''\
"""Event log shared by the generated conftest and tests."""
import asyncio
import json
import warnings

LOG = {log!r}
LOOPS = []  # every loop seen, kept alive so that ids stay unique
TASKS = []
_last_instance = [0]


def log(*event):
    with open(LOG, "a", encoding="utf-8") as file:
        file.write(json.dumps(event) + "\\n")


def new_instance():
    _last_instance[0] += 1
    return _last_instance[0]


def _index(seen, obj):
    for index, other in enumerate(seen):
        if other is obj:
            return index
    seen.append(obj)
    return len(seen) - 1


def loop_id():
    """Return the id of the running loop (None outside one)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _loop_index(loop)


def current_loop_id():
    """Return the id of the loop asyncio.get_event_loop() gives sync code (None if unset)."""
    if not LOOPS:
        return None  # no async fixture ran yet; asyncio might make a loop of its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return None
    return _loop_index(loop)


def _loop_index(loop):
    """Return the loop's id; the first time, make its close() log the close."""
    known = len(LOOPS)
    lid = _index(LOOPS, loop)
    if lid == known:
        close = loop.close

        def logged_close():
            was_closed = loop.is_closed()
            close()
            if not was_closed:
                log("close", lid)

        loop.close = logged_close
    return lid


def task_id():
    return _index(TASKS, asyncio.current_task())
'''

CONFTEST_HEAD = """\
import asyncio

import pytest

from ._record import LOOPS, current_loop_id, log, loop_id, new_instance, task_id


def pytest_runtest_logstart(nodeid, location):
    log("item", nodeid)


def pytest_sessionfinish(session):
    for lid, loop in enumerate(LOOPS):
        log("final", lid, loop.is_closed())
"""

_FIXTURE_BODIES = {
    "sync": """\
        me = new_instance()
        log("setup", {name!r}, me, loop_id(), None, {deps}, current_loop_id())
        request.addfinalizer(lambda: log("teardown", {name!r}, me, loop_id(), None))
        return me
    """,
    "syncgen": """\
        me = new_instance()
        log("setup", {name!r}, me, loop_id(), None, {deps}, current_loop_id())
        yield me
        log("teardown", {name!r}, me, loop_id(), None)
    """,
    "coroutine": """\
        await asyncio.sleep(0)
        me = new_instance()
        log("setup", {name!r}, me, loop_id(), task_id(), {deps})
        request.addfinalizer(lambda: log("teardown", {name!r}, me, loop_id(), None))
        return me
    """,
    "asyncgen": """\
        me = new_instance()
        log("setup", {name!r}, me, loop_id(), task_id(), {deps})
        await asyncio.sleep(0)
        yield me
        await asyncio.sleep(0)
        log("teardown", {name!r}, me, loop_id(), task_id())
    """,
}


def _values(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"{name!r}: {name}" for name in names) + "}"


def render_fixture(spec: FixtureSpec) -> str:
    """Return the source of one conftest fixture."""
    params = ", ".join(("request", *spec.deps))
    head = f"{'async ' if spec.is_async else ''}def {spec.name}({params}):"
    body = _FIXTURE_BODIES[spec.kind].format(name=spec.name, deps=_values(spec.deps))
    return (
        f"@pytest.fixture(scope={spec.scope!r}, autouse={spec.autouse})\n"
        f"{head}\n{textwrap.indent(textwrap.dedent(body), '    ')}"
    )


SUB_CONFTEST_HEAD = """\
import asyncio

import pytest

from .._record import current_loop_id, log, loop_id, new_instance, task_id
"""


def render_conftest(suite: Suite, *, sub: bool) -> str:
    fixtures = [render_fixture(spec) for spec in suite.fixtures if spec.in_sub == sub]
    return "\n\n".join([SUB_CONFTEST_HEAD if sub else CONFTEST_HEAD, *fixtures])


def render_case(case: CaseSpec) -> str:
    params = ", ".join((*(("self",) if case.place == "class" else ()), *case.args))
    if case.is_async:
        return (
            f"async def {case.name}({params}):\n"
            "    await asyncio.sleep(0)\n"
            f'    log("test", loop_id(), {_values(case.args)})\n'
        )
    return (
        f"def {case.name}({params}):\n"
        f'    log("test", loop_id(), {_values(case.args)}, current_loop_id())\n'
    )


def render_module(module: ModuleSpec) -> str:
    dots = ".." if module.in_sub else "."
    parts = [f"import asyncio\n\nfrom {dots}_record import current_loop_id, log, loop_id\n"]
    parts += [render_case(case) for case in module.cases if case.place == "top"]
    in_class = [render_case(case) for case in module.cases if case.place == "class"]
    if in_class:
        body = "\n".join(in_class)
        parts.append(f"class {CLASS_NAME}:\n{textwrap.indent(body, '    ')}")
    parts += [render_case(case) for case in module.cases if case.place == "bottom"]
    return "\n\n".join(parts)


def render_files(suite: Suite, log: Path) -> dict[str, str]:
    """Return the suite's files (paths relative to its package directory) and their source."""
    files = {
        "__init__.py": "",
        "sub/__init__.py": "",
        "_record.py": RECORD_MODULE.format(log=str(log)),
        "conftest.py": render_conftest(suite, sub=False),
        "sub/conftest.py": render_conftest(suite, sub=True),
    }
    for module in suite.modules:
        files[f"{'sub/' if module.in_sub else ''}{module.name}.py"] = render_module(module)
    return files


# -- checking the event log -----------------------------------------------------


def node_of(nodeid: str) -> Node:
    path, *names = nodeid.split("::")
    return (*path.split("/"), *names)


def is_under(node: Node, owner: Node) -> bool:
    return node[: len(owner)] == owner


def scope_node(item: Node, scope: str, package: Node) -> Node:
    """Return the node pytest keeps a `scope` fixture instance on, set up for `item`."""
    if scope == "function":
        return item
    if scope == "session":
        return ()
    if scope == "package":
        return package  # the package whose conftest defines the fixture
    module = next(i for i, part in enumerate(item) if part.endswith(".py")) + 1
    if scope == "module":
        return item[:module]
    return item[:-1] if len(item) > module + 1 else item  # class scope outside a class: the test


@dataclasses.dataclass
class Instance:
    """One set-up fixture instance, as the log tells it."""

    spec: FixtureSpec
    id: int
    item: Node
    node: Node
    loop: int | None
    task: int | None
    deps: dict[str, int]
    teardowns: list[tuple[int, int | None, int | None]]  # (event index, loop, task)
    current: int | None = None  # asyncio.get_event_loop() in a sync fixture's setup


@dataclasses.dataclass
class CaseRun:
    """One test call, as the log tells it."""

    item: Node
    case: CaseSpec
    loop: int | None
    closure: list[int]  # instance ids of every fixture the test uses
    current: int | None = None  # asyncio.get_event_loop() in a sync test


class _Owners:
    """Union-find over tests and wide async fixture instances; each group's top node."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}
        self.top: dict[object, Node] = {}

    def add(self, key: object, node: Node) -> None:
        if key not in self.parent:
            self.parent[key], self.top[key] = key, node

    def find(self, key: object) -> object:
        while self.parent[key] != key:
            key = self.parent[key]
        return key

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.top[ra] = min(self.top[ra], self.top[rb], key=len)

    def owner(self, key: object) -> Node:
        return self.top[self.find(key)]


def check_events(
    suite: Suite, events: list[list[Any]], package: Node, *, current_loop: bool = False
) -> list[str]:
    """Return every way the event log breaks awaitest's invariants (empty if none).

    Args:
        suite: The suite that ran.
        events: The log, one list per event.
        package: The node of the suite's top package (where its conftest is).
        current_loop: Also check that sync code using async fixtures gets their
            loop from `asyncio.get_event_loop()`.

    Returns:
        One readable line per violation.

    """
    specs = {spec.name: spec for spec in suite.fixtures}
    cases = suite.cases_by_node(package)
    problems: list[str] = []
    instances: dict[int, Instance] = {}
    live: dict[str, int] = {}
    runs: list[CaseRun] = []
    items: list[tuple[int, Node]] = []
    closes: dict[int, list[int]] = {}
    finals: dict[int, bool] = {}
    item: Node = ()
    for index, (what, *data) in enumerate(events):
        if what == "item":
            item = node_of(data[0])
            items.append((index, item))
        elif what == "setup":
            name, iid, loop, task, deps, *current = data
            spec = specs[name]
            if name in live:
                problems.append(f"{name} #{iid} set up while #{live[name]} is still live")
            if deps != {dep: live.get(dep) for dep in spec.deps}:
                problems.append(f"{name} #{iid} got dependencies {deps}, live were {live}")
            if spec.is_async != (loop is not None):
                problems.append(f"{spec.kind} fixture {name} #{iid} set up on loop {loop}")
            node = scope_node(item, spec.scope, (*package, *(("sub",) if spec.in_sub else ())))
            instances[iid] = Instance(spec, iid, item, node, loop, task, deps, [], *current)
            live[name] = iid
        elif what == "teardown":
            name, iid, loop, task = data
            if iid not in instances:
                problems.append(f"{name} #{iid} tore down without a setup")
                continue
            instances[iid].teardowns.append((index, loop, task))
            if live.get(name) == iid:
                del live[name]
        elif what == "test":
            loop, args, *current = data
            module, case = cases[item]
            uses = suite.closure(module, case)
            missing = sorted(uses - live.keys())
            if missing:
                problems.append(f"{'::'.join(item)} ran without live fixture(s) {missing}")
            if args != {arg: live.get(arg) for arg in case.args}:
                problems.append(f"{'::'.join(item)} got {args}, live were {live}")
            if case.is_async != (loop is not None):
                problems.append(f"{'::'.join(item)} (async={case.is_async}) ran on loop {loop}")
            closure = [live[name] for name in sorted(uses) if name in live]
            runs.append(CaseRun(item, case, loop, closure, *current))
        elif what == "close":
            closes.setdefault(data[0], []).append(index)
        elif what == "final":
            finals[data[0]] = data[1]
    _check_teardowns(instances, closes, problems)
    _check_shared_loops(runs, instances, problems)
    owners = _check_owners(runs, instances, problems)
    _check_lifetimes(owners, events, items, closes, finals, problems)
    if current_loop:
        _check_current_loops(runs, instances, problems)
    return problems


def _async_loops(instances: dict[int, Instance], ids: list[int]) -> set[int]:
    """Return the loops of the async fixtures among `ids` and everything they depend on."""
    loops: set[int] = set()
    todo = list(ids)
    while todo:
        inst = instances[todo.pop()]
        if inst.loop is not None:
            loops.add(inst.loop)
        todo.extend(inst.deps.values())
    return loops


def _check_current_loops(
    runs: list[CaseRun], instances: dict[int, Instance], problems: list[str]
) -> None:
    """Sync code that uses async fixtures gets their loop from asyncio.get_event_loop()."""
    for inst in instances.values():
        if inst.spec.is_async:
            continue
        loops = _async_loops(instances, list(inst.deps.values()))
        if len(loops) == 1 and inst.current not in loops:
            problems.append(
                f"sync fixture {inst.spec.name} #{inst.id} uses async fixtures on loop "
                f"{loops.pop()}, but asyncio.get_event_loop() gave it loop {inst.current}"
            )
    for run in runs:
        if run.case.is_async:
            continue
        loops = _async_loops(instances, run.closure)
        if len(loops) == 1 and run.current not in loops:
            problems.append(
                f"sync test {'::'.join(run.item)} uses async fixtures on loop "
                f"{loops.pop()}, but asyncio.get_event_loop() gave it loop {run.current}"
            )


def _teardown_index(inst: Instance) -> int | None:
    return inst.teardowns[0][0] if len(inst.teardowns) == 1 else None


def _check_teardowns(
    instances: dict[int, Instance], closes: dict[int, list[int]], problems: list[str]
) -> None:
    for inst in instances.values():
        name = f"{inst.spec.name} #{inst.id}"
        if len(inst.teardowns) != 1:
            problems.append(f"{name} tore down {len(inst.teardowns)} times")
            continue
        index, loop, task = inst.teardowns[0]
        for dep_name, dep_id in inst.deps.items():
            dep_index = _teardown_index(instances[dep_id])
            if dep_index is not None and dep_index < index:
                problems.append(f"{name} tore down after {dep_name} #{dep_id}, which it uses")
        if inst.spec.kind == "asyncgen" and (loop, task) != (inst.loop, inst.task):
            problems.append(
                f"{name} set up on loop {inst.loop} in task {inst.task}, "
                f"tore down on loop {loop} in task {task}"
            )
        if inst.loop is not None:
            closed = closes.get(inst.loop, [])
            if closed and closed[0] < index:
                problems.append(f"{name} tore down after its loop {inst.loop} closed")


def _check_shared_loops(
    runs: list[CaseRun], instances: dict[int, Instance], problems: list[str]
) -> None:
    """Each test and every async fixture it uses run on one loop."""
    for run in runs:
        seen = {
            f"{instances[i].spec.name} #{i}": instances[i].loop
            for i in run.closure
            if instances[i].spec.is_async
        }
        if run.loop is not None:
            seen["the test"] = run.loop
        loops = {loop for loop in seen.values() if loop is not None}
        if len(loops) > 1:
            problems.append(f"{'::'.join(run.item)} and its fixtures ran on loops {seen}")


def _check_owners(
    runs: list[CaseRun], instances: dict[int, Instance], problems: list[str]
) -> dict[int, Node]:
    """Each loop belongs to the widest node among the tests and wide async fixtures sharing it.

    Returns:
        The owner node of each loop.

    """
    groups = _Owners()
    wide = {
        i for i, inst in instances.items() if inst.spec.is_async and inst.spec.scope != "function"
    }
    for iid in wide:
        groups.add(("inst", iid), instances[iid].node)
    for inst in instances.values():
        groups.add(("item", inst.item), inst.item)
    for run in runs:
        groups.add(("item", run.item), run.item)
        for iid in wide.intersection(run.closure):
            groups.union(("item", run.item), ("inst", iid))
    pairs: set[tuple[Node, int]] = set()
    for run in runs:
        if run.loop is not None:
            pairs.add((groups.owner(("item", run.item)), run.loop))
    for inst in instances.values():
        if inst.loop is None:
            continue
        if inst.spec.scope == "function":
            pairs.add((groups.owner(("item", inst.item)), inst.loop))
        else:
            pairs.add((groups.owner(("inst", inst.id)), inst.loop))
    owner_loops: dict[Node, set[int]] = {}
    loop_owners: dict[int, set[Node]] = {}
    for owner, loop in pairs:
        owner_loops.setdefault(owner, set()).add(loop)
        loop_owners.setdefault(loop, set()).add(owner)
    for owner, loops in owner_loops.items():
        if len(loops) > 1:
            problems.append(f"node {'::'.join(owner) or '<session>'} has loops {sorted(loops)}")
    for loop, owners in loop_owners.items():
        if len(owners) > 1:
            names = sorted("::".join(owner) or "<session>" for owner in owners)
            problems.append(f"loop {loop} is shared by nodes {names}, expected one each")
    return {loop: next(iter(owners)) for loop, owners in loop_owners.items()}


def _check_lifetimes(
    owners: dict[int, Node],
    events: list[list[Any]],
    items: list[tuple[int, Node]],
    closes: dict[int, list[int]],
    finals: dict[int, bool],
    problems: list[str],
) -> None:
    """Each loop closes once, after its last use, before a test outside its owner starts."""
    first_use: dict[int, int] = {}
    last_use: dict[int, int] = {}
    for index, (what, *data) in enumerate(events):
        loop = {"setup": 2, "teardown": 2, "test": 0}.get(what)
        if loop is not None and data[loop] is not None:
            first_use.setdefault(data[loop], index)
            last_use[data[loop]] = index
    for loop, first in first_use.items():
        owner = owners.get(loop, ())
        closed = closes.get(loop, [])
        if finals.get(loop) is not True or len(closed) != 1:
            problems.append(
                f"loop {loop} was left open (closed {len(closed)} times, "
                f"closed at session finish: {finals.get(loop)})"
            )
            continue
        if closed[0] < last_use[loop]:
            problems.append(f"loop {loop} was used after it closed")
        outside = [node for i, node in items if first < i < closed[0] and not is_under(node, owner)]
        if outside:
            problems.append(
                f"loop {loop} of {'::'.join(owner) or '<session>'} was still open when "
                f"{'::'.join(outside[0])} started"
            )


# -- the property ---------------------------------------------------------------

_EXAMPLE_DIRS = itertools.count()


def write_suite(pytester: pytest.Pytester, suite: Suite) -> Path:
    """Write the suite into a fresh package directory under the pytester directory."""
    package = pytester.path / f"ex_{next(_EXAMPLE_DIRS)}"
    for name, source in render_files(suite, package / LOG_NAME).items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


def describe(suite: Suite, package: Path) -> str:
    return "\n".join(
        f"--- {name}\n{(package / name).read_text(encoding='utf-8')}"
        for name in render_files(suite, package / LOG_NAME)
        if name not in ("__init__.py", "sub/__init__.py", "_record.py")
    )


_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def run_and_check(
    pytester: pytest.Pytester, run: Callable[..., pytest.RunResult], suite: Suite, **checks: bool
) -> None:
    """Run the suite with awaitest; assert that all tests pass and the log keeps the invariants."""
    __tracebackhide__ = True
    pytester.makeini("[pytest]\n")  # pins the rootdir, so node ids start at the package
    package = write_suite(pytester, suite)
    result = run("-q", package.name)
    tests = sum(len(module.cases) for module in suite.modules)
    outcomes = result.parseoutcomes()
    assert outcomes == {"passed": tests}, f"{describe(suite, package)}\n{result.stdout.str()}"
    log = (package / LOG_NAME).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in log]
    problems = check_events(suite, events, (package.name,), **checks)
    assert not problems, "\n".join([*problems, describe(suite, package), *log])


#: A session client used from both packages, a module pool, a package fixture of the
#: subpackage, a class fixture, and function fixtures on top: every loop owner at once.
_EVERY_OWNER = Suite(
    fixtures=(
        FixtureSpec("client", "session", "asyncgen", ()),
        FixtureSpec("pool", "module", "coroutine", ()),
        FixtureSpec("shared", "package", "asyncgen", ("client",), in_sub=True),
        FixtureSpec("per_class", "class", "asyncgen", ("pool",)),
        FixtureSpec("conn", "function", "asyncgen", ("client",)),
        FixtureSpec("wrapper", "module", "syncgen", ("client",)),
        FixtureSpec("tick", "function", "coroutine", (), autouse=True),
    ),
    modules=(
        ModuleSpec(
            "test_m0",
            in_sub=False,
            cases=(
                CaseSpec("test_0", True, "top", ("pool",)),
                CaseSpec("test_1", True, "class", ("per_class",)),
                CaseSpec("test_2", False, "class", ("per_class", "tick")),
                CaseSpec("test_3", True, "bottom", ()),
                CaseSpec("test_4", False, "bottom", ("conn",)),
            ),
        ),
        ModuleSpec(
            "test_m1",
            in_sub=True,
            cases=(
                CaseSpec("test_0", True, "top", ("shared", "wrapper")),
                CaseSpec("test_1", True, "class", ("per_class",)),
            ),
        ),
    ),
)


@_SETTINGS
@given(suite=suites())
@example(suite=_EVERY_OWNER)
def test_random_fixture_graphs_keep_the_loop_and_teardown_invariants(
    pytester: pytest.Pytester, run: Callable[..., pytest.RunResult], suite: Suite
) -> None:
    """On random fixture graphs, fixtures tear down once, in order, on their loop; loops close."""
    run_and_check(pytester, run, suite)


def _sync_tests_using(*args: str) -> Suite:
    """Sync tests, one per argument, using a session `client` or a module `pool`."""
    cases = tuple(CaseSpec(f"test_{i}", False, "top", (arg,)) for i, arg in enumerate(args))
    return Suite(
        fixtures=(
            FixtureSpec("client", "session", "coroutine", ()),
            FixtureSpec("pool", "module", "coroutine", ()),
        ),
        modules=(ModuleSpec("test_m0", in_sub=False, cases=cases),),
    )


@_SETTINGS
@given(suite=suites())
@example(suite=_sync_tests_using("pool", "client", "pool"))  # session loop made later
@example(suite=_sync_tests_using("client", "pool", "client"))  # module loop made later
def test_random_fixture_graphs_give_sync_code_the_loop_of_its_async_fixtures(
    pytester: pytest.Pytester, run: Callable[..., pytest.RunResult], suite: Suite
) -> None:
    """Sync tests and fixtures using async fixtures get their loop from get_event_loop()."""
    run_and_check(pytester, run, suite, current_loop=True)


# -- the checker catches broken logs ----------------------------------------------

#: A module-scoped async generator `s`, a function-scoped coroutine `f` using it,
#: `test_a` using `f` (so on the module's loop 0) and `test_b` on its own loop 1.
_SUITE = Suite(
    fixtures=(
        FixtureSpec("s", "module", "asyncgen", ()),
        FixtureSpec("f", "function", "coroutine", ("s",)),
    ),
    modules=(
        ModuleSpec(
            "test_m0",
            in_sub=False,
            cases=(CaseSpec("test_a", True, "top", ("f",)), CaseSpec("test_b", True, "top", ())),
        ),
    ),
)
_GOOD_LOG: list[list[Any]] = [
    ["item", "ex/test_m0.py::test_a"],
    ["setup", "s", 1, 0, 0, {}],
    ["setup", "f", 2, 0, 1, {"s": 1}],
    ["test", 0, {"f": 2}],
    ["teardown", "f", 2, None, None],
    ["item", "ex/test_m0.py::test_b"],
    ["test", 1, {}],
    ["close", 1],
    ["teardown", "s", 1, 0, 0],
    ["close", 0],
    ["final", 0, True],
    ["final", 1, True],
]


def _replace(index: int, event: list[Any]) -> Callable[[list[list[Any]]], None]:
    def mutate(log: list[list[Any]]) -> None:
        log[index] = event

    return mutate


def _delete(*indexes: int) -> Callable[[list[list[Any]]], None]:
    def mutate(log: list[list[Any]]) -> None:
        for index in sorted(indexes, reverse=True):
            del log[index]

    return mutate


def _swap(a: int, b: int) -> Callable[[list[list[Any]]], None]:
    def mutate(log: list[list[Any]]) -> None:
        log[a], log[b] = log[b], log[a]

    return mutate


def _test_b_on_loop_0(log: list[list[Any]]) -> None:
    log[6] = ["test", 0, {}]
    del log[11], log[7]


def _late_close(log: list[list[Any]]) -> None:
    log.insert(9, ["item", "ex/test_m1.py::test_c"])


def test_checker_accepts_a_good_log() -> None:
    """The hand-made log of a correct run has no violations (the baseline of the next test)."""
    assert check_events(_SUITE, _GOOD_LOG, ("ex",)) == []


@pytest.mark.parametrize(
    ("mutate", "violation"),
    [
        pytest.param(
            _replace(8, ["teardown", "s", 1, 1, 0]),
            "s #1 set up on loop 0 in task 0, tore down on loop 1 in task 0",
            id="teardown-on-another-loop",
        ),
        pytest.param(
            _replace(8, ["teardown", "s", 1, 0, 7]),
            "s #1 set up on loop 0 in task 0, tore down on loop 0 in task 7",
            id="teardown-in-another-task",
        ),
        pytest.param(
            _replace(3, ["test", 1, {"f": 2}]),
            "ex::test_m0.py::test_a and its fixtures ran on loops",
            id="test-on-another-loop-than-its-fixture",
        ),
        pytest.param(_delete(4), "f #2 tore down 0 times", id="missing-teardown"),
        pytest.param(
            _replace(4, ["teardown", "f", 7, None, None]),
            "f #7 tore down without a setup",
            id="teardown-without-setup",
        ),
        pytest.param(
            lambda log: log.insert(9, ["teardown", "s", 1, 0, 0]),
            "s #1 tore down 2 times",
            id="double-teardown",
        ),
        pytest.param(
            lambda log: log.insert(4, log.pop(8)),
            "f #2 tore down after s #1, which it uses",
            id="teardown-before-a-dependent",
        ),
        pytest.param(_swap(8, 9), "s #1 tore down after its loop 0 closed", id="teardown-late"),
        pytest.param(_delete(9, 10), "loop 0 was left open (closed 0 times", id="loop-left-open"),
        pytest.param(
            _replace(10, ["final", 0, False]),
            "closed at session finish: False",
            id="loop-open-at-session-finish",
        ),
        pytest.param(
            _test_b_on_loop_0,
            "loop 0 is shared by nodes ['ex::test_m0.py', 'ex::test_m0.py::test_b']",
            id="test-without-wide-fixtures-shares-a-loop",
        ),
        pytest.param(
            _replace(2, ["setup", "f", 2, 1, 1, {"s": 1}]),
            "node ex::test_m0.py has loops [0, 1]",
            id="module-owns-two-loops",
        ),
        pytest.param(
            _late_close,
            "loop 0 of ex::test_m0.py was still open when ex::test_m1.py::test_c started",
            id="loop-outlives-its-owner",
        ),
        pytest.param(
            _replace(2, ["setup", "f", 2, None, 1, {"s": 1}]),
            "coroutine fixture f #2 set up on loop None",
            id="async-fixture-without-loop",
        ),
        pytest.param(
            _replace(6, ["test", None, {}]),
            "ex::test_m0.py::test_b (async=True) ran on loop None",
            id="async-test-without-loop",
        ),
        pytest.param(
            lambda log: log.insert(6, ["setup", "s", 3, 0, 2, {}]),
            "s #3 set up while #1 is still live",
            id="second-instance-while-live",
        ),
        pytest.param(
            _replace(3, ["test", 0, {"f": 1}]),
            "ex::test_m0.py::test_a got {'f': 1}, live were",
            id="test-got-another-instance",
        ),
        pytest.param(
            _delete(2, 4),
            "ex::test_m0.py::test_a ran without live fixture(s) ['f']",
            id="test-without-its-fixture",
        ),
    ],
)
def test_checker_reports_each_broken_invariant(
    mutate: Callable[[list[list[Any]]], None], violation: str
) -> None:
    """Each way a log can break an invariant is reported, so the property can fail."""
    log = [list(event) for event in _GOOD_LOG]
    mutate(log)
    problems = check_events(_SUITE, log, ("ex",))
    assert any(violation in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("current", "violations"),
    [
        pytest.param(0, [], id="its-fixtures-loop"),
        pytest.param(
            1,
            [
                "sync fixture w #2 uses async fixtures on loop 0, "
                "but asyncio.get_event_loop() gave it loop 1",
                "sync test ex::test_m0.py::test_a uses async fixtures on loop 0, "
                "but asyncio.get_event_loop() gave it loop 1",
            ],
            id="another-loop",
        ),
    ],
)
def test_checker_reports_sync_code_given_another_loop(current: int, violations: list[str]) -> None:
    """With current_loop=True, sync code seeing a loop other than its fixtures' is reported."""
    suite = Suite(
        fixtures=(
            FixtureSpec("s", "module", "coroutine", ()),
            FixtureSpec("w", "function", "sync", ("s",)),
        ),
        modules=(ModuleSpec("test_m0", False, (CaseSpec("test_a", False, "top", ("w",)),)),),
    )
    log: list[list[Any]] = [
        ["item", "ex/test_m0.py::test_a"],
        ["setup", "s", 1, 0, 0, {}],
        ["setup", "w", 2, None, None, {"s": 1}, current],
        ["test", None, {"w": 2}, current],
        ["teardown", "w", 2, None, None],
        ["teardown", "s", 1, None, None],
        ["close", 0],
        ["final", 0, True],
    ]
    assert check_events(suite, log, ("ex",)) == []
    assert check_events(suite, log, ("ex",), current_loop=True) == violations
