"""A change page's form as a browser would submit it untouched: the main form's and every
inline formset's values, management forms included. Tests change what they mean to."""

from typing import Any

from django.forms import BaseForm
from django.http import HttpResponse


def _values(form: BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        if value is None or value is False:
            continue  # an unticked checkbox or an empty field sends nothing
        data[bound.html_name] = "on" if value is True else value
    return data


def submitted(page: HttpResponse) -> dict[str, Any]:
    context = page.context  # type: ignore[attr-defined]
    data = _values(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_values(formset.management_form))
        for form in formset.forms:
            data.update(_values(form))
    return data
