"""Logging wrappers of the commands Hadoop starts from the JVM, first on ``PATH`` for the whole
session: the in-process driver starts after this, so a test can count what it started (a child
driver would cost a JVM start for that)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

#: what Hadoop's local file systems start (FileUtil.readLink, RawLocalFileSystem.setPermission)
LOGGED_COMMANDS = ("readlink", "chmod")


class CommandLog:
    """The commands the wrappers saw, one name per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def counts(self) -> Counter[str]:
        return Counter(self.path.read_text().split()) if self.path.exists() else Counter()


@pytest.fixture(scope="session", autouse=True)
def command_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CommandLog]:
    wrappers = tmp_path_factory.mktemp("logged-commands")
    log = CommandLog(wrappers / "started.log")
    for command in LOGGED_COMMANDS:
        real = shutil.which(command)
        assert real is not None, f"{command} is not on PATH"
        wrapper = wrappers / command
        wrapper.write_text(f'#!/bin/sh\necho {command} >> "{log.path}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
        yield log
