"""The Gradio chat UI of corpus-qa, built on the public `qa` API only.

`build_app(engine)` returns the gr.Blocks app; `launch(engine, host=..., port=...)` serves
it. Both load gradio lazily, so importing `ui` (and running `qa --help`) stays instant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ui import app

        return getattr(app, name)
    raise AttributeError(f"module 'ui' has no attribute {name!r}")
