"""Server-rendered dashboard: Jinja2 templates, inline SVG charts, static CSS/JS."""
