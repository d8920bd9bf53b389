from __future__ import annotations

from cocreate.markdown import plain_text, render_markdown


def test_markdown_is_rendered() -> None:
    html = render_markdown("**Crunchy** and [spicy](https://example.com)")
    assert "<strong>Crunchy</strong>" in html
    assert 'href="https://example.com"' in html and "nofollow" in html


def test_script_tags_and_javascript_links_do_not_survive() -> None:
    html = render_markdown(
        "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=y>"
    )
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html  # the link is left as inert text
    assert "&lt;script&gt;" in html  # shown escaped, not dropped silently


def test_plain_text_excerpt_is_short_and_tagless() -> None:
    text = plain_text("# Title\n\n" + "word " * 100, limit=50)
    assert "<" not in text and len(text) <= 50 and text.endswith("…")


def test_plain_text_is_text_not_html_so_templates_escape_it_once() -> None:
    assert plain_text('Fish & <chips> "hot"') == 'Fish & <chips> "hot"'
    assert plain_text("Salt & vinegar <b>crisps</b>") == "Salt & vinegar <b>crisps</b>"
