from django.urls import path

from enrollment import views

urlpatterns = [
    path("screening/", views.screening_log, name="screening_log"),
    path("screening/new/", views.screening_new, name="screening_new"),
    path("screening/check/", views.screening_check, name="screening_check"),
    path("screening/<int:pk>/", views.screening_detail, name="screening_detail"),
    path("screening/<int:pk>/edit/", views.screening_edit, name="screening_edit"),
    path("screening/<int:pk>/consent/", views.consent_new, name="consent_new"),
    path("screening/<int:pk>/randomize/", views.randomize, name="randomize"),
    path("screening/<int:pk>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("participants/", views.participant_list, name="participant_list"),
]
