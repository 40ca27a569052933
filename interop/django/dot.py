"""django-oauth-toolkit as an OpenID provider and an API, for `tokenscope audit` (interop, not CI).

One file: DOT's token, revocation, introspection and OpenID endpoints under /o/, and one API view
under /api/ that takes DOT's access tokens (DRF's OAuth2Authentication). A public client
"tokenscope" with the password grant and a user demo are created by `setup`. DOT's defaults are
kept (rotation on, no grace period) except the access token's lifetime (ACCESS_TTL seconds,
default 10); GRACE=N sets REFRESH_TOKEN_GRACE_PERIOD_SECONDS.

    python3 dot.py migrate && python3 dot.py setup && python3 dot.py runserver 127.0.0.1:8003 --noreload
"""
import os
import sys

import django
from django.conf import settings

DB = os.environ.get("DB", "/tmp/tokenscope-dot.sqlite3")
KEY = os.environ.get("OIDC_KEY", "/tmp/tokenscope-dot-oidc.pem")


def rsa_key():
    # The ID tokens' signing key: made once, kept beside the database.
    if not os.path.exists(KEY):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(KEY, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(KEY) as f:
        return f.read()


settings.configure(
    DEBUG=False,
    SECRET_KEY="tokenscope-interop-not-a-secret-" + "x" * 32,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "oauth2_provider"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    # timeout: concurrent refreshes wait for SQLite's write lock instead of failing with 500.
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB, "OPTIONS": {"timeout": 20}}},
    USE_TZ=True,
    # A 500's traceback on stderr: the audit reports what the server answered, this says why.
    LOGGING={"version": 1, "handlers": {"stderr": {"class": "logging.StreamHandler"}},
             "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}}},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["oauth2_provider.contrib.rest_framework.OAuth2Authentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    },
    OAUTH2_PROVIDER={
        "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("ACCESS_TTL", "10")),
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": int(os.environ.get("GRACE", "0")),
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": rsa_key(),
        "SCOPES": {"openid": "OpenID Connect", "read": "read"},
    },
)
django.setup()

from django.urls import include, path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class Me(APIView):
    def get(self, request):
        return Response({"user": request.user.get_username()})


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/me/", Me.as_view()),
]

if __name__ == "__main__":
    if sys.argv[1:] == ["setup"]:
        from django.contrib.auth import get_user_model
        from oauth2_provider.models import Application

        User = get_user_model()
        if not User.objects.filter(username="demo").exists():
            User.objects.create_user("demo", password=os.environ.get("DEMO_PASSWORD", "demo"))
        if not Application.objects.filter(client_id="tokenscope").exists():
            Application.objects.create(client_id="tokenscope", name="tokenscope", client_type=Application.CLIENT_PUBLIC,
                                       authorization_grant_type=Application.GRANT_PASSWORD, algorithm=Application.RS256_ALGORITHM)
        sys.exit(0)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
