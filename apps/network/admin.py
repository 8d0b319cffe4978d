from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString

from apps.kernel.columns import age_column, short_id_column
from apps.kernel.errors import ApplicationError
from apps.kernel.pills import usage_bar
from apps.kernel.readonly import ReadOnlyAdmin
from apps.network.models import Allocation, IpPool, VlanAllocation, VlanPool
from apps.network.selectors import pool_utilisation
from apps.network.services import pool_check, pool_create
from apps.network.vlans import VLAN_RANGE, vlan_pool_create


class IpPoolForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = IpPool
        fields = ("payer", "region", "cidr", "name")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if not self.instance.pk and all(data.get(f) for f in ("payer", "region", "cidr")):
            try:
                if pool_check(payer=data["payer"], region=data["region"], cidr=data["cidr"]) is not None:
                    raise forms.ValidationError("This pool exists already.")
            except ApplicationError as error:
                raise forms.ValidationError(error.message) from error
        return data


@admin.register(IpPool)
class IpPoolAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = IpPoolForm
    list_display = ("cidr", "name", "payer", "region", "utilisation", age_column("created_at"))
    list_filter = ("payer", "region")
    search_fields = ("cidr", "name", "payer")
    readonly_fields = ("id", "created_at", "utilisation")

    def get_readonly_fields(self, request: HttpRequest, obj: IpPool | None = None) -> Any:
        # A pool's range cannot change under its allocations: add another pool instead.
        if obj is not None:
            return (*self.readonly_fields, "payer", "region", "cidr")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: IpPool, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = pool_create(payer=obj.payer, region=obj.region, cidr=obj.cidr, name=obj.name)
        obj.pk = created.id
        obj.refresh_from_db()

    @admin.display(description="utilisation")
    def utilisation(self, obj: IpPool) -> str | SafeString:
        if not obj.pk:
            return "-"
        [usage] = pool_utilisation(pool_ids=[obj.pk])
        return usage_bar(usage.fraction, f"{usage.allocated_addresses} of {usage.total_addresses} addresses")


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = (
        "cidr",
        short_id_column("request_id", description="request"),
        "pool",
        "state",
        age_column("allocated_at", description="allocated"),
        age_column("released_at", description="released"),
    )
    list_filter = ("state", "pool")
    search_fields = ("cidr", "request_id")
    readonly_fields = [f.name for f in Allocation._meta.fields]


class VlanPoolForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = VlanPool
        fields = ("payer", "connection_id", "first_vlan", "last_vlan")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        first, last = data.get("first_vlan"), data.get("last_vlan")
        if self.instance.pk or first is None or last is None:
            return data
        if first not in VLAN_RANGE or last not in VLAN_RANGE or first > last:
            raise forms.ValidationError(f"A VLAN pool is a range within 1-4094, not {first}-{last}.")
        return data


@admin.register(VlanPool)
class VlanPoolAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = VlanPoolForm
    list_display = ("connection_id", "payer", "first_vlan", "last_vlan", age_column("created_at"))
    list_filter = ("payer",)
    search_fields = ("connection_id", "payer")
    fields = ("payer", "connection_id", "first_vlan", "last_vlan")

    def get_readonly_fields(self, request: HttpRequest, obj: VlanPool | None = None) -> Any:
        # A pool's range cannot change under its allocations.
        return ("payer", "connection_id", "first_vlan", "last_vlan") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: VlanPool, form: Any, change: bool) -> None:
        if change:
            return
        created = vlan_pool_create(
            payer=obj.payer, connection_id=obj.connection_id, first_vlan=obj.first_vlan, last_vlan=obj.last_vlan
        )
        obj.pk = created.id
        obj.refresh_from_db()


@admin.register(VlanAllocation)
class VlanAllocationAdmin(ReadOnlyAdmin):
    list_display = (
        "vlan",
        short_id_column("request_id", description="request"),
        "pool",
        "state",
        age_column("allocated_at", description="allocated"),
        age_column("released_at", description="released"),
    )
    list_filter = ("state", "pool")
    search_fields = ("request_id",)
    readonly_fields = [f.name for f in VlanAllocation._meta.fields]
