"""One syscall in flight: who is calling, and every access decision taken for it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from syscalls.errors import SyscallError
from syscalls.spec import Syscall

from .heimdall.identity import Caller
from .heimdall.policy import Decision

if TYPE_CHECKING:
    from .kernel import Kernel


class Call:
    __slots__ = ("kernel", "caller", "syscall", "decisions", "object", "decision")

    def __init__(self, kernel: "Kernel", caller: Caller, syscall: Syscall) -> None:
        self.kernel = kernel
        self.caller = caller
        self.syscall = syscall
        self.decisions = 0
        self.object: str | None = None
        self.decision: Decision | None = None  # the first denial, else the first decision

    def allowed(self, predicate: str, obj: str, tags: frozenset[str] = frozenset()) -> bool:
        """Ask Heimdall, and remember that this call was authorized (for lists that filter)."""
        decision = self.kernel.heimdall.decide(self.caller, predicate, obj, tags)
        self.decisions += 1
        if self.decision is None or (self.decision.allow and not decision.allow):
            self.decision = decision
            self.object = obj
        return decision.allow

    def authorize(self, predicate: str, obj: str, tags: frozenset[str] = frozenset()) -> None:
        """Raise EACCES, naming the deciding policy, unless the caller may do `predicate` on `obj`."""
        if not self.allowed(predicate, obj, tags):
            assert self.decision is not None
            policy = self.decision.policy
            why = f"denied by policy {policy!r}" if policy else "no policy allows it"
            raise SyscallError("EACCES", f"user {self.caller.id!r} may not {predicate} {obj}: {why}",
                               predicate=predicate, object=obj, policy=policy)
