"""Pages for people: autoescaped Jinja2 templates, their words, the user bar, the landing links."""
