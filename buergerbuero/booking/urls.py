from django.urls import path

from buergerbuero.booking import staff_views, views

app_name = "booking"
urlpatterns = [
    path("a/<str:token>/", views.appointment, name="appointment"),
    path("a/<str:token>/termin.ics", views.calendar_file, name="calendar_file"),
    path("a/<str:token>/cancel/", views.cancel, name="cancel"),
    path("a/<str:token>/reschedule/", views.reschedule, name="reschedule"),
    path("a/<str:token>/join/", views.join, name="join"),
    path("a/<str:token>/forms/<int:template_id>/", views.prepare_form, name="prepare_form"),
    path("staff/appointments/", staff_views.calendar, name="calendar"),
    path("staff/appointments/<int:appointment_id>/no-show/", staff_views.no_show, name="no_show"),
    path("staff/appointments/feed/renew/", staff_views.renew_feed, name="renew_feed"),
    path("calendar/<str:token>.ics", staff_views.feed, name="feed"),
    path("<slug:org_slug>/<slug:office_slug>/book/", views.book, name="book"),
    path("<slug:org_slug>/<slug:office_slug>/book/details/", views.details, name="details"),
]
