from django.urls import path

from apps.notifications.rest.views import WebhookCollectionView, WebhookDeliveriesView, WebhookDetailView

urlpatterns = [
    path("webhooks", WebhookCollectionView.as_view(), name="webhook-collection"),
    path("webhooks/<str:subscription_id>", WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:subscription_id>/deliveries", WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
]
