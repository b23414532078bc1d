from django.urls import path

from buergerbuero.consult import views

app_name = "consult"
urlpatterns = [
    path("w/<str:token>/consultation/", views.citizen, name="citizen"),
    path("w/<str:token>/done/", views.done, name="done"),
    path("staff/consultations/<int:consultation_id>/", views.agent, name="agent"),
    path("staff/consultations/<int:consultation_id>/end/", views.end, name="end"),
]
