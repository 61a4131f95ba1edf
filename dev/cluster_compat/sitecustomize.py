"""Compatibility shim for the cluster's Airflow processes only (on their PYTHONPATH via dev.cluster).

``apache-airflow-providers-celery`` 3.26.0 imports ``retry`` from ``celery.backends.database``;
Celery 5.7.0 (pinned in requirements.lock) removed that decorator, because its
``DatabaseBackend`` now retries by itself (``result_backend_always_retry``, 3 attempts). Without
this shim neither the scheduler (CeleryExecutor) nor ``airflow celery worker`` starts.

The shim puts back a decorator with the old behaviour: up to 3 attempts on a database error.
It does nothing when the name exists (Celery 5.6, or a provider release that no longer needs
it).

A second incompatibility is avoided by configuration, not patched: Celery 5.7 stores task
results in the database backend as encoded bytes (a pickled column before), and the
provider's bulk state check passes them on undecoded, so the scheduler stops at the first
failed task. ``dev.cluster`` therefore keeps Celery's results in redis.

The real fix is a pin in the lock (``celery==5.6.3``) or a newer provider; a deployment pins
its image accordingly (docs/deploy.md) and needs neither.
"""

from __future__ import annotations


def _install() -> None:
    try:
        import celery.backends.database as database
    except ImportError:  # no celery, or no sqlalchemy: nothing to repair
        return
    if hasattr(database, "retry"):
        return
    import functools

    from sqlalchemy.exc import DatabaseError, InterfaceError

    def retry(fun):
        @functools.wraps(fun)
        def _inner(*args, **kwargs):
            attempts = 3
            for attempt in range(1, attempts + 1):
                try:
                    return fun(*args, **kwargs)
                except (DatabaseError, InterfaceError):
                    if attempt == attempts:
                        raise

        return _inner

    database.retry = retry


_install()
