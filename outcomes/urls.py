from django.urls import path

from outcomes import views

urlpatterns = [
    path(
        "participants/<int:pk>/outcomes/", views.participant_outcomes, name="participant_outcomes"
    ),
    path("outcomes/", views.pooled_outcomes, name="pooled_outcomes"),
]
