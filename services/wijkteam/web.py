"""The inbox web app: server-rendered pages (Starlette + Jinja2), no script, no external assets.

Security in one place (ADR 0018):
- every response carries a strict Content-Security-Policy (`default-src 'none'`, the one
  stylesheet from 'self', no inline script or style), `nosniff`, no referrer, no framing, and
  `Cache-Control: no-store`, so a page with an identity is not kept by the browser;
- every form carries the session's CSRF token and every POST is refused without it; a POST whose
  Origin is another site is refused too;
- the session cookie is HttpOnly, SameSite=Strict, and Secure unless the app serves loopback;
- team members log in with a local account (argon2id, throttled) or, when configured, the
  trusted reverse proxy's header; the member's team-local id goes with every matcher call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from domain.codes import load_codes
from services.common.logging import get_logger
from services.wijkteam.accounts import AccountError, AccountStore, LoginThrottle, check_user_id
from services.wijkteam.i18n import LANGUAGES, Translator, pick_language
from services.wijkteam.inbox import DECISIONS, OUTCOMES, TABS, Inbox, InboxError, NotFound
from services.wijkteam.sessions import COOKIE, Session, SessionStore
from services.wijkteam.settings import InboxSettings

HERE = Path(__file__).parent
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response


class InboxApp:
    """The routes, with the settings, the inbox core, accounts, sessions and throttle."""

    def __init__(self, settings: InboxSettings, inbox: Inbox, *,
                 accounts: AccountStore | None = None, throttle: LoginThrottle | None = None,
                 sessions: SessionStore | None = None) -> None:
        self.settings = settings
        self.inbox = inbox
        self.accounts = accounts or AccountStore(settings.users_file)
        self.throttle = throttle or LoginThrottle(settings.login.max_failures,
                                                  settings.login.lockout_seconds)
        self.sessions = sessions or SessionStore(settings.session_idle_minutes * 60)
        self.secure_cookie = not settings.on_loopback
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]), trim_blocks=True,
                                     lstrip_blocks=True)
        self.log = get_logger(component="inbox")

    # ------------------------------------------------------------------ plumbing

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/language", self.language, methods=["POST"]),
            Route("/alerts", self.alert_list),
            Route("/alerts/{alert_id}", self.alert_page),
            Route("/alerts/{alert_id}/view", self.view_identity, methods=["POST"]),
            Route("/alerts/{alert_id}/assign", self.assign, methods=["POST"]),
            Route("/alerts/{alert_id}/decide", self.decide, methods=["POST"]),
            Route("/alerts/{alert_id}/close", self.close, methods=["POST"]),
            Route("/static/inbox.css", self.stylesheet),
        ]

    def app(self) -> Starlette:
        return Starlette(routes=self.routes(), middleware=[Middleware(SecurityHeaders)])

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def _proxy_user(self, request: Request) -> str | None:
        """The user named by the trusted reverse proxy, or None."""
        if self.settings.auth.mode != "proxy":
            return None
        client = request.client.host if request.client else ""
        try:
            trusted = any(ipaddress.ip_address(client) == ipaddress.ip_address(p)
                          for p in self.settings.auth.trusted_proxies)
        except ValueError:
            trusted = False
        value = request.headers.get(self.settings.auth.proxy_header, "")
        if not trusted or not value:
            return None
        try:
            return check_user_id(value.strip())
        except AccountError:
            return None

    def _current(self, request: Request) -> tuple[Session | None, Session | None]:
        """(the session, whether new, the logged-in session or None)."""
        session = self._session(request)
        if self.settings.auth.mode == "proxy":
            user = self._proxy_user(request)
            if user is None:
                return session, None
            if session is None or session.user != user:
                fresh = self.sessions.new(session.language if session else self.settings.language)
                session = self.sessions.login(fresh, user)
            return session, session
        return session, (session if session is not None and session.user else None)

    def _set_cookie(self, response: Response, session: Session) -> Response:
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict",
                            secure=self.secure_cookie, path="/")
        return response

    def render(self, request: Request, session: Session | None, template: str,
               status: int = 200, **context: Any) -> HTMLResponse:
        language = session.language if session else self.settings.language
        t = Translator(language)
        html = self.templates.get_template(template).render(
            t=t, lang=t.language, session=session, user=session.user if session else None,
            csrf=session.csrf if session else "", proxy_mode=self.settings.auth.mode == "proxy",
            path=request.url.path, other_language=next(x for x in LANGUAGES if x != t.language),
            **context)
        response = HTMLResponse(html, status_code=status)
        if session is not None:
            self._set_cookie(response, session)
        return response

    async def _form(self, request: Request, session: Session | None) -> dict[str, str] | None:
        """The POSTed form if its CSRF token is the session's and it comes from this site."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                return None
        form = await request.form()
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        if session is None or not session.csrf_ok(values.get("csrf", "")):
            return None
        return values

    def _refuse_csrf(self, request: Request, session: Session | None) -> HTMLResponse:
        self.log.warning("csrf_refused", path=request.url.path)
        return self.render(request, session, "error.html", status=403, message_key="error.csrf")

    def _to_login(self) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------------ login

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/alerts", status_code=303)

    async def login_page(self, request: Request) -> Response:
        session, user = self._current(request)
        if user is not None:
            return RedirectResponse("/alerts", status_code=303)
        if session is None:
            session = self.sessions.new(self.settings.language)
        return self.render(request, session, "login.html")

    async def login(self, request: Request) -> Response:
        session = self._session(request)
        form = await self._form(request, session)
        if form is None or session is None:
            return self._refuse_csrf(request, session)
        if self.settings.auth.mode == "proxy":
            return self.render(request, session, "login.html", status=400)
        user = form.get("user", "").strip()
        address = request.client.host if request.client else ""
        if self.throttle.blocked(user, address):
            self.log.warning("login_throttled")
            return self.render(request, session, "login.html", status=429,
                               error_key="login.throttled")
        if not self.accounts.verify(user, form.get("password", "")):
            self.throttle.failed(user, address)
            self.log.info("login_failed")
            return self.render(request, session, "login.html", status=401,
                               error_key="login.failed")
        self.throttle.succeeded(user, address)
        fresh = self.sessions.login(session, user)
        self.log.info("login", user=user)
        return self._set_cookie(RedirectResponse("/alerts", status_code=303), fresh)

    async def logout(self, request: Request) -> Response:
        session = self._session(request)
        form = await self._form(request, session)
        if form is None or session is None:
            return self._refuse_csrf(request, session)
        self.sessions.end(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def language(self, request: Request) -> Response:
        session = self._session(request)
        form = await self._form(request, session)
        if form is None or session is None:
            return self._refuse_csrf(request, session)
        session.language = pick_language(form.get("language"))
        back = form.get("next", "/alerts")
        if not back.startswith("/") or back.startswith("//"):
            back = "/alerts"
        return RedirectResponse(back, status_code=303)

    # ------------------------------------------------------------------ pages

    async def alert_list(self, request: Request) -> Response:
        session, user = self._current(request)
        if session is None or user is None or session.user is None:
            return self._to_login()
        tab = request.query_params.get("tab", "new")
        if tab not in TABS:
            tab = "new"
        try:
            alerts = self.inbox.list_alerts(session.user, tab)
        except InboxError as exc:
            return self._matcher_error(request, session, exc)
        return self.render(request, session, "alerts.html", alerts=alerts, tab=tab,
                           tabs=list(TABS))

    async def alert_page(self, request: Request) -> Response:
        session, user = self._current(request)
        if session is None or user is None or session.user is None:
            return self._to_login()
        name = f"alerts/{request.path_params['alert_id']}"
        reason = session.view_reasons.get(name, "")
        try:
            detail = self.inbox.alert(session.user, name, view_reason=reason)
        except InboxError as exc:
            return self._matcher_error(request, session, exc)
        flash = request.query_params.get("done", "")
        codes = load_codes()
        return self.render(
            request, session, "alert.html", alert=detail, done=flash if flash in
            ("assigned", "reviewed", "closed") else "", decisions=list(DECISIONS),
            outcomes=list(OUTCOMES), view_reasons=list(codes.view_reason),
            review_reasons=list(codes.review_decision_reason),
            error_key=request.query_params.get("error", ""))

    async def view_identity(self, request: Request) -> Response:
        """The first view of an identity: remember the coded reason, then show the page."""
        return await self._act(request, self._remember_reason)

    def _remember_reason(self, session: Session, name: str, form: dict[str, str]) -> str:
        reason = form.get("view_reason", "")
        load_codes().view_reason.check(reason, "view_reason")
        session.view_reasons[name] = reason
        return ""

    async def assign(self, request: Request) -> Response:
        def act(session: Session, name: str, form: dict[str, str]) -> str:
            assert session.user is not None
            self.inbox.assign(session.user, name, form.get("regisseur", "").strip())
            return "assigned"

        return await self._act(request, act)

    async def decide(self, request: Request) -> Response:
        def act(session: Session, name: str, form: dict[str, str]) -> str:
            assert session.user is not None
            self.inbox.decide(session.user, name, form.get("decision", ""),
                              form.get("reason", ""))
            return "reviewed"

        return await self._act(request, act)

    async def close(self, request: Request) -> Response:
        def act(session: Session, name: str, form: dict[str, str]) -> str:
            assert session.user is not None
            self.inbox.close_alert(session.user, name, form.get("outcome", ""))
            return "closed"

        return await self._act(request, act)

    async def _act(self, request: Request,
                   action: Callable[[Session, str, dict[str, str]], str]) -> Response:
        """POST an action on an alert: CSRF, login, then redirect back to its page (PRG)."""
        session, user = self._current(request)
        form = await self._form(request, session)
        if form is None or session is None:
            return self._refuse_csrf(request, session)
        if user is None or session.user is None:
            return self._to_login()
        alert_id = request.path_params["alert_id"]
        target = f"/alerts/{alert_id}"
        try:
            done = action(session, f"alerts/{alert_id}", form)
        except NotFound:
            return self.render(request, session, "error.html", status=404,
                               message_key="error.not_found")
        except (InboxError, AccountError, ValueError) as exc:
            self.log.info("action_refused", path=request.url.path, reason=str(exc)[:200])
            return RedirectResponse(f"{target}?{urlencode({'error': 'error.invalid'})}",
                                    status_code=303)
        query = f"?{urlencode({'done': done})}" if done else ""
        return RedirectResponse(f"{target}{query}", status_code=303)

    def _matcher_error(self, request: Request, session: Session, exc: InboxError) -> Response:
        if isinstance(exc, NotFound):
            return self.render(request, session, "error.html", status=404,
                               message_key="error.not_found")
        self.log.warning("matcher_error", error=str(exc)[:300])
        return self.render(request, session, "error.html", status=502,
                           message_key="error.matcher", detail=str(exc))

    async def stylesheet(self, request: Request) -> Response:
        return FileResponse(HERE / "static" / "inbox.css", media_type="text/css")


def create_app(settings: InboxSettings, inbox: Inbox, **kwargs: Any) -> Starlette:
    return InboxApp(settings, inbox, **kwargs).app()
