#!/usr/bin/env python3
"""render_ref.py - the reference chat-template renderer: Python jinja2
configured the way Hugging Face transformers renders `chat_template`
(transformers/utils/chat_template_utils.py):

  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[generation tag, loopcontrols])
  tojson  -> json.dumps(x, ensure_ascii=False, indent=, separators=, sort_keys=)
  globals -> raise_exception(msg), strftime_now(fmt)
  render(messages=..., tools=..., add_generation_prompt=..., bos_token=...,
         eos_token=..., **extra)

As a program: render_ref.py CASE.json prints the rendering of one case
({"template": str, "messages": [...], "tools": [...]|null,
  "add_generation_prompt": bool, "bos_token": str, "eos_token": str,
  "extra": {...}}) or exits 3 with the error on stderr.
"""
import json
import sys
from datetime import datetime

try:
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:  # the caller decides whether that is a skip
    jinja2 = None


def _make_env():
    class GenerationTag(Extension):
        """`{% generation %}...{% endgeneration %}` renders its body."""
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_ENV = None
_CACHE = {}


def render(template, messages, tools=None, add_generation_prompt=True,
           bos_token="", eos_token="", extra=None):
    """Returns the rendered string; raises on template errors."""
    global _ENV
    if _ENV is None:
        _ENV = _make_env()
    t = _CACHE.get(template)
    if t is None:
        t = _CACHE[template] = _ENV.from_string(template)
    return t.render(messages=messages, tools=tools,
                    add_generation_prompt=add_generation_prompt,
                    bos_token=bos_token, eos_token=eos_token, **(extra or {}))


def main():
    if jinja2 is None:
        print("python3-jinja2 is not installed", file=sys.stderr)
        return 77
    with open(sys.argv[1], encoding="utf-8") as f:
        case = json.load(f)
    try:
        out = render(case["template"], case["messages"], case.get("tools"),
                     case.get("add_generation_prompt", True), case.get("bos_token", ""),
                     case.get("eos_token", ""), case.get("extra"))
    except Exception as e:  # noqa: BLE001 - any template failure is "error"
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 3
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
