"""Operations on top of the daily graphs: run locks, backfills, forced reruns (invalidation).

``lock``         one run per pipeline and date at a time (fcntl.flock, freed when the holder dies)
``graph``        the RunAll graph of a date, walked from Luigi's own ``requires()``; downstream sets
``warehouse_view``  read-only look at load markers and tables, tolerant of a warehouse that is down
``status``       done / skipped / failed / missing of every stage of a date, from sidecars + markers
``plan``         the dates x stages grid printed by ``etl-backfill --plan``
``backfill``     run a list of dates one at a time, with progress and per-date locks
``invalidation`` remove the targets of a task and everything downstream of it

Importing this package imports no task module, so the lock can be used by any entry point.
"""
