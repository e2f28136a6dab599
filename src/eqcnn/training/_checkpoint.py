"""Checkpoints: written atomically, read back with checks that name what does not match."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "eqcnn-train-checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed: unreadable, truncated, or of another model or protocol."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename: an interrupted write never
    replaces the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, protocol: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at ``path``, checked against the run's ``protocol`` (:meth:`TrainConfig.protocol`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as err:  # a truncated or foreign file: torch raises several kinds
        raise CheckpointError(
            f"{path} is not a readable eqcnn training checkpoint ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an eqcnn training checkpoint (format {FORMAT!r} expected)")
    theirs = state.get("protocol", {})
    if theirs.get("model") != protocol.get("model"):
        raise CheckpointError(
            f"{path} is a checkpoint of model {theirs.get('model')!r}, not {protocol.get('model')!r}; pass that "
            "model, or another output folder for a fresh run"
        )
    diff = sorted(k for k in set(theirs) | set(protocol) if theirs.get(k) != protocol.get(k))
    if diff:
        shown = ", ".join(f"{k}: checkpoint {theirs.get(k)!r}, now {protocol.get(k)!r}" for k in diff[:4])
        raise CheckpointError(
            f"{path} was made with another protocol ({shown}); resume with the same settings, or start a fresh "
            "run in another output folder"
        )
    return state
