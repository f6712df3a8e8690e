"""awaitest's benchmarks: synthetic suites timed under awaitest, its peers and sync pytest.

`python -m bench` generates each suite in a temporary directory, once per contender (awaitest,
pytest-asyncio, anyio's plugin, the same tests written sync under plain pytest), runs them
interleaved in pytest subprocesses, and prints a table of median wall times and ratios; it also
writes the results as JSON, Markdown and a PNG chart. Benchmarks are not tests: nothing here
asserts a time. Modules: `suites` (what is run), `contenders` (with what), `runner` (running and
measuring), `report` (table, JSON), `chart` (PNG), `__main__` (the command).
"""
