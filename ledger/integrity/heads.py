"""Merkle tree heads of a stream of leaves at chosen sizes, for verification: computed in-process, or
in a helper process so that the tree's hashing runs beside the caller's own work on another core.

Verification recomputes the RFC 9162 tree head (``merkle``) at every checkpoint's size and at the end.
The tree costs two SHA-256 calls per leaf on top of the chain's two, and CPython spends about 0.45 µs
on a ``hashlib`` call however short the input, so on one core the tree alone holds a verification to
about 0.6x of a loop hashing only the chain. ``TreeHeads`` takes the chain hashes in runs and answers
roots later, in the order they were asked for. Once ``handoff`` leaves have gone by on a machine with
a second core, it hands its frontier to a child Python (``python -I -S``, importing only this module
and ``merkle``) and from then on writes the runs down a pipe: the child folds them with the same
``merkle.Frontier`` and answers each root as ``size ‖ root`` (8 + 32 bytes); when the child lags (its
pipe is full), the parent folds a whole run itself and sends only its root. A child that cannot be
started leaves the work in-process; one that stops midway fails the call (``TreeWorkerError``): it never
makes a log pass or fail.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from ledger.integrity import merkle

HANDOFF = 65_536
"""Leaves folded in-process before the child takes over (a short log is not worth a process)."""
OWED_MAX = 512
"""Roots asked of the child and not yet read at most (its answers never fill the pipe: 40 bytes each)."""
WAIT_SECONDS = 120.0
"""How long to wait for the child's next answer before giving up on it."""
PIPE_BYTES = 1 << 20
"""The pipe to the child, where the system allows (Linux: up to /proc/sys/fs/pipe-max-size, 1 MiB by default)."""
QUEUED_MAX = 1 << 18
"""Bytes queued for the child beyond what its pipe took, at most; past that the parent waits for room."""
_ANSWER = 40
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from ledger.integrity.heads import serve; serve()"


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


class TreeWorkerError(RuntimeError):
    """The helper process stopped or stalled before answering: the tree heads are unknown."""


def _has_a_second_core() -> bool:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return os.name == "posix" and bool(sys.executable) and cores > 1


