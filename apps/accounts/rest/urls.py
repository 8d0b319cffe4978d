from django.urls import path

from apps.accounts.rest.views import (
    AccountCollectionView,
    AccountCommandApproveView,
    AccountCommandCollectionView,
    AccountCommandDetailView,
    AccountCommandRejectView,
    AccountDetailView,
)

urlpatterns = [
    path("accounts", AccountCollectionView.as_view(), name="account-collection"),
    path("accounts/<str:account_id>", AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<str:account_id>/commands", AccountCommandCollectionView.as_view(), name="account-commands"),
    path(
        "accounts/<str:account_id>/commands/<str:command_id>",
        AccountCommandDetailView.as_view(),
        name="account-command-detail",
    ),
    path(
        "accounts/<str:account_id>/commands/<str:command_id>/approve",
        AccountCommandApproveView.as_view(),
        name="account-command-approve",
    ),
    path(
        "accounts/<str:account_id>/commands/<str:command_id>/reject",
        AccountCommandRejectView.as_view(),
        name="account-command-reject",
    ),
]
