"""The journey engine: the pipeline as data, guards, the default table, the engine, diagrams.

Built on :mod:`stemjourney.clinical` only. Use the public names re-exported by
:mod:`stemjourney` (and the built-in guards from :mod:`stemjourney.guards`).
"""
