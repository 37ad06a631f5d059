"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same global torch RNG state."""
    torch.manual_seed(0)
    yield
