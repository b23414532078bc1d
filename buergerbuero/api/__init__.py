"""The public read API (``/api/v1/``): it stands on top of the apps whose data it shows
(offices, booking, waiting), so none of them imports it. :mod:`buergerbuero.api.v1` builds the
API object; each module beside it is one router."""
