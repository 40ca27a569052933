"""A stock Django REST framework + simplejwt API for `tokenscope audit` (interop, not CI).

One file, no project skeleton: settings, URLs and one protected view. simplejwt's defaults
are kept except the access token's lifetime (ACCESS_TTL seconds, default 10, so that the
audit can wait for its expiry). ROTATE=1 turns on ROTATE_REFRESH_TOKENS with the blacklist
app and BLACKLIST_AFTER_ROTATION, as simplejwt's docs describe rotation.

    python3 simplejwt.py migrate && python3 simplejwt.py demo_user && python3 simplejwt.py runserver 127.0.0.1:8001 --noreload
"""
import os
import sys
from datetime import timedelta

import django
from django.conf import settings

ROTATE = os.environ.get("ROTATE") == "1"
ACCESS_TTL = int(os.environ.get("ACCESS_TTL", "10"))
DB = os.environ.get("DB", "/tmp/tokenscope-simplejwt.sqlite3")

apps = ["django.contrib.auth", "django.contrib.contenttypes", "rest_framework"]
if ROTATE:
    apps.append("rest_framework_simplejwt.token_blacklist")

settings.configure(
    DEBUG=False,
    SECRET_KEY="tokenscope-interop-not-a-secret-" + "x" * 32,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=apps,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    # timeout: concurrent refreshes wait for SQLite's write lock instead of failing with 500.
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB, "OPTIONS": {"timeout": 20}}},
    USE_TZ=True,
    # A 500's traceback on stderr: the audit reports what the server answered, this says why.
    LOGGING={"version": 1, "handlers": {"stderr": {"class": "logging.StreamHandler"}},
             "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}}},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    },
    SIMPLE_JWT={
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TTL),
        "ROTATE_REFRESH_TOKENS": ROTATE,
        "BLACKLIST_AFTER_ROTATION": ROTATE,
    },
)
django.setup()

from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView  # noqa: E402


class Protected(APIView):
    def get(self, request):
        return Response({"message": "You are authenticated", "user": request.user.get_username()})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/protected/", Protected.as_view()),
]

if __name__ == "__main__":
    if sys.argv[1:] == ["demo_user"]:
        from django.contrib.auth import get_user_model

        User = get_user_model()
        if not User.objects.filter(username="demo").exists():
            User.objects.create_user("demo", password=os.environ.get("DEMO_PASSWORD", "demo"))
        sys.exit(0)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
