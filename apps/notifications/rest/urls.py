from django.urls import path

from apps.notifications.rest.steps import StepCompleteView, StepFailView
from apps.notifications.rest.views import WebhookCollectionView, WebhookDeliveriesView, WebhookDetailView

urlpatterns = [
    path("webhooks", WebhookCollectionView.as_view(), name="webhook-collection"),
    path("webhooks/<str:subscription_id>", WebhookDetailView.as_view(), name="webhook-detail"),
    path("steps/<str:token>/complete", StepCompleteView.as_view(), name="step-callback-complete"),
    path("steps/<str:token>/fail", StepFailView.as_view(), name="step-callback-fail"),
    path("webhooks/<str:subscription_id>/deliveries", WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
]
