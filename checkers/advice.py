"""Advice that never fails a check: hadolint's findings on a learner's Dockerfile."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def _hadolint() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return found
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else None


def hadolint_advice(dockerfile_path, timeout: float = 5.0) -> list[str]:
    """hadolint's findings as short sentences (``[]`` if hadolint or the file is missing)."""
    exe, path = _hadolint(), Path(dockerfile_path)
    if not exe or not path.is_file():
        return []
    try:
        proc = subprocess.run([exe, "--no-fail", "--format", "json", str(path)], capture_output=True, text=True,
                              timeout=timeout)
        findings = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    return [f"hadolint {f.get('code')} ({f.get('level')}) line {f.get('line')} of {path.name}: {f.get('message')}"
            for f in findings if isinstance(f, dict)]
