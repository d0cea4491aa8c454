"""The conversation of ``kedro-gpt chat``: lines in, replies out, slash commands handled here.

A line that starts with ``/`` is a command and never reaches the model (``//text`` sends
``/text``); an unknown command is answered with the list. Empty lines are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

HELP = """commands:
  /help          this list
  /reset         forget the conversation (a --system message stays)
  /system TEXT   a new system message, and forget the conversation
  /quit, /exit   leave (end of input does too)
a line starting with // sends the rest, starting with /, as a message"""

Message = dict[str, str]


def run_chat(
    lines: Iterable[str],
    reply: Callable[[list[Message]], str],
    say: Callable[[str], None],
    system: str | None = None,
) -> None:
    """Talk until ``/quit`` or the end of ``lines``: each message goes to ``reply`` with the
    conversation so far; command output goes to ``say``."""
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    for raw in lines:
        line = raw.rstrip("\r\n")
        text = line.strip()
        if not text:
            continue
        if text.startswith("/") and not text.startswith("//"):
            command, _, arg = text.partition(" ")
            if command in ("/quit", "/exit"):
                return
            if command == "/reset":
                messages = list(start)
                say("(conversation forgotten)")
            elif command == "/system" and arg.strip():
                start = [{"role": "system", "content": arg.strip()}]
                messages = list(start)
                say("(new system message; conversation forgotten)")
            else:
                unknown = command not in ("/help", "/system")
                say((f"unknown command {command}\n" if unknown else "") + HELP)
            continue
        content = text[1:] if text.startswith("//") else line
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": reply(messages)})
