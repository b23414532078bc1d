from django.urls import path

from buergerbuero.stats import views

app_name = "stats"
urlpatterns = [
    path("", views.page, name="page"),
    path("export.csv", views.export, name="export"),
]
