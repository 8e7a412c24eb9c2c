"""Sibling ranges are honest: each wheel installs and imports outside the workspace with its
siblings at the lowest versions its ranges allow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from churn_release.errors import ReleaseError
from churn_release.members import workspace_members
from churn_release.wheel_smoke import (
    available_wheels,
    lock_constraints,
    lowest_sibling_pins,
    smoke_install,
)
from churn_release.workspace_graph import load_graph

AVAILABLE = {
    "churn-model": [Version("0.3.0"), Version("0.1.0"), Version("0.2.1")],
    "churn-features": [Version("0.1.0")],
}


def _requires(*lines: str) -> list[Requirement]:
    return [Requirement(line) for line in lines]


def test_the_lowest_version_each_range_admits_is_pinned() -> None:
    pins = lowest_sibling_pins(
        _requires("churn-model>=0.2,<1", "churn_features>=0.1", "pandas>=2.2"), AVAILABLE
    )
    assert pins == {"churn-features": Version("0.1.0"), "churn-model": Version("0.2.1")}


def test_a_range_no_built_wheel_satisfies_is_a_violation() -> None:
    with pytest.raises(ReleaseError) as raised:
        lowest_sibling_pins(_requires("churn-model>=0.4,<1", "churn-features<0.1"), AVAILABLE)
    message = str(raised.value)
    assert "churn-model<1,>=0.4 matches no available version (0.1.0, 0.2.1, 0.3.0)" in message
    assert "churn-features<0.1 matches no available version (0.1.0)" in message


def test_a_sibling_without_a_range_is_a_violation() -> None:
    # uv writes a workspace sibling declared without a range as a bare name in the wheel.
    with pytest.raises(ReleaseError, match="churn-model is required without a version range"):
        lowest_sibling_pins(_requires("churn-model"), AVAILABLE)


def test_requirements_behind_an_extra_are_not_pinned() -> None:
    pins = lowest_sibling_pins(_requires('churn-model>=9; extra == "full"'), AVAILABLE)
    assert pins == {}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """Every member's wheel as it would be published: built without workspace sources."""
    out = tmp_path_factory.mktemp("published-wheels")
    subprocess.run(
        ["uv", "build", "--all-packages", "--no-sources", "--wheel", "--out-dir", str(out)],
        cwd=repo_root,
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.slow
def test_published_wheels_keep_the_sibling_ranges(wheels: Path, repo_root: Path) -> None:
    graph = load_graph(repo_root)
    built = {w.name: w for w in available_wheels(wheels)}
    assert sorted(built) == sorted(graph.members)
    for name, siblings in graph.requires.items():
        published = {r.name: r.specifier for r in built[name].requires}
        for sibling, declared in siblings.items():
            assert published[sibling] == declared, f"{name}: {sibling}{published[sibling]}"
            assert published[sibling] != SpecifierSet(), f"{name}: {sibling} has no range"


@pytest.mark.slow
def test_each_wheel_imports_outside_the_workspace_with_its_lowest_siblings(
    wheels: Path, repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside-the-workspace")
    constraints = lock_constraints(repo_root, outside / "constraints.txt")
    graph = load_graph(repo_root)
    for member in workspace_members(repo_root):
        result = smoke_install(
            member.name,
            wheels,
            outside / member.name,
            constraints=constraints,
            python=sys.executable,
        )
        assert result.version == Version(member.version)
        assert sorted(result.sibling_pins) == sorted(graph.requires[member.name])
        assert result.output.startswith("imported ")


def _tiny_package(root: Path, name: str, version: str, requires: list[str], body: str) -> Path:
    folder = root / f"{name}-{version}"
    module = name.replace("-", "_")
    (folder / "src" / module).mkdir(parents=True)
    (folder / "src" / module / "__init__.py").write_text(body)
    dependencies = ", ".join(f'"{r}"' for r in requires)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{dependencies}]\n'
        '[build-system]\nrequires = ["uv_build>=0.9,<0.14"]\nbuild-backend = "uv_build"\n'
    )
    return folder


