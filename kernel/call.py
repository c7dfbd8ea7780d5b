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
        self.decision: Decision | None = None  # what the audit shows: the denial, else the first allow

    def decide(self, predicate: str, obj: str, tags: frozenset[str] = frozenset()) -> Decision:
        decision = self.kernel.heimdall.decide(self.caller, predicate, obj, tags)
        self.decisions += 1
        if self.decision is None or (decision.allow and not self.decision.allow):
            self.decision, self.object = decision, obj
        return decision

    def allowed(self, predicate: str, obj: str, tags: frozenset[str] = frozenset()) -> bool:
        """Ask Heimdall, and remember that this call was authorized (for lists that filter)."""
        return self.decide(predicate, obj, tags).allow

    def authorize(self, predicate: str, obj: str, tags: frozenset[str] = frozenset()) -> None:
        """Raise EACCES, naming the deciding policy, unless the caller may do `predicate` on `obj`."""
        decision = self.decide(predicate, obj, tags)
        if not decision.allow:
            self.decision, self.object = decision, obj
            why = f"denied by policy {decision.policy!r}" if decision.policy else "no policy allows it"
            raise SyscallError("EACCES", f"user {self.caller.id!r} may not {predicate} {obj}: {why}",
                               predicate=predicate, object=obj, policy=decision.policy)

    def hide(self, decision: Decision, obj: str) -> None:
        """Audit a denial that the caller is answered as ENOENT (their tags hide the object)."""
        self.decision, self.object = decision, obj

    def refuse(self, obj: str, message: str, **details: object) -> None:
        """EACCES for a rule of the kernel itself (not a policy), audited as a denial."""
        self.decision, self.object = Decision(False, None, message), obj
        raise SyscallError("EACCES", message, object=obj, **details)
