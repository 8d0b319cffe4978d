from django.urls import path

from apps.intake.rest.views import (
    AccountRequestApproveView,
    AccountRequestCancelView,
    AccountRequestCollectionView,
    AccountRequestDetailView,
    AccountRequestRejectView,
    AccountRequestRetryView,
)

urlpatterns = [
    path("account-requests", AccountRequestCollectionView.as_view(), name="account-request-collection"),
    path("account-requests/<str:request_id>", AccountRequestDetailView.as_view(), name="account-request-detail"),
    path("account-requests/<str:request_id>/retry", AccountRequestRetryView.as_view(), name="account-request-retry"),
    path("account-requests/<str:request_id>/cancel", AccountRequestCancelView.as_view(), name="account-request-cancel"),
    path(
        "account-requests/<str:request_id>/approve", AccountRequestApproveView.as_view(), name="account-request-approve"
    ),
    path("account-requests/<str:request_id>/reject", AccountRequestRejectView.as_view(), name="account-request-reject"),
]
