"""The native stack's refusals, before it starts anything: a port already taken, a server package missing."""

from __future__ import annotations

import socket

import pytest
from watchkeeper import prodstack
from watchkeeper.prodstack import ProdStack, StackError
from watchkeeper.stack import free_port
from watchkeeper.stackspec import PORTS


def test_a_taken_port_is_named_and_nothing_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(
        prodstack, "check_packages", lambda: {"postgres": "/bin", "redis-server": "/bin/true"}
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {name: free_port() for name in PORTS} | {"redis": port}
        with pytest.raises(StackError, match=rf"redis port {port}"):
            ProdStack(data_dir=str(tmp_path / "stack"), ports=ports).up(say=lambda _: None)
    assert not (tmp_path / "stack" / "run").exists()


def test_a_missing_server_names_its_apt_package(monkeypatch):
    monkeypatch.setattr(prodstack.glob, "glob", lambda _: [])
    monkeypatch.setattr(prodstack.shutil, "which", lambda _: None)
    with pytest.raises(StackError, match=r"apt-get install -y postgresql redis-server"):
        prodstack.check_packages()