class TreeHeads:
    """The tree of the chain hashes given to ``extend``, its root at the sizes ``ask`` was called at.

    ``handoff`` None keeps everything in-process.
    """

    def __init__(self, handoff: int | None = HANDOFF) -> None:
        self.size = 0
        self._tree: merkle.Frontier | None = merkle.Frontier()
        self._handoff = handoff if handoff is not None and _has_a_second_core() else None
        self._child: subprocess.Popen[bytes] | None = None
        self._ready: list[tuple[int, bytes]] = []
        self._inbox = b""
        self._owed = 0
        self._queued = bytearray()  # frames (or the rest of one) the pipe had no room for yet
        self.folded_here = 0
        """Leaves folded in this process after the handoff, the child lagging (see ``extend``)."""

    @property
    def in_child(self) -> bool:
        return self._child is not None

    def extend(self, chain_hashes: list[bytes]) -> None:
        """Appends a run of leaves (chain hashes, 32 bytes each).

        With a child, a run that is a whole perfect subtree (a power of two long, starting at a multiple of
        its length) is folded here instead when the child's pipe is full (the child lags, e.g. its core is
        busy) and only its root is sent: the work goes to whichever process has the time.
        """
        start, count = self.size, len(chain_hashes)
        self.size += count
        if self._tree is not None:
            self._tree.extend(chain_hashes)
            if self._handoff is not None and self.size >= self._handoff:
                self._hand_off(self._tree)
        elif count:
            whole = count & (count - 1) == 0 and start % count == 0
            self._push(wait=False)
            if whole and self._queued:  # the pipe is still full: the child lags, this process folds the run
                subtree = merkle.Frontier()
                subtree.extend(chain_hashes)
                self._queued += _frame(b"N", bytes([count.bit_length() - 1]) + subtree.root())
                self.folded_here += count
            else:
                self._queued += _frame(b"L", b"".join(chain_hashes))
            self._push(wait=len(self._queued) > QUEUED_MAX)

    def ask(self) -> None:
        """Asks for the root at the current size: ``answers`` gives it, after every root asked before."""
        if self._tree is not None:
            self._ready.append((self.size, self._tree.root()))
            return
        self._queued += _frame(b"R", b"")
        self._push(wait=len(self._queued) > QUEUED_MAX)
        self._owed += 1
        if self._owed > OWED_MAX:
            self._receive(wait_until=OWED_MAX // 2)

    def answers(self, wait: bool = False) -> list[tuple[int, bytes]]:
        """``(size, root)`` of the roots answered so far, in the order asked; with ``wait`` every one asked."""
        if self._owed:
            self._receive(wait_until=0 if wait else None)
        ready, self._ready = self._ready, []
        return ready

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        for stream in (child.stdin, child.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def __enter__(self) -> TreeHeads:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ---- the parent's side of the pipe ----------------------------------------------------------------

    def _hand_off(self, tree: merkle.Frontier) -> None:
        folder = Path(__file__).resolve().parents[2]  # the one holding the ledger package
        try:
            child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHILD, str(folder)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        except OSError:
            self._handoff = None  # no child: the tree stays in-process
            return
        assert child.stdin is not None and child.stdout is not None
        os.set_blocking(child.stdin.fileno(), False)
        os.set_blocking(child.stdout.fileno(), False)
        with suppress(ImportError, AttributeError, OSError):  # Linux: a larger pipe evens out the child's pauses
            import fcntl

            fcntl.fcntl(child.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._child, self._tree = child, None
        self._queued += _frame(b"S", tree.size.to_bytes(8, "big") + b"".join(tree.roots))
        self._push(wait=False)

    def _push(self, wait: bool) -> None:
        """Writes the queued frames: what the pipe takes now, or with ``wait`` all of them."""
        child, queued = self._child, self._queued
        assert child is not None and child.stdin is not None
        fd = child.stdin.fileno()
        try:
            while queued:
                try:
                    del queued[:os.write(fd, queued)]
                except BlockingIOError:
                    if not wait:
                        return
                    if not select.select([], [fd], [], WAIT_SECONDS)[1]:
                        stalled = f"the Merkle tree helper process read nothing in {WAIT_SECONDS:g} s"
                        raise TreeWorkerError(stalled) from None
        except OSError as error:  # BrokenPipeError: the child is gone
            raise self._gone() from error

    def _receive(self, wait_until: int | None) -> None:
        """Reads what the child has answered; then, unless ``wait_until`` is None, waits until no more
        than ``wait_until`` roots are owed."""
        self._push(wait=wait_until is not None)  # the child answers only the frames it has
        child = self._child
        assert child is not None and child.stdout is not None
        fd = child.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                data = None
            if data == b"":
                raise self._gone()
            if data:
                inbox = self._inbox + data
                whole = len(inbox) - len(inbox) % _ANSWER
                self._ready += [(int.from_bytes(inbox[at:at + 8], "big"), inbox[at + 8:at + _ANSWER])
                                for at in range(0, whole, _ANSWER)]
                self._owed -= whole // _ANSWER
                self._inbox = inbox[whole:]
            if wait_until is None or self._owed <= wait_until:
                return
            if data is None and not select.select([fd], [], [], WAIT_SECONDS)[0]:
                raise TreeWorkerError(f"the Merkle tree helper process gave no answer in {WAIT_SECONDS:g} s")

    def _gone(self) -> TreeWorkerError:
        child = self._child
        code = child.poll() if child is not None else None
        return TreeWorkerError(f"the Merkle tree helper process stopped (exit code {code})")


# ---- the child --------------------------------------------------------------------------------------------


def serve() -> None:
    """The child's loop: frames ``kind ‖ length (4 bytes) ‖ payload`` on stdin until it closes. ``S``
    sets the frontier (size, then its roots), ``L`` appends chain hashes, ``N`` a perfect subtree the
    parent folded (its level, then its root), ``R`` answers the root. Ctrl-C is the parent's to handle:
    the child ends when its stdin closes (the parent closed it, or died)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    read, out = sys.stdin.buffer.read, sys.stdout.buffer
    tree = merkle.Frontier()
    while len(head := read(5)) == 5:
        kind, payload = head[:1], read(int.from_bytes(head[1:], "big"))
        if kind == b"L":
            tree.extend([payload[at:at + 32] for at in range(0, len(payload), 32)])
        elif kind == b"N":
            tree.extend_subtree(payload[0], payload[1:33])
        elif kind == b"R":
            out.write(tree.size.to_bytes(8, "big") + tree.root())
            out.flush()
        elif kind == b"S":
            tree = merkle.Frontier.resume(int.from_bytes(payload[:8], "big"),
                                          [payload[at:at + 32] for at in range(8, len(payload), 32)])
        else:
            raise SystemExit(f"unknown frame {kind!r}")
