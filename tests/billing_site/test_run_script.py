"""``./run test`` without DATABASE_URL: a throwaway PostgreSQL when the server binaries
are installed (gone afterwards), else SQLite with the PostgreSQL-only tests counted."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests/billing_site/run_script_probe.py"

pytestmark = pytest.mark.slow


def _server_binaries_usable() -> bool:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        dirs.append(str(Path(shutil.which("initdb")).parent))
    if not any(Path(d, "initdb").exists() and Path(d, "pg_ctl").exists() for d in dirs):
        return False
    if os.getuid() == 0:  # the script runs the server as the postgres user
        return subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode == 0
    return True


def _run_test(*args: str, tmpdir: Path, **env: str) -> subprocess.CompletedProcess:
    # A clean child: no DATABASE_URL, and none of this pytest's (or xdist's) own variables.
    child_env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PYTEST_")
    }
    child_env.update(TMPDIR=str(tmpdir), **env)
    return subprocess.run(
        ["./run", "test", *args],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tmpdir_for_run():
    # Under /tmp and traversable: as root the cluster's own dir inside belongs to postgres.
    path = Path(tempfile.mkdtemp(prefix="run-script-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cluster_dir(output: str) -> Path:
    match = re.search(r"==> throwaway PostgreSQL \S+ on 127\.0\.0\.1:\d+ \(in (\S+)\)", output)
    assert match, output
    return Path(match.group(1))


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            continue  # the process ended while we looked
    return found


@pytest.mark.skipif(not _server_binaries_usable(), reason="no PostgreSQL server binaries")
def test_without_database_url_the_postgres_tests_run_on_a_throwaway_cluster_that_is_removed(
    tmpdir_for_run,
):
    result = _run_test(PROBE, "-rs", tmpdir=tmpdir_for_run)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in output
    assert "skipped" not in output
    cluster = _cluster_dir(output)
    assert cluster.parent == tmpdir_for_run
    assert not cluster.exists()
    assert _processes_mentioning(str(cluster)) == []


@pytest.mark.skipif(not _server_binaries_usable(), reason="no PostgreSQL server binaries")
def test_pytest_exit_status_survives_the_throwaway_cluster(tmpdir_for_run):
    result = _run_test(PROBE, "-k", "no_test_has_this_name", tmpdir=tmpdir_for_run)

    assert result.returncode == 5, result.stdout + result.stderr  # pytest: no tests collected
    assert not _cluster_dir(result.stdout).exists()


def test_without_server_binaries_it_runs_on_sqlite_and_counts_what_it_skipped(tmpdir_for_run):
    result = _run_test(PROBE, tmpdir=tmpdir_for_run, PG_BINDIR="/nonexistent")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found" in output
    assert "1 PostgreSQL-only test skipped on SQLite" in output
    assert "1 passed, 1 skipped" in output
    assert list(tmpdir_for_run.iterdir()) == []
