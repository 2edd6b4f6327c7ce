"""The PR comment's reachability change: an opened path shows as an added line."""

from __future__ import annotations

from pathlib import Path

from offline_plan.reachability_diff import MARKER, _lines, comment

BASE = [
    "jupyterhub/user-server-a => jupyterhub/hub : {protocols:TCP,dst_ports:8081}",
    "jupyterhub/proxy => jupyterhub/hub : {protocols:TCP,dst_ports:8081}",
]


def test_an_opened_path_is_an_added_line() -> None:
    head = [*BASE, "jupyterhub/user-server-a => 169.254.169.254 : {protocols:TCP,dst_ports:80}"]
    text = comment("prod", BASE, head)
    assert text.startswith(MARKER.format(stack="prod"))
    assert "+ jupyterhub/user-server-a => 169.254.169.254 : {protocols:TCP,dst_ports:80}" in text
    assert "1 path(s) opened" in text


def test_a_closed_path_is_a_removed_line_and_no_change_says_so() -> None:
    assert "- jupyterhub/proxy => jupyterhub/hub" in comment("dev", BASE, BASE[:1])
    assert "No connection is added or removed." in comment("dev", BASE, BASE)


def test_the_table_file_is_read_as_the_plan_writes_it(tmp_path: Path) -> None:
    table = tmp_path / "reachability-dev.txt"
    table.write_text("Reachability for 'dev' (network-config-analyzer ...):\n  " + "\n  ".join(BASE) + "\n")
    assert _lines(table) == BASE
    assert _lines(tmp_path / "missing.txt") == []
