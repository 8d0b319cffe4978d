"""The network context's public surface."""

from apps.network.contracts import IpPoolSummary, PoolUtilisation, VlanPoolSummary
from apps.network.selectors import cidr_preview, pool_utilisation
from apps.network.services import cidr_reclaim, cidr_release, pool_create
from apps.network.vlans import vlan_pool_create

__all__ = [
    "IpPoolSummary",
    "PoolUtilisation",
    "VlanPoolSummary",
    "cidr_preview",
    "cidr_reclaim",
    "cidr_release",
    "pool_create",
    "pool_utilisation",
    "vlan_pool_create",
]
