#!/usr/bin/env python3
"""snippet_compare.py - Jinja semantics, one feature per snippet: every
snippet of snippets.txt ("#### name" headers) is rendered by Python jinja2
(render_ref.py, live) and by `rocmforge template --template-file`, with the
same conversation and tools; outputs must be byte-identical, and a snippet
jinja2 rejects must be rejected by rocmforge too. Snippets named crlf_*
are fed with \\r\\n line ends. Exit 77 when python3-jinja2 is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import render_ref  # noqa: E402


def load_snippets(path):
    snippets, name, lines = [], None, []
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line.startswith("#### "):
                if name:
                    snippets.append((name, "\n".join(lines)))
                name, lines = line[5:].strip(), []
            else:
                lines.append(line)
    if name:
        snippets.append((name, "\n".join(lines)))
    return snippets


def main():
    if render_ref.jinja2 is None:
        print("SKIP: python3-jinja2 is not installed (scripts/deps.sh installs it)", file=sys.stderr)
        return 77
    rf_bin = os.environ.get("RF_BIN")
    if not rf_bin or not os.path.exists(rf_bin):
        print(f"rocmforge binary not found (RF_BIN={rf_bin})", file=sys.stderr)
        return 1
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conv = json.load(f)
    cases = {c["name"]: c for c in conv["cases"]}
    messages = cases["tool_call_roundtrip"]["messages"] + cases["content_parts"]["messages"]
    tools = conv["tools"]
    tmp = tempfile.mkdtemp(prefix="rf-snip-")
    mpath, tpath = os.path.join(tmp, "m.json"), os.path.join(tmp, "t.json")
    with open(mpath, "w", encoding="utf-8") as f:
        json.dump(messages, f, ensure_ascii=False)
    with open(tpath, "w", encoding="utf-8") as f:
        json.dump(tools, f, ensure_ascii=False)
    n_fail = n_err = 0
    snippets = load_snippets(os.path.join(HERE, "snippets.txt"))
    for name, text in snippets:
        if name.startswith("crlf"):
            text = text.replace("\n", "\r\n")
        spath = os.path.join(tmp, "s.jinja")
        with open(spath, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        try:
            want, want_err = render_ref.render(text, messages, tools, True, "<s>", "</s>"), None
        except Exception as e:  # noqa: BLE001
            want, want_err = None, f"{type(e).__name__}: {e}"
        r = subprocess.run([rf_bin, "template", "--template-file", spath, "--messages", "@" + mpath,
                            "--tools", "@" + tpath, "--bos", "<s>", "--eos", "</s>"],
                           capture_output=True, timeout=60)
        err = r.stderr.decode("utf-8", "replace").strip()
        if want_err is not None:
            if r.returncode == 0:
                n_fail += 1
                print(f"FAIL {name}: jinja2 raised ({want_err}) but rocmforge rendered "
                      f"{r.stdout.decode('utf-8', 'replace')!r}")
            else:
                n_err += 1
                print(f"ok   {name} (both reject) jinja2: {want_err[:90]} | rocmforge: {err[:120]}")
            continue
        got = r.stdout.decode("utf-8", "replace") if r.returncode == 0 else None
        if got != want:
            n_fail += 1
            print(f"FAIL {name}:\n  want {want!r}\n  got  {got!r}\n  {err}")
        else:
            print(f"ok   {name}")
    print(f"{len(snippets) - n_fail}/{len(snippets)} snippets agree with jinja2 ({n_err} rejected by both)")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
