"""Pipeline-independent machinery: atomic dated targets, the stage base task, HTTP plumbing.

Nothing in ``core`` imports a pipeline package; pipelines build on it.
"""
