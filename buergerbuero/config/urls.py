from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_page
from django.views.i18n import JavaScriptCatalog

from buergerbuero.api.v1 import api
from buergerbuero.embed import views as embed_views
from buergerbuero.offices import media_views
from buergerbuero.offices import views as office_views
from buergerbuero.ops import views as ops_views
from buergerbuero.orgs import views as org_views
from buergerbuero.waiting import views as waiting_views

admin.site.site_header = _("Virtual citizens' office — administration")
admin.site.site_title = _("Virtual citizens' office")
admin.site.index_title = _("Your organisation")

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", org_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("buergerbuero.waiting.urls")),
    path("", include("buergerbuero.consult.urls")),
    path("", include("buergerbuero.booking.urls")),
    path("", include("buergerbuero.events.urls")),
    path("staff/statistics/", include("buergerbuero.stats.urls")),
    path("staff/", include("buergerbuero.staff.urls")),
    path(
        "staff/offices/<int:office_id>/waiting-preview/", office_views.waiting_preview, name="waiting_preview"
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # The catalogue changes only with a deployment; building it costs ~80 ms per page view.
    path("i18n/js/", cache_page(24 * 3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    # Uploaded logos and waiting-area media (public), with a safe type and a sandbox policy
    # (offices.media_views). Consultation documents are never served from here.
    re_path(r"^media/(?P<folder>branding|waiting)/(?P<name>[^/]+)$", media_views.public_media, name="media"),
    path("embed.js", embed_views.snippet, name="embed_snippet"),
    path("embed/<slug:org_slug>/", embed_views.entry, name="embed"),
    path("embed/<slug:org_slug>/<slug:office_slug>/", embed_views.entry, name="embed_office"),
    path("<slug:org_slug>/", office_views.directory, name="directory"),
    path("<slug:org_slug>/<slug:office_slug>/", office_views.office_detail, name="office"),
    path("<slug:org_slug>/<slug:office_slug>/enter/", waiting_views.enter, name="enter"),
]
