"""The app's routes, one router per endpoint family."""

from kedro_gpt.serving.routes import chat, classify, completions, info

ROUTERS = (info.router, completions.router, chat.router, classify.router)

__all__ = ["ROUTERS"]
