from django.urls import path

from buergerbuero.waiting import console_views, views

app_name = "waiting"
urlpatterns = [
    path("w/<str:token>/", views.room, name="room"),
    path("w/<str:token>/area/", views.area, name="area"),
    path("w/<str:token>/confirm/", views.confirm, name="confirm"),
    path("w/<str:token>/leave/", views.leave, name="leave"),
    path("staff/console/", console_views.console, name="console"),
    path("staff/console/presence/", console_views.presence, name="presence"),
    path("staff/console/call-next/", console_views.call_next, name="call_next"),
    path("staff/console/tickets/<int:ticket_id>/call/", console_views.call_ticket, name="call_ticket"),
    path("staff/console/tickets/<int:ticket_id>/remove/", console_views.remove, name="remove"),
    path("staff/console/tickets/<int:ticket_id>/transfer/", console_views.transfer, name="transfer"),
    path("staff/console/offices/<int:office_id>/announce/", console_views.announce, name="announce"),
    path(
        "staff/console/offices/<int:office_id>/announce/clear/",
        console_views.clear_announcement,
        name="clear_announcement",
    ),
    path("staff/console/offices/<int:office_id>/open-now/", console_views.open_now, name="open_now"),
    path("staff/console/offices/<int:office_id>/close-now/", console_views.close_now, name="close_now"),
    path("staff/console/tickets/<int:ticket_id>/undo-remove/", console_views.undo_remove, name="undo_remove"),
]
