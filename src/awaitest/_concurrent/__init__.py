"""Concurrent tests: opted-in async tests run together on one loop.

`fibers` gives several tests' sync pytest protocols turns around one event
loop; `group` is the pytest side: which tests run together, their setup
stack, and their reports in collection order.
"""
