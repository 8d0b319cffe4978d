"""IP pools and the CIDR blocks allocated from them (network owns these tables)."""

from django.db import models


class IpPool(models.Model):
    """An IPv4 range a payer's VPCs in one region are carved from."""

    id = models.CharField(max_length=36, primary_key=True)
    payer = models.CharField(
        max_length=10, db_index=True, help_text="The payer's name (no foreign key across contexts)."
    )
    region = models.CharField(max_length=30)
    cidr = models.CharField(max_length=18, help_text="e.g. 10.64.0.0/16")
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["payer", "region", "created_at", "id"]
        verbose_name = "IP pool"
        constraints = [
            models.UniqueConstraint(fields=["payer", "region", "cidr"], name="network_ippool_unique_cidr"),
        ]

    def __str__(self) -> str:
        return f"{self.payer} {self.region} {self.cidr}" + (f" ({self.name})" if self.name else "")


class Allocation(models.Model):
    """A block of a pool given to one account request's VPC."""

    class State(models.TextChoices):
        ALLOCATED = "allocated"
        RELEASED = "released"

    id = models.CharField(max_length=36, primary_key=True)
    pool = models.ForeignKey(IpPool, on_delete=models.PROTECT, related_name="allocations")
    request_id = models.CharField(max_length=36, db_index=True)
    region = models.CharField(max_length=30, default="", help_text="The pool's region (one block per region).")
    cidr = models.CharField(max_length=18)
    prefix_length = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.ALLOCATED)
    allocated_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-allocated_at"]
        constraints = [
            # The database's own guarantee, behind the pool lock: a block is live once.
            models.UniqueConstraint(
                fields=["pool", "cidr"],
                condition=models.Q(state="allocated"),
                name="network_allocation_unique_live_cidr",
            ),
            # And a request holds at most one live block per region.
            models.UniqueConstraint(
                fields=["request_id", "region"],
                condition=models.Q(state="allocated"),
                name="network_allocation_one_live_per_region",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cidr} for {self.request_id} ({self.state})"


class VlanPool(models.Model):
    """The VLAN ids a payer's Direct Connect connection hands out, one per account."""

    id = models.CharField(max_length=36, primary_key=True)
    payer = models.CharField(
        max_length=10, db_index=True, help_text="The payer's name (no foreign key across contexts)."
    )
    connection_id = models.CharField(max_length=30, unique=True, help_text="e.g. dxcon-fgabc123")
    first_vlan = models.PositiveSmallIntegerField(help_text="The lowest VLAN id given out (1-4094).")
    last_vlan = models.PositiveSmallIntegerField(help_text="The highest VLAN id given out (1-4094).")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["payer", "connection_id"]
        verbose_name = "VLAN pool"

    def __str__(self) -> str:
        return f"{self.connection_id} VLANs {self.first_vlan}-{self.last_vlan} ({self.payer})"


class VlanAllocation(models.Model):
    """A VLAN id of a connection given to one account request's virtual interface."""

    class State(models.TextChoices):
        ALLOCATED = "allocated"
        RELEASED = "released"

    id = models.CharField(max_length=36, primary_key=True)
    pool = models.ForeignKey(VlanPool, on_delete=models.PROTECT, related_name="allocations")
    request_id = models.CharField(max_length=36, db_index=True)
    vlan = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.ALLOCATED)
    allocated_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-allocated_at"]
        verbose_name = "VLAN allocation"
        constraints = [
            models.UniqueConstraint(
                fields=["pool", "vlan"],
                condition=models.Q(state="allocated"),
                name="network_vlan_unique_live_vlan",
            ),
            models.UniqueConstraint(
                fields=["pool", "request_id"],
                condition=models.Q(state="allocated"),
                name="network_vlan_one_live_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"VLAN {self.vlan} for {self.request_id} ({self.state})"
