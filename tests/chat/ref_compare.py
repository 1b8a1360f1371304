#!/usr/bin/env python3
"""ref_compare.py - renders every template of a folder with every case of
conversations.json (add_generation_prompt on and off) through Python jinja2
(render_ref.py, live) and through `rocmforge template --template-file`, and
compares the bytes. A case where jinja2 raises must make rocmforge fail too.

usage: ref_compare.py DIR [--min-match N] [--list-fail]
  exit 0 when every (template, case) agrees, or - with --min-match - when at
  least N templates agree on all their cases; exit 77 when python3-jinja2 or
  the template folder is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import render_ref  # noqa: E402

BOS, EOS = "<|bos|>", "<|eos|>"


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    folder = args[0]
    min_match = None
    if "--min-match" in args:
        min_match = int(args[args.index("--min-match") + 1])
    if render_ref.jinja2 is None:
        print("SKIP: python3-jinja2 is not installed (scripts/deps.sh installs it)", file=sys.stderr)
        return 77
    if not os.path.isdir(folder):
        print(f"SKIP: template folder {folder} not found", file=sys.stderr)
        return 77
    rf_bin = os.environ.get("RF_BIN")
    if not rf_bin or not os.path.exists(rf_bin):
        print(f"rocmforge binary not found (RF_BIN={rf_bin})", file=sys.stderr)
        return 1
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conv = json.load(f)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jinja"))
    tmp = tempfile.mkdtemp(prefix="rf-chat-")
    n_cases = n_fail = n_both_err = 0
    bad_templates = {}
    for name in names:
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8", newline="") as f:
            template = f.read()
        for case in conv["cases"]:
            tools = conv["tools"] if case.get("tools") else None
            extra = case.get("extra")
            for gen in (True, False):
                n_cases += 1
                label = f"{name} :: {case['name']} gen={int(gen)}"
                try:
                    want = render_ref.render(template, case["messages"], tools, gen, BOS, EOS, extra)
                    want_err = None
                except Exception as e:  # noqa: BLE001
                    want, want_err = None, f"{type(e).__name__}: {e}"
                mpath = os.path.join(tmp, "m.json")
                with open(mpath, "w", encoding="utf-8") as f:
                    json.dump(case["messages"], f, ensure_ascii=False)
                cmd = [rf_bin, "template", "--template-file", path, "--messages", "@" + mpath,
                       "--bos", BOS, "--eos", EOS]
                if tools is not None:
                    tpath = os.path.join(tmp, "t.json")
                    with open(tpath, "w", encoding="utf-8") as f:
                        json.dump(tools, f, ensure_ascii=False)
                    cmd += ["--tools", "@" + tpath]
                if extra:
                    cmd += ["--vars", json.dumps(extra, ensure_ascii=False)]
                if not gen:
                    cmd.append("--no-generation-prompt")
                r = subprocess.run(cmd, capture_output=True, timeout=60)
                got = r.stdout.decode("utf-8", "replace") if r.returncode == 0 else None
                ok = False
                if want_err is not None:
                    ok = r.returncode != 0
                    # a template's own raise_exception must come through verbatim
                    raised = want_err[len("TemplateError: "):] if want_err.startswith("TemplateError: ") else None
                    err_text = r.stderr.decode("utf-8", "replace")
                    if ok and raised and ("raise_exception: " + raised[:200]) not in err_text:
                        ok = False
                        detail = f"raise_exception message differs: want {raised[:200]!r} got {err_text.strip()[:300]!r}"
                    elif ok:
                        n_both_err += 1
                    else:
                        detail = f"jinja2 raised ({want_err}) but rocmforge rendered {len(r.stdout)} bytes"
                elif r.returncode != 0:
                    detail = "rocmforge failed: " + r.stderr.decode("utf-8", "replace").strip()
                elif got != want:
                    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                             min(len(got), len(want)))
                    detail = (f"output differs at char {i}: want {want[max(0, i - 40):i + 40]!r} "
                              f"got {got[max(0, i - 40):i + 40]!r}")
                else:
                    ok = True
                if not ok:
                    n_fail += 1
                    bad_templates.setdefault(name, []).append(f"{label}: {detail}")
    for name, fails in sorted(bad_templates.items()):
        print(f"MISMATCH {name}: {len(fails)} case(s)")
        for line in fails[:3]:
            print("   ", line[:600])
    n_tmpl_ok = len(names) - len(bad_templates)
    print(f"{folder}: {n_tmpl_ok}/{len(names)} templates identical to jinja2 on all cases; "
          f"{n_cases - n_fail}/{n_cases} renders agree ({n_both_err} where both raise)")
    if min_match is not None:
        return 0 if n_tmpl_ok >= min_match else 1
    return 0 if n_fail == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
