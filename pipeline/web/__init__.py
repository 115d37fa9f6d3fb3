"""newsmon web: the dashboard (Starlette + uvicorn + Jinja2), started by ``newsmon web``.

    app.py        routes: pages, the live event stream, write actions
    live.py       one XREAD BLOCK over every alert stream, fanned out to every open page
    pages.py      what each page reads from Redis (the commands' own functions)
    render.py     pure: alert views, highlighted evidence, the subscription form, trend SVGs
    security.py   the token, sessions, CSRF, the Content-Security-Policy
    templates/    Jinja2 templates (autoescaped)
    static/       app.css and app.js, the only script (no inline script anywhere)
"""
