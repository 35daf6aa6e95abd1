from django.urls import path

from visits import views

urlpatterns = [
    path("visits/calendar/", views.calendar, name="visit_calendar"),
    path("lots/", views.lot_list, name="lot_list"),
    path("lots/new/", views.lot_new, name="lot_new"),
    path("lots/<int:pk>/", views.lot_detail, name="lot_detail"),
]
