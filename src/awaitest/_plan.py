"""Which event loop every test and async fixture runs on.

The rule ("loops that just work"): a test that uses no async fixture wider
than function scope gets a loop of its own. Async fixtures wider than
function scope, and the tests that use them, share one loop, owned by the
widest node among them, so a session-scoped client works from every test.
An explicit loop scope (marker, `awaitest.fixture(loop_scope=...)`, ini
`awaitest_default_loop_scope`) is honoured exactly.

The planner applies the rule to all collected items at once: every test and
wide fixture instance is a member of a union-find; members used together
are merged; each group's loop is owned by its highest node. Plans are
computed lazily, on the first setup of the run, so `--collect-only` pays
nothing. This module decides; `_session` creates the loops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

import pytest

from . import _collect, _compat
from ._collect import Kind
from ._compat import pytest_asyncio as _pytest_asyncio
from ._config import MarkerOptions, Settings
from ._errors import ConfigError
from ._loops import LoopFactory

#: The parameter name under which tests run on several loop implementations.
FACTORY_PARAM: Final = "_awaitest_loop_factory"

#: Union-find key of a class's async setup_class/teardown_class.
XUNIT_CLASS: Final = "xunit-class"

#: Union-find key joining the concurrent tests of one parent (module or class).
CONCURRENT: Final = "concurrent tests of"

#: Class attribute `_xunit` sets on classes whose setup_class/teardown_class are async.
XUNIT_FLAG: Final = "__awaitest_async_class_hooks__"

Node = Any  # a pytest collection node; pytest does not export a common type


@dataclasses.dataclass
class ItemPlan:
    """How awaitest runs one test item.

    Attributes:
        kind: What kind of function the test is.
        claimed: awaitest runs the test function itself.
        foreign: The other async framework that owns the test, if any.
        owner: The node whose loop the test runs on.
        factory: The loop implementation of that loop.
        error: A marker error to report instead of running the test.
        sync_marked: A sync test carrying the `asyncio` mark (warned about).
        policy: The project's `event_loop_policy` fixture definition the test
            uses (pytest-asyncio's deprecated way to choose loops), or None.
        options: The test's marker options (empty if they were in error).
        concurrent: The test opted in to running concurrently (so it shares its
            parent's loop); whether it does is decided when it runs.
    """

    kind: Kind
    claimed: bool
    foreign: str | None
    owner: Node
    factory: LoopFactory
    error: str | None = None
    sync_marked: bool = False
    policy: Any = None
    options: MarkerOptions = dataclasses.field(default_factory=MarkerOptions)
    concurrent: bool = False


_PLAN_KEY: Final = pytest.StashKey[ItemPlan]()


#: The options of a test carrying no marker awaitest reads.
_UNMARKED: Final = MarkerOptions()


def marker_options(node: Any, *, warn: bool = False) -> MarkerOptions:
    """Read a node's `awaitest` and `asyncio` markers.

    `awaitest` markers merge key by key, the closest taking precedence. The
    closest `asyncio` marker counts as a whole, as in pytest-asyncio (a bare
    one on a function undoes a module's `loop_scope`); `awaitest` keys win
    over it.
    """
    markers = list(node.iter_markers("awaitest"))
    asyncio_mark = node.get_closest_marker(_pytest_asyncio.MARKER)
    if not markers and asyncio_mark is None:
        return MarkerOptions()
    kwargs: dict[str, object] = {}
    args: list[object] = []
    for mark in markers:
        args.extend(mark.args)
        for key, value in mark.kwargs.items():
            kwargs.setdefault(key, value)
    if asyncio_mark is not None:
        nodeid = node.nodeid.split("[")[0]
        translated = _pytest_asyncio.marker_kwargs(
            asyncio_mark.args, asyncio_mark.kwargs, nodeid, warn=warn
        )
        for key, value in translated.items():
            kwargs.setdefault(key, value)
    return MarkerOptions.parse(args, kwargs, node.nodeid)


class _Groups:
    """Union-find over tests and fixture instances, tracking each group's highest node."""

    def __init__(self, depth: Any) -> None:
        self._parent: dict[object, object] = {}
        self._top: dict[object, Node] = {}
        self._depth = depth

    def add(self, key: object, node: Node) -> None:
        if key not in self._parent:
            self._parent[key] = key
            self._top[key] = node
        else:
            root = self.find(key)
            if self._depth(node) < self._depth(self._top[root]):
                self._top[root] = node

    def find(self, key: object) -> object:
        parent = self._parent
        root = key
        while parent[root] is not root:
            root = parent[root]
        while parent[key] is not root:  # path compression
            parent[key], key = root, parent[key]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return
        top_a, top_b = self._top[ra], self._top[rb]
        self._parent[rb] = ra
        self._top[ra] = top_a if self._depth(top_a) <= self._depth(top_b) else top_b

    def top(self, key: object) -> Node:
        return self._top[self.find(key)]


class Planner:
    """Decides, for a whole session, the loop owner of every test and async fixture."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._specs: dict[object, _collect.FixtureSpec] = {}
        self._fixture_owner: dict[tuple[object, Node], Node] = {}
        self._ours: set[object] = set()
        self._depths: dict[Node, int] = {}
        self._planned = False

    # -- fixtures --------------------------------------------------------------

    def spec(self, fixturedef: _compat.FixtureDef[Any]) -> _collect.FixtureSpec:
        """Classify a fixture definition (cached)."""
        spec = self._specs.get(fixturedef)
        if spec is None:
            spec = self._specs[fixturedef] = _collect.fixture_spec(fixturedef.func)
        return spec

    def runs_fixture(self, spec: _collect.FixtureSpec) -> bool:
        """Whether the mode lets awaitest run this async fixture."""
        return spec.is_async and (self.settings.mode.value == "auto" or spec.ours_in_strict)

    def claims_fixture(self, fixturedef: _compat.FixtureDef[Any], item: pytest.Item) -> bool:
        """Whether awaitest sets up this fixture for this item."""
        if not self.runs_fixture(self.spec(fixturedef)):
            return False
        return self.item_plan(item).foreign is None or fixturedef in self._ours

    def fixture_loop_scope(self, spec: _collect.FixtureSpec, scope: str) -> str | None:
        """Return the loop scope a fixture is pinned to, or None to let awaitest choose."""
        return _collect.fixture_loop_scope(spec, scope, self.settings)

    def fixture_owner(
        self, fixturedef: _compat.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Node:
        """Return the node whose loop this fixture instance runs on."""
        node = request.node
        owner = self._fixture_owner.get((fixturedef, node))
        if owner is not None:
            return owner
        item = _compat.request_item(request)
        scope = fixturedef.scope
        loop_scope = self.fixture_loop_scope(self.spec(fixturedef), scope)
        if loop_scope is not None:
            return _compat.fixture_scope_node(
                item, loop_scope, fixturedef if loop_scope == scope else None
            )
        item_owner = self.item_plan(item).owner
        if scope == "function" or self._depth(item_owner) < self._depth(node):
            return item_owner
        return node

    def xunit_class_owner(self, class_node: Node) -> Node:
        """Return the node whose loop a class's async setup_class/teardown_class run on."""
        return self._fixture_owner.get((XUNIT_CLASS, class_node), class_node)

    # -- tests -----------------------------------------------------------------

    def item_plan(self, item: pytest.Item) -> ItemPlan:
        """Return the plan for one item, planning the whole session on first use."""
        plan = item.stash.get(_PLAN_KEY, None)
        if plan is None:
            if not self._planned:
                self.plan(item.session.items)
                plan = item.stash.get(_PLAN_KEY, None)
            if plan is None:  # an item outside the session's list (e.g. a doctest)
                plan, _pin = self._base_plan(item)
                item.stash[_PLAN_KEY] = plan
        return plan

    def _depth(self, node: Node) -> int:
        depth = self._depths.get(node)
        if depth is None:
            depth = self._depths[node] = sum(1 for _ in node.iter_parents())
        return depth

    def _base_plan(self, item: pytest.Item) -> tuple[ItemPlan, Node | None]:
        obj = item.obj if isinstance(item, pytest.Function) else None
        kind = Kind.SYNC if obj is None else _collect.kind_of(obj)
        marked = _collect.has_read_markers(item)
        foreign = _collect.foreign_framework(item, marked=marked)
        error = None
        try:
            options = marker_options(item) if marked else _UNMARKED
        except ConfigError as exc:
            options, error = MarkerOptions(marked=True), str(exc)
        claimed = foreign is None and _collect.claims_test(kind, options.marked, self.settings.mode)
        sync_marked = (
            marked
            and kind is Kind.SYNC
            and item.get_closest_marker(_pytest_asyncio.MARKER) is not None
        )
        settings = self.settings
        loop_scope = (
            options.loop_scope or settings.default_loop_scope or settings.compat_test_loop_scope
        )
        concurrent = (
            claimed
            and kind is Kind.COROUTINE
            and options.loop_scope != "function"
            and (settings.concurrent if options.concurrent is None else options.concurrent)
        )
        if concurrent and loop_scope == "function":
            loop_scope = None  # the session's default: concurrent tests share a loop
        pin = None if loop_scope is None else _compat.fixture_scope_node(item, loop_scope, None)
        callspec = getattr(item, "callspec", None)
        factory = callspec.params.get(FACTORY_PARAM) if callspec is not None else None
        if not isinstance(factory, LoopFactory):
            factory = (options.loop_factories or self.settings.loop_factories)[0]
        plan = ItemPlan(
            kind,
            claimed,
            foreign,
            # Concurrent tests share at least their parent's loop (more if wide fixtures need).
            pin or (item.parent if concurrent else item),
            factory,
            error,
            sync_marked,
            options=options,
            concurrent=concurrent,
        )
        info = getattr(item, "_fixtureinfo", None)
        policy_defs = info.name2fixturedefs.get(_pytest_asyncio.POLICY_FIXTURE) if info else None
        if policy_defs and _pytest_asyncio.is_override(policy_defs[-1]):
            plan.policy = policy_defs[-1]
        return plan, pin

    def is_async_test(self, item: pytest.Item) -> bool:
        """Whether awaitest runs `item` as an async test; plans nothing, caches nothing."""
        if not isinstance(item, pytest.Function) or _collect.foreign_framework(item):
            return False
        kind = _collect.kind_of(item.obj)
        marked = (
            item.get_closest_marker("awaitest") is not None
            or item.get_closest_marker(_pytest_asyncio.MARKER) is not None
        )
        return _collect.claims_test(kind, marked, self.settings.mode)

    def plan(self, items: Iterable[pytest.Item]) -> None:
        """Decide the loop owner of every item and wide async fixture instance."""
        self._planned = True
        groups = _Groups(self._depth)
        auto_items: list[pytest.Item] = []
        auto_fixtures: list[tuple[object, Node]] = []
        for item in items:
            plan, pin = self._base_plan(item)
            item.stash[_PLAN_KEY] = plan
            if plan.foreign is not None:
                continue
            groups.add(item, plan.owner)
            if pin is None:
                auto_items.append(item)
                if plan.concurrent:  # one loop for every concurrent test of a parent
                    together = (CONCURRENT, item.parent)
                    groups.add(together, item.parent)
                    groups.union(item, together)
            for fixturedef in _compat.closure_fixturedefs(item):
                spec = self.spec(fixturedef)
                if not self.runs_fixture(spec):
                    continue
                self._ours.add(fixturedef)
                scope = fixturedef.scope
                node = _compat.fixture_scope_node(item, scope, fixturedef)
                key: tuple[object, Node] = (fixturedef, node)
                loop_scope = self.fixture_loop_scope(spec, scope)
                if loop_scope is not None:
                    owner = _compat.fixture_scope_node(
                        item, loop_scope, fixturedef if loop_scope == scope else None
                    )
                    self._fixture_owner[key] = owner
                    groups.add(key, owner)
                elif scope == "function":
                    continue
                else:
                    groups.add(key, node)
                    auto_fixtures.append(key)
                groups.union(item, key)
            class_node = item.getparent(pytest.Class)
            if class_node is not None and getattr(class_node.obj, XUNIT_FLAG, False):
                xunit_key: tuple[object, Node] = (XUNIT_CLASS, class_node)
                groups.add(xunit_key, class_node)
                groups.union(item, xunit_key)
                auto_fixtures.append(xunit_key)
        for item in auto_items:
            item.stash[_PLAN_KEY].owner = groups.top(item)
        for key in auto_fixtures:
            self._fixture_owner[key] = groups.top(key)
