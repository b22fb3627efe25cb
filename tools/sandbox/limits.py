"""The limits every sandboxed program runs under (each enforced as the sandbox docstring says)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Limits"]


class Limits(BaseModel):
    """What one program may use. The defaults suit the small programs a code game proposes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float = Field(
        default=10.0, gt=0, le=3600, description="Wall-clock seconds, sleeping included."
    )
    cpu_s: int = Field(
        default=5, ge=1, le=3600, description="CPU seconds per process (RLIMIT_CPU: whole seconds)."
    )
    memory_mb: int = Field(
        default=256,
        ge=64,
        le=1 << 20,
        description="MiB of address space per process (RLIMIT_AS) and of memory for all the "
        "program's processes together (memory cgroup). At least 64: a forked interpreter "
        "already maps about 17.",
    )
    processes: int = Field(
        default=16, ge=1, le=4096, description="Processes and threads at once (pids cgroup)."
    )
    output_bytes: int = Field(
        default=64 << 10,
        ge=1,
        le=4 << 20,
        description="Bytes of stdout, and of stderr, kept; writing more ends the run.",
    )
    disk_mb: int = Field(
        default=16, ge=1, le=1 << 14, description="MiB of its working folder (tmpfs) and per file."
    )
    open_files: int = Field(default=64, ge=16, le=65536, description="Open files (RLIMIT_NOFILE).")
