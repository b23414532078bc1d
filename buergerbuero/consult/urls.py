from django.urls import path

from buergerbuero.consult import filling_views, views

app_name = "consult"
urlpatterns = [
    path("w/<str:token>/consultation/", views.citizen, name="citizen"),
    path("w/<str:token>/done/", views.done, name="done"),
    path("staff/consultations/current/", views.current, name="current"),
    path("staff/consultations/<int:consultation_id>/", views.agent, name="agent"),
    path("staff/consultations/<int:consultation_id>/end/", views.end, name="end"),
    path("staff/consultations/<int:consultation_id>/interpreter/", views.invite_interpreter, name="invite"),
    path(
        "staff/consultations/<int:consultation_id>/interpreter/remove/",
        views.remove_interpreter,
        name="remove_interpreter",
    ),
    path("interpret/done/", views.interpreter_done, name="interpreter_done"),
    path("interpret/consultations/<int:consultation_id>/", views.interpreter, name="interpreter"),
    path("interpret/<str:secret>/", views.interpreter_invite, name="interpreter_invite"),
    path("consultations/<int:consultation_id>/documents/", views.share_document, name="share_document"),
    path(
        "consultations/<int:consultation_id>/documents/<int:document_id>/",
        views.download_document,
        name="document",
    ),
    path(
        "consultations/<int:consultation_id>/forms/<int:form_id>/pdf/",
        filling_views.download,
        name="form_pdf",
    ),
    path("staff/forms/", filling_views.inbox, name="form_inbox"),
    path("staff/forms/<int:form_id>/", filling_views.inbox_form, name="form_inbox_form"),
    path("staff/forms/<int:form_id>/status/", filling_views.inbox_status, name="form_inbox_status"),
]
