"""The app's routes, one router per endpoint family."""

from kedro_gpt.serving.routes import admin, chat, classify, completions, feedback, info, playground

ROUTERS = (
    info.router,
    completions.router,
    chat.router,
    classify.router,
    feedback.router,
    admin.router,
    playground.router,
)

__all__ = ["ROUTERS"]