@pytest.fixture(scope="module")
def tiny_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of made-up packages ``churn-fixture-*``: alpha 0.1.0 and 0.2.0 (0.2.0 adds
    ``new_api``); beta needs alpha>=0.1 and uses only the old API; gamma uses ``new_api`` while
    still claiming alpha>=0.1 (a floor too low); delta imports alpha without declaring it."""
    sources = tmp_path_factory.mktemp("tiny-sources")
    out = tmp_path_factory.mktemp("tiny-wheels")
    packages = [
        _tiny_package(sources, "churn-fixture-alpha", "0.1.0", [], "old_api = 1\n"),
        _tiny_package(sources, "churn-fixture-alpha", "0.2.0", [], "old_api = 1\nnew_api = 2\n"),
        _tiny_package(
            sources,
            "churn-fixture-beta",
            "0.1.0",
            ["churn-fixture-alpha>=0.1,<1"],
            "from churn_fixture_alpha import old_api\n",
        ),
        _tiny_package(
            sources,
            "churn-fixture-gamma",
            "0.1.0",
            ["churn-fixture-alpha>=0.1,<1"],
            "from churn_fixture_alpha import new_api\n",
        ),
        _tiny_package(sources, "churn-fixture-delta", "0.1.0", [], "import churn_fixture_alpha\n"),
    ]
    for folder in packages:
        subprocess.run(
            ["uv", "build", "--wheel", "--out-dir", str(out), str(folder)],
            check=True,
            capture_output=True,
        )
    return out


def test_smoke_install_pins_the_lowest_sibling_and_imports(
    tiny_wheels: Path, tmp_path: Path
) -> None:
    result = smoke_install(
        "churn-fixture-beta", tiny_wheels, tmp_path / "churn-fixture-beta", python=sys.executable
    )
    assert result.sibling_pins == {"churn-fixture-alpha": Version("0.1.0")}
    assert result.installed["churn-fixture-alpha"] == "0.1.0"
    assert result.output == "imported 1 modules of churn_fixture_beta"


def test_smoke_install_fails_when_the_floor_is_too_low(tiny_wheels: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ReleaseError,
        match=r"churn-fixture-gamma 0\.1\.0 does not import .*churn-fixture-alpha==0\.1\.0",
    ):
        smoke_install(
            "churn-fixture-gamma",
            tiny_wheels,
            tmp_path / "churn-fixture-gamma",
            python=sys.executable,
        )


def test_smoke_install_fails_on_an_undeclared_sibling(tiny_wheels: Path, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="No module named 'churn_fixture_alpha'"):
        smoke_install(
            "churn-fixture-delta",
            tiny_wheels,
            tmp_path / "churn-fixture-delta",
            python=sys.executable,
        )


def test_third_party_dependencies_come_from_the_cache_and_else_from_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty cache: the offline attempt fails and the index serves the dependency. Then the
    network is unreachable (every request goes to a proxy where nothing listens): a second
    install succeeds from the cache, and with another empty cache it fails with uv's fetch error."""
    source = _tiny_package(
        tmp_path / "src",
        "churn-fixture-epsilon",
        "0.1.0",
        ["iniconfig==2.0.0"],
        "import iniconfig\n",
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    first = smoke_install(
        "churn-fixture-epsilon", wheels, tmp_path / "online" / "venv", python=sys.executable
    )
    assert first.installed["iniconfig"] == "2.0.0"

    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
        monkeypatch.setenv(proxy.lower(), "http://127.0.0.1:9")
    for exempt in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(exempt, raising=False)
    again = smoke_install(
        "churn-fixture-epsilon", wheels, tmp_path / "offline" / "venv", python=sys.executable
    )
    assert again.installed["iniconfig"] == "2.0.0"
    assert again.output == "imported 1 modules of churn_fixture_epsilon"

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "another-empty-cache"))
    with pytest.raises(ReleaseError, match="Failed to fetch"):
        smoke_install(
            "churn-fixture-epsilon", wheels, tmp_path / "neither" / "venv", python=sys.executable
        )
