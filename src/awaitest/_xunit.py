"""Async xunit-style hooks on test classes, and async tests on unittest classes.

pytest calls `setup_method`, `teardown_method`, `setup_class` and
`teardown_class` synchronously, so an `async def` hook would return a
coroutine nobody awaits. Before pytest collects a test class, awaitest
replaces each async hook on it with a sync stand-in that runs the hook on the
right loop: the test's loop for the method hooks, the class's shared loop for
the class hooks. It also turns an `async def` test on a plain
`unittest.TestCase` (which unittest would "pass" without running) into a
failure that points at `IsolatedAsyncioTestCase`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import unittest
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from . import _compat
from ._plan import XUNIT_FLAG
from ._session import State

_METHOD_HOOKS = ("setup_method", "teardown_method")
_CLASS_HOOKS = ("setup_class", "teardown_class")


def _takes_argument(func: Callable[..., Any], bound: bool) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and code.co_argcount > (1 if bound else 0)


def _method_hook(state: State, hook: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
    with_method = _takes_argument(hook, bound=True)

    @functools.wraps(hook)
    def run_method_hook(self: object, method: object = None) -> None:
        __tracebackhide__ = True
        item = state.current_item
        assert item is not None, "awaitest: an xunit hook ran outside a test"
        args = (self, method) if with_method else (self,)
        state.item_runner(item).run(lambda: hook(*args), contextvars.copy_context(), hook.__name__)

    return run_method_hook


def _class_hook(state: State, hook: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
    @functools.wraps(hook)
    def run_class_hook(cls: type) -> None:
        __tracebackhide__ = True
        item = state.current_item
        assert item is not None, "awaitest: an xunit hook ran outside a test"
        class_node = item.getparent(pytest.Class)
        owner = state.planner.xunit_class_owner(class_node) if class_node else item
        plan = state.planner.item_plan(item)
        runner = state.loops.runner(owner, plan.factory, f"{cls.__name__}.{hook.__name__}")
        runner.run(lambda: hook(cls), contextvars.copy_context(), hook.__name__)

    return classmethod(run_class_hook)


def patch_class(state: State, cls: type) -> None:
    """Replace the async xunit hooks defined on a test class with sync stand-ins."""
    if issubclass(cls, unittest.TestCase):
        return
    for name in _METHOD_HOOKS:
        hook = getattr(cls, name, None)
        if inspect.iscoroutinefunction(hook):
            setattr(cls, name, _method_hook(state, hook))
    for name in _CLASS_HOOKS:
        hook = getattr(cls, name, None)
        func = getattr(hook, "__func__", hook)
        if inspect.iscoroutinefunction(func):
            setattr(cls, name, _class_hook(state, func))
            setattr(cls, XUNIT_FLAG, True)


def unittest_async_error(item: pytest.Item) -> str | None:
    """Return why an async test on a unittest class cannot run, if it cannot."""
    if not isinstance(item, _compat.TestCaseFunction):
        return None
    obj = getattr(item, "obj", None)
    cls = getattr(item, "cls", None)
    if not inspect.iscoroutinefunction(obj) or cls is None:
        return None
    if issubclass(cls, unittest.IsolatedAsyncioTestCase):
        return None
    return (
        f"{item.nodeid}: {cls.__name__}.{item.name} is async, but {cls.__name__} is a plain "
        "unittest.TestCase, which calls it without awaiting it (the test would pass without "
        "running). Derive the class from unittest.IsolatedAsyncioTestCase, or drop TestCase "
        "and let awaitest run it as a plain pytest test."
    )
