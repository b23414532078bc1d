from django.urls import path

from buergerbuero.events import views

app_name = "events"
urlpatterns = [
    path("events/link/<str:token>/", views.event_by_link, name="link"),
    path("events/register/", views.register, name="register"),
    path("events/join/", views.join, name="join"),
    path("events/registration/<str:token>/", views.registration_page, name="registration"),
    path("events/watch/<str:token>/", views.watch, name="watch"),
    path("staff/events/", views.host_list, name="host_list"),
    path("staff/events/<int:event_id>/", views.host_page, name="host"),
    path("staff/events/<int:event_id>/<slug:action>/", views.host_action, name="host_action"),
    # Before the office's own address (``/<org>/<office>/``): an office cannot be called “events”.
    path("<slug:org_slug>/events/", views.events_list, name="list"),
    path("<slug:org_slug>/events/<int:event_id>/", views.event_page, name="event"),
]
