"""The network context's read models (plain dataclasses: no Django)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class IpPoolSummary:
    id: str
    payer: str
    region: str
    cidr: str
    name: str


@dataclass(frozen=True)
class PoolUtilisation:
    pool_id: str
    payer: str
    region: str
    cidr: str
    name: str
    allocated_addresses: int
    total_addresses: int

    @property
    def fraction(self) -> float:
        """Allocated addresses over the pool's size, 0.0 to 1.0."""
        return self.allocated_addresses / self.total_addresses if self.total_addresses else 0.0
