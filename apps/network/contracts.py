"""The network context's read models (plain dataclasses: no Django)."""

from dataclasses import dataclass

from apps.kernel.contracts import StepDeclaration


@dataclass(frozen=True)
class IpPoolSummary:
    id: str
    payer: str
    region: str
    cidr: str
    name: str


@dataclass(frozen=True)
class VlanPoolSummary:
    id: str
    payer: str
    connection_id: str
    first_vlan: int
    last_vlan: int


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


# --- The steps this context runs (apps/network/steps/: a module per step), in dependency order

_STEPS_PACKAGE = "apps.network.steps"
_READ_BACK_MODULE = "apps.network.readback"


def _network_step(name: str, legacy_name: str, *, after: str, checked: bool) -> StepDeclaration:
    return StepDeclaration(
        name=name,
        context="network",
        legacy_name=legacy_name,
        run=f"{_STEPS_PACKAGE}.{name}:{name}",
        depends_on=(after,),
        default_params=f"{_STEPS_PACKAGE}.params:{name.upper()}_DEFAULT_PARAMS",
        check_params=f"{_STEPS_PACKAGE}.params:check_params",
        describe=f"{_STEPS_PACKAGE}.describe:describe_{name}",
        read_back=f"{_READ_BACK_MODULE}:{name}_problems" if checked else "",
    )


STEPS: tuple[StepDeclaration, ...] = (
    _network_step("vpc", "VPC", after="wait_account", checked=True),
    _network_step("flow_logs", "VPCFLOWLOGS", after="vpc", checked=True),
    _network_step("dns", "VPCDNS", after="vpc", checked=True),
    # Direct Connect's interface lives in the payer's network account; verify does not read it.
    _network_step("direct_connect", "DIRECTCONNECT", after="vpc", checked=False),
)
