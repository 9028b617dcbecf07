"""Build step: vendor the dashboard's browser libraries into the wheel and the sdist.

The dashboard serves ECharts and htmx from its own origin. In a checkout they live in
``web/node_modules`` (``make`` runs ``npm ci --prefix web``); a wheel must carry them,
since a pip user has no npm. So ``build_py`` copies the files the dashboard serves (and
their licences) from the npm packages into ``mlpulse/server/dashboard/vendor/`` of the
build tree, keeping the node_modules layout; ``sdist`` puts the same files into the
source tree it packs, so a wheel built from the sdist needs no npm either. The files
come from the npm registry (``npm ci`` against ``web/package-lock.json``) at build time
and are never committed. Editable installs skip all of this: a checkout serves
``web/node_modules`` directly.

Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
# Where the files go inside the package, and where a source tree (an sdist) holds them.
VENDOR_IN_PACKAGE = Path("mlpulse", "server", "dashboard", "vendor")
VENDOR_IN_SOURCE = ROOT / "src" / VENDOR_IN_PACKAGE
# What the dashboard serves (mlpulse.server.dashboard.assets.VENDOR) and the licences
# that must travel with it, relative to node_modules.
FILES = (
    "echarts/dist/echarts.min.js",
    "echarts/LICENSE",
    "echarts/NOTICE",
    "echarts/package.json",
    "htmx.org/dist/htmx.min.js",
    "htmx.org/LICENSE",
    "htmx.org/package.json",
)


def _installed_matches_lock(modules: Path) -> bool:
    """True when node_modules holds every file, at the versions package.json pins."""
    if not all((modules / name).is_file() for name in FILES):
        return False
    pinned = json.loads((WEB / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for package, version in pinned.items():
        installed = json.loads((modules / package / "package.json").read_text(encoding="utf-8"))
        if installed.get("version") != version:
            return False
    return True


def _vendor_source() -> Path:
    """A folder holding FILES: the source tree's copy (in an sdist), else node_modules,
    installed from the npm registry first when missing or stale."""
    if all((VENDOR_IN_SOURCE / name).is_file() for name in FILES):
        return VENDOR_IN_SOURCE
    modules = WEB / "node_modules"
    if _installed_matches_lock(modules):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "building mlpulse needs npm to fetch the dashboard's browser libraries "
            "(ECharts, htmx) from the npm registry: apt-get install npm, or build from an "
            "sdist, which carries them"
        )
    subprocess.run(
        [npm, "ci", "--prefix", str(WEB), "--no-audit", "--no-fund", "--silent"], check=True
    )
    if not _installed_matches_lock(modules):
        raise SystemExit(f"npm ci did not install {', '.join(FILES)} into {modules}")
    return modules


def _copy_vendor(target: Path) -> None:
    source = _vendor_source()
    if source.resolve() == target.resolve():
        return
    for name in FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target / name)


class BuildPyWithVendor(build_py):
    """build_py, then the npm files into the build tree (not in editable mode)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            _copy_vendor(Path(self.build_lib) / VENDOR_IN_PACKAGE)


class SdistWithVendor(sdist):
    """An sdist that carries the npm files (and web/package*.json, see MANIFEST.in)."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _copy_vendor(Path(base_dir) / "src" / VENDOR_IN_PACKAGE)


setup(cmdclass={"build_py": BuildPyWithVendor, "sdist": SdistWithVendor})
