"""nox sessions: the test matrix over ibapi releases, lint, typing, codegen check.

Run ``uvx nox`` (or ``uv run nox``) for everything, ``uv run nox -s tests`` for
the matrix only. Every session installs through uv from ``uv.lock``.

The matrix's run on ibapi-latest also records which requests the simulated TWS
served and renders the request coverage table (``tools/request_coverage``,
docs/sim.md), failing on a gap without a reason; ``uv run nox -s coverage`` does
only that.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typing", "codegen_check", "tests"]

# ibapi, ibapi-stable and ibapi-latest all install the package `ibapi`: each
# session replaces the locked ibapi-stable with exactly one of them.
IBAPI_RELEASES = [
    "ibapi==9.81.1.post1",
    "ibapi-stable==10.37.2",
    "ibapi-stable==10.45.1",
    "ibapi-stable==10.50.2",
    "ibapi-latest==10.51.1",
]
ALL_IBAPI_DISTS = ["ibapi", "ibapi-stable", "ibapi-latest"]
PINNED = "ibapi-stable==10.50.2"  # the default dependency, and what the code is generated from
LATEST = "ibapi-latest==10.51.1"  # the release whose requests the coverage table lists
COVERAGE_DIR = os.path.join("build", "request-coverage")


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the project and its locked dev dependencies into the session's venv."""
    args = ["uv", "sync", "--frozen", "--inexact"]
    for group in groups:
        args += ["--group", group]
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location})


def _install_release(session: nox.Session, ibapi: str) -> None:
    """The project with exactly one ibapi release in place of the locked one."""
    _sync(session)
    session.run("uv", "pip", "uninstall", *ALL_IBAPI_DISTS, silent=True)
    session.install(ibapi, "protobuf>=5.29")
    session.run("python", "-c", "import ib_anyio; print('ibapi', ib_anyio.ibapi_version())")


def _pytest_with_coverage(session: nox.Session, *args: str) -> None:
    """The whole suite, recording the requests every simulated TWS served, then the
    table: printed, written to build/request-coverage/, failing on unexplained gaps."""
    observed = os.path.join(COVERAGE_DIR, "observed.json")
    env = {"IB_ANYIO_REQUEST_COVERAGE": observed}
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *args, env=env)
    out = os.path.join(COVERAGE_DIR, "coverage.md")
    session.run("python", "-m", "tools.request_coverage", "--observed", observed, "--out", out)


@nox.session(python="3.11")
@nox.parametrize("ibapi", IBAPI_RELEASES, ids=[r.split("==")[1] for r in IBAPI_RELEASES])
def tests(session: nox.Session, ibapi: str) -> None:
    """The whole test suite, on asyncio and trio, against one ibapi release (on
    ibapi-latest, a whole run also makes the request coverage table)."""
    _install_release(session, ibapi)
    # Every public EClient method and EWrapper callback of this release is classified.
    report = session.run("python", "-m", "tools.codegen", "--report", silent=True)
    session.log("\n".join(str(report).strip().splitlines()[-2:]))
    # The generator's own tests need the release it generates from; they run in
    # codegen_check, and here only for that release.
    args = [] if ibapi == PINNED else ["--ignore=tests/codegen"]
    if ibapi == LATEST and not session.posargs:
        _pytest_with_coverage(session, *args)
    else:
        session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *args, *session.posargs)


@nox.session(python="3.11")
def coverage(session: nox.Session) -> None:
    """The request coverage table alone: the suite on ibapi-latest, recording what the
    simulated TWS served (what the matrix's ibapi-latest run also does)."""
    _install_release(session, LATEST)
    _pytest_with_coverage(session, "--ignore=tests/codegen")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    _sync(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typing(session: nox.Session) -> None:
    """mypy --strict over src (including the generated code) and tools.

    Twice: as a developer runs it (ibapi has no types, so its names are Any),
    and against stubs stubgen makes from the installed ibapi, so that the
    generated signatures are checked against ibapi's real classes.
    """
    _sync(session)
    session.run("mypy")
    stubs = os.path.join(session.create_tmp(), "ibapi-stubs")
    session.run("stubgen", "--quiet", "-p", "ibapi", "-o", stubs)
    # ibapi's protobuf modules make their message classes at run time, so stubgen
    # sees only DESCRIPTOR: without those stubs the classes (req_config's) are Any.
    shutil.rmtree(os.path.join(stubs, "ibapi", "protobuf"), ignore_errors=True)
    session.run("mypy", env={"MYPYPATH": stubs})


@nox.session(python="3.11")
def codegen_check(session: nox.Session) -> None:
    """Regenerate in memory and fail on any difference; print the coverage reports."""
    _sync(session)
    session.run("python", "-m", "tools.codegen", "--check")
    session.run("python", "-m", "tools.codegen", "--report")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests/codegen")
