"""A stock Django REST framework API with djangorestframework-simplejwt, for tokenscope's
interop checks (`tokenscope audit`, `tokenscope fire`). One file: settings, URLs and one view.

    python3 server.py PORT            # simplejwt as shipped: no rotation
    ROTATE=1 python3 server.py PORT   # ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION

Users: demo / demo. Access tokens live ACCESS_TTL seconds (default 5), refresh tokens a day.
Listens on 127.0.0.1 only. The database is a SQLite file in DATA_DIR (default: a temp dir).
"""
import os
import sys
import tempfile
from datetime import timedelta

import django
from django.conf import settings

ROTATE = os.environ.get("ROTATE") == "1"
DATA_DIR = os.environ.get("DATA_DIR") or tempfile.mkdtemp(prefix="tokenscope-django-")

apps = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt",
]
if ROTATE:
    apps.append("rest_framework_simplejwt.token_blacklist")

settings.configure(
    DEBUG=False,
    SECRET_KEY="tokenscope-interop-not-a-secret-0123456789abcdef0123456789",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=apps,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(DATA_DIR, "db.sqlite3")}},
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    },
    SIMPLE_JWT={
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("ACCESS_TTL", "5"))),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
        "ROTATE_REFRESH_TOKENS": ROTATE,
        "BLACKLIST_AFTER_ROTATION": ROTATE,
    },
)
django.setup()

from django.urls import path  # noqa: E402
from rest_framework.decorators import api_view  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView  # noqa: E402


@api_view(["GET"])
def me(request):
    return Response({"username": request.user.get_username()})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/me/", me),
    path("api/protected/", me),
]


def main():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    if not User.objects.filter(username="demo").exists():
        User.objects.create_user("demo", password="demo")
    port = sys.argv[1] if len(sys.argv) > 1 else "8001"
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, verbosity=0)


if __name__ == "__main__":
    main()
