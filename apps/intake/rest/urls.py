from django.urls import path

from apps.intake.rest.views import AccountRequestCollectionView, AccountRequestDetailView

urlpatterns = [
    path("account-requests", AccountRequestCollectionView.as_view(), name="account-request-collection"),
    path("account-requests/<str:request_id>", AccountRequestDetailView.as_view(), name="account-request-detail"),
]
