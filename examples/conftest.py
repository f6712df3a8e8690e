"""The example suite's top conftest: the plugins it loads.

pytest reads `pytest_plugins` only from the conftest.py at the top of the
tree it collects, so awaitest.sqlalchemy (the fixtures `db_engine` and
`db_session`, used by the shop's tests) is named here rather than in
`shop/conftest.py`. awaitest itself needs no line: installing it is enough.
"""

pytest_plugins = ["awaitest.sqlalchemy"]
