from django.urls import path

from safety import views

urlpatterns = [
    path("adverse-events/", views.ae_listing, name="ae_listing"),
    path("adverse-events/summary/", views.ae_summary, name="ae_summary"),
    path("adverse-events/review/", views.review_queue, name="review_queue"),
    path("adverse-events/<int:pk>/", views.ae_detail, name="ae_detail"),
    path("adverse-events/<int:pk>/sign/", views.ae_sign, name="ae_sign"),
]
