"""Sharing: the pictures social networks show with a shared link (`card`, `serve`).

Features build a `Card` from what they show and answer with `serve.card_response`; this
package knows nothing of campaigns or ideas.
"""
