"""What other parts of Bespoke know about the audit log: one entry, read-only."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

CLIENT = "client"
OPERATOR = "operator"
SYSTEM = "system"


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: datetime
    actor_type: str
    actor: str
    action: str
    target_type: str
    target_id: str
    source_ip: str | None
    user_agent: str
    request_id: str
    status_code: int | None
    before: Any
    after: Any
