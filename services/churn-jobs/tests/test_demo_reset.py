"""`churn demo --reset` deletes only a folder churn created, never ~ or an arbitrary folder."""

from pathlib import Path

import pytest
from conftest import run_cli

from churn_jobs.demo import reset_home
from churn_jobs.errors import UserError
from churn_jobs.local_platform import HOME_MARKER, LocalPlatform


def user_folder(path: Path) -> Path:
    """A folder with a user's file and a `logs` folder (a name a churn store also has)."""
    (path / "logs").mkdir(parents=True)
    (path / "notes.txt").write_text("mine")
    return path


def test_a_folder_churn_did_not_create_is_refused_and_kept(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "project")
    with pytest.raises(UserError, match=f"not a churn home .*{HOME_MARKER}"):
        reset_home(folder)
    assert (folder / "notes.txt").read_text() == "mine"


def test_the_users_home_is_never_deleted_even_with_a_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = user_folder(tmp_path / "user")
    (home / HOME_MARKER).write_text("planted")
    monkeypatch.setenv("HOME", str(home))
    for target in (home, tmp_path):  # ~ and a parent of ~
        with pytest.raises(UserError, match="home folder or one of its parents"):
            reset_home(target)
    assert (home / "notes.txt").exists()


def test_a_home_churn_created_is_deleted(tmp_path: Path) -> None:
    home = LocalPlatform(tmp_path / "store").ensure_home()
    (home / "spark-warehouse").mkdir()
    assert (home / HOME_MARKER).is_file()
    reset_home(home)
    assert not home.exists()


def test_an_existing_folder_with_content_is_used_but_never_marked(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "project")
    LocalPlatform(folder).ensure_home()
    assert not (folder / HOME_MARKER).exists()


def test_demo_reset_on_an_arbitrary_folder_is_one_message_and_exit_2(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "project")
    result = run_cli("churn", "demo", "--reset", home=folder)
    assert result.returncode == 2, result.stderr
    assert "refusing to delete it" in result.stderr
    assert "Traceback" not in result.stderr
    assert (folder / "notes.txt").exists()
