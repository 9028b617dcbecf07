"""The user's install path: the wheel ``python -m build`` makes, installed into a fresh
virtual environment outside the repository, then the README's quickstart against it.

Nothing of the checkout is on the path there: no editable install, no PYTHONPATH, the
working directory a temporary folder. The wheel must carry the dashboard's templates,
static files and the ECharts/htmx files (setup.py vendors them from the npm registry);
an editable install, which every other test uses, cannot show that. pip installs the
wheel's dependencies from the package index through pip's usual cache, so after the
first run this costs about the build (20 s) and the install (30-60 s).

The quickstart's shell commands are checked word for word against the README's Install
and Quickstart sections, and its Python and YAML blocks are taken from there, so the
README cannot drift from what this test runs. It uses its own port (``MLPULSE_PORT``,
``MLPULSE_URL``) rather than the README's 8080, which other collectors on the machine may
hold.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from mlpulse.server.dashboard.assets import STATIC, VENDOR
from mlpulse.testing.process import free_port

if TYPE_CHECKING:
    from tests.conftest import RunningCollector

# The fixtures' time counts against a test's time-out: a cold pip cache can make the
# install alone take minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = ["/", "/models/fraud", "/alerts", "/incidents", "/experiments", "/business"]
PARTIALS = ["/ui/partials/models", "/ui/partials/alerts"]
# The README's quickstart, run below in this order (with this test's port).
BUILD = "python -m build"
INSTALL_WHEEL = "pip install 'dist/{wheel}[server]'"
INSTALL_CLONE = "pip install '.[server]'"
KEY = "export MLPULSE_API_KEY=$(mlpulse keys create --scope admin --name quickstart)"
SERVE = "mlpulse serve &"
SDK = "python quickstart.py"
APPLY = "mlpulse apply -f mlpulse.yaml"
DASHBOARD = "<http://127.0.0.1:8080>"


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI (which sets one of these)."""
    if "1" in (
        os.environ.get("MLPULSE_REQUIRE_BROWSER"),
        os.environ.get("MLPULSE_REQUIRE_SERVICES"),
    ):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _install_section() -> str:
    """The README's Install and Quickstart sections, one after the other."""
    text = README.read_text(encoding="utf-8")
    found = re.search(
        r"^## Install\n(.*?)^## Quickstart\n(.*?)^## ", text, re.MULTILINE | re.DOTALL
    )
    assert found, "README.md has no '## Install' section followed by '## Quickstart'"
    return found.group(1) + found.group(2)


