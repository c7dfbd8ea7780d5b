"""Fixtures of the runtime tests."""
from __future__ import annotations

import pytest

from syscalls import connect


@pytest.fixture
def k(tmp_path):
    """An embedded kernel (the operator's client); afterwards nothing new starts and every pod its
    driver knows is killed."""
    with connect(f"embedded://{tmp_path / 'state'}") as c:
        yield c
        kernel = c.transport.kernel
        kernel.reconciler.stop()
        for pod in kernel.cloud.poll():
            kernel.cloud.kill(pod.name, grace=1)
