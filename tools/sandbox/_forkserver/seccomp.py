"""A seccomp filter for the program: the system calls an unprivileged process could still use
to widen the kernel's surface or to leave a note for the next program fail with EPERM.

Without it, a program running as nobody could still create a user namespace (unshare or clone
with CLONE_NEWUSER), be root inside it and reach mount, new network stacks and the rest of
the code most kernel privilege escalations go through; keep data in the uid's kernel keyring,
which outlives the run, for a later program to read; or use io_uring, bpf, userfaultfd and
perf_event_open. Denied: unshare, setns, clone with a namespace flag, the mount family,
keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd, io_uring_*, ptrace,
process_vm_readv/writev, open_by_handle_at, kexec and module loading. clone3 answers ENOSYS
(its flags sit behind a pointer a filter cannot read), so glibc falls back to plain clone, as
Docker's default profile does. Another architecture, or x86-64's x32 calls, kill the process.
Syscall numbers are written for x86-64 and aarch64; elsewhere the server refuses.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from .linux import prctl

__all__ = ["DENIED", "install", "syscall_number"]

# name: (x86-64, aarch64), from asm/unistd_64.h and asm-generic/unistd.h.
_SYSCALLS = {
    "clone": (56, 220),
    "clone3": (435, 435),
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "open_by_handle_at": (304, 265),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
}
DENIED = tuple(name for name in _SYSCALLS if name not in ("clone", "clone3"))
_ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}  # table column, AUDIT_ARCH
_NAMESPACE_FLAGS = (
    0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
)
_X32_BIT = 0x40000000

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_ERRNO = 0x00050000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_ARCH, _NR, _ARG0 = 4, 0, 16  # offsets into struct seccomp_data (arg 0's low word, little-endian)


def install() -> None:
    """Install the filter on the calling process (inherited by all it forks); needs
    no_new_privs set first. Raises OSError where no syscall table is written."""
    machine = os.uname().machine
    if machine not in _ARCHES:
        raise OSError(f"no seccomp syscall table for {machine} (only x86_64 and aarch64)")
    code = _program(machine)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(buffer))
    prog = ctypes.create_string_buffer(fprog, len(fprog))
    prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog))


def syscall_number(name: str, machine: str) -> int:
    return _SYSCALLS[name][_ARCHES[machine][0]]


def _program(machine: str) -> bytes:
    arch = _ARCHES[machine][1]
    clone, clone3 = syscall_number("clone", machine), syscall_number("clone3", machine)
    rules = [(_LD_ABS, 0, 0, _ARCH), (_JEQ, 1, 0, arch), (_RET, 0, 0, _KILL), (_LD_ABS, 0, 0, _NR)]
    if machine == "x86_64":
        rules += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, _KILL)]
    for name in DENIED:
        rules += [(_JEQ, 0, 1, syscall_number(name, machine)), (_RET, 0, 0, _ERRNO | errno.EPERM)]
    rules += [(_JEQ, 0, 1, clone3), (_RET, 0, 0, _ERRNO | errno.ENOSYS)]
    rules += [(_JEQ, 0, 3, clone), (_LD_ABS, 0, 0, _ARG0), (_JSET, 0, 1, _NAMESPACE_FLAGS)]
    rules += [(_RET, 0, 0, _ERRNO | errno.EPERM), (_RET, 0, 0, _ALLOW)]
    return b"".join(struct.pack("HBBI", *rule) for rule in rules)