def _block(section: str, language: str) -> str:
    found = re.findall(rf"^```{language}\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(found) == 1, f"Install and Quickstart should have one ```{language} block"
    return str(found[0])


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of the checkout's or the tests' settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLPULSE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    return {**env, **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``python -m build``: the sdist, then the wheel built from it (as the README says)."""
    if shutil.which("npm") is None:
        _unavailable(
            "npm is not installed: building the wheel fetches ECharts and htmx from the npm "
            "registry (apt-get install npm)"
        )
    out = tmp_path_factory.mktemp("dist")
    # BUILD, with this interpreter (which has `build`, from the dev extra).
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], REPO, _clean_env(),
         timeout=600)  # fmt: skip
    (wheel,) = out.glob("mlpulse-*.whl")
    (sdist,) = out.glob("mlpulse-*.tar.gz")
    return Built(wheel, sdist)


@dataclass(frozen=True)
class Installed:
    bin: Path
    home: Path  # an empty folder outside the repository: the user's working directory


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("user")
    assert REPO not in root.parents, f"the venv must live outside the repository: {root}"
    venv, home = root / "venv", root / "home"
    home.mkdir()
    _run([sys.executable, "-m", "venv", str(venv)], home, _clean_env())
    # --no-compile: byte-compiling scipy, scikit-learn and pyarrow would be most of the
    # install's time, for modules the collector never imports.
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
          f"{built.wheel}[server]"], home, _clean_env(), timeout=600)  # fmt: skip
    return Installed(venv / "bin", home)


@dataclass(frozen=True)
class Quickstart:
    url: str
    key: str
    outputs: dict[str, str]  # command → what it printed


@pytest.fixture(scope="module")
def quickstart(installed: Installed) -> Iterator[Quickstart]:
    """The README's quickstart, step by step, in the user's folder."""
    section = _install_section()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _clean_env(
        PATH=f"{installed.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        MLPULSE_PORT=str(port),
        MLPULSE_URL=url,
    )
    home = installed.home
    key = _run(["bash", "-c", KEY.removeprefix("export MLPULSE_API_KEY=$(").removesuffix(")")],
               home, env).strip()  # fmt: skip
    env["MLPULSE_API_KEY"] = key
    log = (home / "serve.log").open("w")
    server = subprocess.Popen(
        ["bash", "-c", "exec " + SERVE.removesuffix(" &")], cwd=home, env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (home / "serve.log").read_text()
            assert time.monotonic() < deadline, "mlpulse serve did not answer within 60 s"
            time.sleep(0.2)
        (home / "quickstart.py").write_text(_block(section, "python"), encoding="utf-8")
        (home / "mlpulse.yaml").write_text(_block(section, "yaml"), encoding="utf-8")
        outputs = {
            SDK: _run(["bash", "-c", SDK], home, env),
            APPLY: _run(["bash", "-c", APPLY], home, env),
            "mlpulse --version": _run(["bash", "-c", "mlpulse --version"], home, env),
        }
        yield Quickstart(url, key, outputs)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _dashboard_files() -> list[str]:
    """What an installed package needs to serve the dashboard, as paths in a wheel."""
    package = "mlpulse/server/dashboard"
    return [
        f"{package}/templates/login.html",
        f"{package}/templates/base.html",
        *(f"{package}/static/{name}" for name in STATIC),
        *(f"{package}/vendor/{path}" for path in VENDOR.values()),
        f"{package}/vendor/echarts/LICENSE",
        f"{package}/vendor/htmx.org/LICENSE",
    ]


def test_build_packs_the_dashboard_into_the_wheel_and_the_sdist(built: Built) -> None:
    needed = _dashboard_files()
    in_wheel = set(zipfile.ZipFile(built.wheel).namelist())
    assert [name for name in needed if name not in in_wheel] == []
    with tarfile.open(built.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        in_sdist = {name.removeprefix(f"{top}/") for name in sdist.getnames()}
    # The sdist builds a wheel without npm (it carries the files) or with it (the lock).
    wanted = [f"src/{name}" for name in needed] + ["web/package.json", "web/package-lock.json"]
    assert [name for name in wanted if name not in in_sdist] == []
    assert not any("node_modules" in name for name in in_wheel | in_sdist)


def test_readme_install_commands_are_the_ones_this_test_runs(built: Built) -> None:
    section = _install_section()
    commands = [BUILD, INSTALL_WHEEL.format(wheel=built.wheel.name), INSTALL_CLONE]
    commands += [KEY, SERVE, SDK, APPLY, DASHBOARD, "mlpulse --version"]
    assert [command for command in commands if command not in section] == []


def test_pip_install_from_the_clone_builds_a_wheel_with_the_dashboard(
    built: Built, tmp_path: Path
) -> None:
    # `pip install '.[server]'` builds its wheel from the source tree, not from an sdist:
    # the npm files come from web/node_modules (which `built` made sure of).
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
          str(tmp_path), str(REPO)], tmp_path, _clean_env())  # fmt: skip
    (wheel,) = tmp_path.glob("mlpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in _dashboard_files() if name not in names] == []


def test_sdist_builds_a_wheel_with_the_dashboard_without_npm(built: Built, tmp_path: Path) -> None:
    with tarfile.open(built.sdist) as sdist:
        sdist.extractall(tmp_path / "src", filter="data")
    (unpacked,) = (tmp_path / "src").iterdir()
    # Only this interpreter's folder on PATH: no npm, so the sdist's own copy must do.
    env = _clean_env(PATH=str(Path(sys.executable).parent))
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(unpacked)],
         tmp_path, env)  # fmt: skip
    (wheel,) = tmp_path.glob("mlpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in _dashboard_files() if name not in names] == []


def test_installed_package_runs_from_the_venv_with_its_vendored_assets(
    installed: Installed,
) -> None:
    show = (
        "import mlpulse; from mlpulse.server.settings import Settings; "
        "print(mlpulse.__file__); print(Settings.from_env().web_assets)"
    )
    python = str(installed.bin / "python")
    where = _run([python, "-c", show], installed.home, _clean_env()).split()
    site = installed.bin.parent
    assert all(Path(path).is_relative_to(site) for path in where), where
    assert Path(where[1]).name == "vendor"
    elsewhere = _clean_env(MLPULSE_WEB_ASSETS="/srv/npm/node_modules")
    assert _run([python, "-c", show], installed.home, elsewhere).split()[1] == (
        "/srv/npm/node_modules"
    )


def test_quickstart_commands_succeed_against_the_installed_collector(
    quickstart: Quickstart,
) -> None:
    from mlpulse import __version__

    assert quickstart.outputs["mlpulse --version"].strip() == f"mlpulse {__version__}"
    assert "fraud-slow" in quickstart.outputs[APPLY]
    headers = {"Authorization": f"Bearer {quickstart.key}"}
    config = httpx.get(f"{quickstart.url}/v1/config", headers=headers, timeout=10)
    assert config.status_code == 200 and "fraud-slow" in config.text, config.text
    models = httpx.get(f"{quickstart.url}/v1/models", headers=headers, timeout=10)
    assert models.status_code == 200 and "fraud" in models.text, models.text


@contextmanager
def _logged_in(quickstart: Quickstart) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=quickstart.url, timeout=30) as client:
        form = client.get("/login")
        assert form.status_code == 200, form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        answer = client.post("/login", data={"api_key": quickstart.key, "csrf_token": token[1]})
        assert answer.status_code == 303, answer.text
        yield client


def test_installed_dashboard_serves_every_page_and_the_browser_libraries(
    quickstart: Quickstart,
) -> None:
    with _logged_in(quickstart) as client:
        failed = {}
        for path in PAGES + PARTIALS:
            page = client.get(path)
            if page.status_code != 200 or "npm ci" in page.text:
                failed[path] = f"{page.status_code}: {page.text[:300]}"
        assert failed == {}
        for name in VENDOR:
            script = client.get(f"/ui/vendor/{name}")
            assert script.status_code == 200, f"/ui/vendor/{name}: {script.status_code}"
            assert len(script.content) > 10_000 and b"<html" not in script.content[:200]
        for name in STATIC:
            assert client.get(f"/ui/static/{name}").status_code == 200, name
        overview = client.get("/").text
        assert all(f"/ui/vendor/{name}" in overview for name in VENDOR)


def test_installed_dashboard_runs_echarts_and_htmx_in_the_browser(
    quickstart: Quickstart,
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        _unavailable("chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(base_url=quickstart.url).new_page()
            page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto("/login")
            page.fill("form[action='/login'] input[name=api_key]", quickstart.key)
            with page.expect_navigation():
                page.click("form[action='/login'] button[type=submit]")
            for path in PAGES:
                response = page.goto(path)
                assert response is not None and response.ok, path
                loaded = page.evaluate("() => [typeof echarts, typeof htmx]")
                assert loaded == ["object", "object"], f"{path}: {loaded}"
        finally:
            browser.close()
    assert problems == []


# -- the SDK alone: `pip install mlpulse` in a serving process --------------------------------

# What the SDK-only install may add to a bare venv's site-packages (measured: about 7 MiB,
# mlpulse itself 4 MiB; with numpy, scipy, DataSketches and scikit-learn it was 216 MiB).
SDK_INSTALL_MAX_KIB = 20 * 1024
SDK_SCRIPT = """
import sys, time
import mlpulse

with mlpulse.Client(sys.argv[1], sys.argv[2]) as client:
    for i in range(50):
        client.log_prediction("sdk-only", "v1", {"amount": float(i)}, 1, score=0.5,
                              latency_ms=3.0, timestamp=time.time())
    assert client.flush(timeout=30), client.stats()
    print(client.stats().sent)
heavy = [m for m in ("numpy", "scipy", "sklearn", "datasketches") if m in sys.modules]
print(heavy)
try:
    mlpulse.report
except ImportError as exc:
    print(exc)
"""


def _site_kib(venv: Path) -> int:
    (site,) = venv.glob("lib/python*/site-packages")
    return (
        sum(f.stat().st_size for f in site.rglob("*") if f.is_file() and not f.is_symlink()) // 1024
    )


@dataclass(frozen=True)
class SdkOnly:
    python: Path
    added_kib: int  # site-packages over a bare venv's


@pytest.fixture(scope="module")
def sdk_only(built: Built, tmp_path_factory: pytest.TempPathFactory) -> SdkOnly:
    """The wheel without extras in a fresh venv, and a bare venv to measure it against."""
    root = tmp_path_factory.mktemp("serving")
    for name in ("bare", "sdk"):
        _run([sys.executable, "-m", "venv", str(root / name)], root, _clean_env())
    _run([str(root / "sdk" / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "--no-compile", str(built.wheel)], root, _clean_env(), timeout=600)  # fmt: skip
    added = _site_kib(root / "sdk") - _site_kib(root / "bare")
    return SdkOnly(root / "sdk" / "bin" / "python", added)


def test_sdk_only_install_is_small_and_has_no_numeric_stack(sdk_only: SdkOnly) -> None:
    listed = _run([str(sdk_only.python), "-m", "pip", "list", "--format=freeze"],
                  sdk_only.python.parent, _clean_env())  # fmt: skip
    names = {line.split("==")[0].lower() for line in listed.split()}
    assert {"mlpulse", "msgspec", "httpx"} <= names
    assert names.isdisjoint({"numpy", "scipy", "scikit-learn", "datasketches", "fastapi"})
    assert 0 < sdk_only.added_kib < SDK_INSTALL_MAX_KIB, f"{sdk_only.added_kib} KiB"


def test_sdk_only_install_logs_to_a_collector(
    sdk_only: SdkOnly, collector: RunningCollector, tmp_path: Path
) -> None:
    script = tmp_path / "serving.py"
    script.write_text(SDK_SCRIPT, encoding="utf-8")

    out = _run([str(sdk_only.python), str(script), collector.url, collector.ingest_key],
               tmp_path, _clean_env()).splitlines()  # fmt: skip

    assert out[0] == "50" and out[1] == "[]"
    assert "pip install 'mlpulse[analysis]'" in out[2]
    headers = collector.headers(collector.read_key)
    summary = httpx.get(f"{collector.url}/v1/models/sdk-only/summary",
                        params={"window": "1h"}, headers=headers, timeout=10)  # fmt: skip
    assert summary.status_code == 200, summary.text
    assert [(v["version"], v["count"]) for v in summary.json()["versions"]] == [("v1", 50)]


def test_sdk_only_install_cli_names_the_server_extra(sdk_only: SdkOnly, tmp_path: Path) -> None:
    done = subprocess.run([str(sdk_only.python.parent / "mlpulse"), "serve"], cwd=tmp_path,
                          env=_clean_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: no module named 'typer'; install it with: pip install 'mlpulse[server]'"
    ]
