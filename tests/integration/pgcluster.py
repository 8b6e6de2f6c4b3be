"""A throwaway PostgreSQL cluster for tests: initdb in a temporary folder,
pg_ctl start on a free loopback port (its unix socket in the same folder),
a login role and a database for the code under test, then stop and remove.

    with PgCluster() as pg:           # or pg = PgCluster(); pg.start() ... pg.destroy()
        pg.create_database("t1")
        conninfo = pg.conninfo("t1")  # host=127.0.0.1 port=... dbname=t1 user=hookd password=...
        rows = pg.query("t1", "SELECT 1")

initdb refuses to run as root: then every PostgreSQL program runs as the
`postgres` system user (runuser), which owns the folder. Standard library
only; the binaries come from PG_BIN, else /usr/lib/postgresql/<newest>/bin,
else PATH.

The tests' cluster trades durability for speed (fsync, synchronous_commit
and full_page_writes off, 16MB of shared buffers). PgCluster(durable=True)
keeps PostgreSQL's durable defaults instead, for measurements
(scripts/bench.sh); base_dir puts the cluster's folder somewhere else than
the temporary folder (on the disk being measured, not a tmpfs)."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import unittest
import time

NULL = "\x01NULL\x01"  # how psql prints NULL here; query() turns it into None
FIELD_SEP, RECORD_SEP = "\x1f", "\x1e"


def find_bin_dir():
    env = os.environ.get("PG_BIN")
    if env:
        return env
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    dirs.sort(key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def available():
    """Why a cluster cannot be made here, or None if it can."""
    bindir = find_bin_dir()
    if not bindir or not os.path.exists(os.path.join(bindir, "pg_ctl")):
        return "PostgreSQL server binaries (initdb, pg_ctl) not found"
    if not shutil.which("psql") and not os.path.exists(os.path.join(bindir, "psql")):
        return "psql not found"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run PostgreSQL as"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgError(Exception):
    pass


class PgCluster:
    """One cluster. `user`/`password` is the login role created for the code
    under test (TCP, scram-sha-256); the tests' own queries go through the
    unix socket as the superuser `postgres` (trust)."""

    def __init__(self, user="hookd", password="s3cret'pw", dbname="hookd", durable=False,
                 base_dir=None):
        self.user, self.password, self.dbname = user, password, dbname
        self.durable, self.base_dir = durable, base_dir
        self.bindir = find_bin_dir()
        psql = os.path.join(self.bindir or "", "psql")
        self.psql = psql if os.path.exists(psql) else shutil.which("psql")
        self.as_root = os.geteuid() == 0
        self.dir = None
        self.port = None
        self.running = False

    # ---- running the programs ----

    def _cmd(self, prog, *args):
        path = os.path.join(self.bindir, prog) if prog != "psql" else self.psql
        cmd = [path, *args]
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else cmd

    def _run(self, prog, *args, input=None, timeout=60, check=True):
        env = dict(os.environ, LC_ALL="C", PGTZ="UTC")
        for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGOPTIONS"):
            env.pop(k, None)
        p = subprocess.run(self._cmd(prog, *args), cwd=self.dir, input=input,
                           capture_output=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise PgError(f"{prog} {' '.join(args)} exited {p.returncode}: "
                          f"{p.stderr.decode(errors='replace')}{p.stdout.decode(errors='replace')}")
        return p

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgres.log")

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- life cycle ----

    def start(self):
        """Creates the cluster on the first call; later calls restart it on
        the same port (after stop())."""
        if self.dir is None:
            self._create()
        if self.running:
            return self
        if self.durable:   # every commit on disk, as in production
            speed = ("-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
                     "-c shared_buffers=128MB")
        else:
            speed = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                     "-c shared_buffers=16MB")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                f"{speed} -c max_connections=50")
        # More settings for a measurement, e.g. scripts/bench.sh's PG_STATS=1:
        # "-c shared_preload_libraries=pg_stat_statements".
        extra = os.environ.get("HOOKD_PG_EXTRA_OPTS", "").strip()
        if extra:
            opts += " " + extra
        self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-o", opts, "-w", "-t", "60",
                  "start")
        self.running = True
        return self

    def _create(self):
        why = available()
        if why:
            raise PgError(why)
        self.dir = tempfile.mkdtemp(prefix="hookd-pg-", dir=self.base_dir)
        try:
            os.chmod(self.dir, 0o755)
            if self.as_root:
                pw = pwd.getpwnam("postgres")
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            pwfile = os.path.join(self.dir, "pw")
            with open(pwfile, "w") as f:
                f.write("postgres-superuser\n")
            if self.as_root:
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            self._run("initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                      f"--pwfile={pwfile}")
            os.unlink(pwfile)
            for attempt in range(3):   # the free port may be taken meanwhile
                self.port = free_port()
                try:
                    self.start()
                    break
                except PgError:
                    if attempt == 2 or "already in use" not in self.log_text():
                        raise
            role = self.password.replace("'", "''")
            self.sql("postgres", f"CREATE ROLE {self.user} LOGIN PASSWORD '{role}'")
            self.create_database(self.dbname)
        except BaseException:
            self.destroy()
            raise

    def stop(self, mode="fast"):
        """Stops the server (the data stays): clients see their connections
        end, new ones are refused until start()."""
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
            self.running = False

    def destroy(self):
        try:
            if self.dir and self.running:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
            self.running = False
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

    # ---- databases and queries ----

    def create_database(self, name):
        self.sql("postgres", f'CREATE DATABASE "{name}" OWNER {self.user}')
        return name

    def conninfo(self, dbname=None, password=None):
        pw = (self.password if password is None else password)
        pw = pw.replace("\\", "\\\\").replace("'", "\\'")
        return (f"host=127.0.0.1 port={self.port} dbname={dbname or self.dbname} "
                f"user={self.user} password='{pw}'")

    def sql(self, dbname, text, as_owner=False):
        """Runs SQL through psql (stopping at the first error); returns stdout."""
        args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                "-U", "postgres", "-d", dbname, "-At", "-F", FIELD_SEP, "-R", RECORD_SEP,
                "-P", f"null={NULL}", "-f", "-"]
        if as_owner:   # run as the role under test (same socket, trust)
            text = f"SET ROLE {self.user};\n{text}"
        return self._run("psql", *args, input=text.encode()).stdout.decode()

    def query(self, dbname, text):
        """Rows as tuples of strings (None for NULL)."""
        out = self.sql(dbname, text)
        rows = []
        if out.endswith("\n"):   # after the last record only
            out = out[:-1]
        if out == "":
            return rows
        for rec in out.split(RECORD_SEP):
            rows.append(tuple(None if v == NULL else v for v in rec.split(FIELD_SEP)))
        return rows


class WithPostgres:
    """A unittest mixin (before the TestCase class in the bases): one
    throwaway PostgreSQL for the class as cls.pg (the class is skipped where
    there is none), started again and emptied of the hookd_* tables before
    each test, so the nodes create the schema afresh."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = available()
        if why:
            raise unittest.SkipTest(why)
        cls.pg = PgCluster()
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.pg.start()  # a test that failed half-way may have left it stopped
        self.pg.sql(self.pg.dbname, "DROP TABLE IF EXISTS hookd_attempts, hookd_deliveries,"
                    " hookd_dedup, hookd_events, hookd_meta CASCADE")

    def q(self, sql):
        """Rows of a query on the spool's database."""
        return self.pg.query(self.pg.dbname, sql)
