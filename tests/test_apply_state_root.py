"""Where ``apply`` keeps its state: never a folder someone else made first in a shared temp
folder (its saved ruleset is what root restores), never through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from portplan._errors import ApplyError
from portplan.targets.apply.confirmed import state_root

#: a user id other than this one's ("nobody" where this runs as root)
OTHER = 65534 if os.geteuid() != 65534 else 65533


def test_a_new_folder_is_made_private(tmp_path: Path) -> None:
    root = tmp_path / "portplan-apply"
    assert state_root((root,)) == root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_a_folder_of_this_users_own_is_used_and_made_private(tmp_path: Path) -> None:
    root = tmp_path / "portplan-apply"
    root.mkdir()
    os.chmod(root, 0o755)
    assert state_root((root,)) == root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user takes root")
def test_another_users_folder_is_refused_and_the_next_one_used(tmp_path: Path) -> None:
    planted = tmp_path / "portplan-apply"
    planted.mkdir()
    os.chmod(planted, 0o777)
    os.chown(planted, OTHER, OTHER)
    fallback = tmp_path / "own"
    assert state_root((planted, fallback)) == fallback
    assert stat.S_IMODE(planted.stat().st_mode) == 0o777  # left as its owner made it
    with pytest.raises(ApplyError, match=r"portplan-apply is a link, or another user's"):
        state_root((planted,))


def test_a_link_is_refused_and_what_it_points_to_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.chmod(target, 0o755)
    link = tmp_path / "portplan-apply"
    link.symlink_to(target)
    with pytest.raises(ApplyError, match=r"remove it"):
        state_root((link,))
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
