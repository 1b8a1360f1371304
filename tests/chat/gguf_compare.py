#!/usr/bin/env python3
"""gguf_compare.py - `rocmforge template -m FILE` against jinja2 for every
GGUF in RF_MODELS_DIR: the template is tokenizer.chat_template (or, for files
without one, the fallback printed by `rocmforge template --print-fallback`),
bos/eos are tokenizer.ggml.tokens[bos_token_id / eos_token_id]. The GGUF
metadata is read here with a small independent reader (format spec:
github.com/ggml-org/ggml docs/gguf.md), so the CLI's GGUF path is checked too.
Exit 77 when jinja2 or the models are missing.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import render_ref  # noqa: E402

# value type ids -> struct format (fixed-size scalars)
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
WANT = {"tokenizer.chat_template", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.tokens"}


def read_meta(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    version = struct.unpack_from("<I", data, 4)[0]
    if version < 2:
        raise ValueError("GGUF v1 not handled by this reader")
    n_kv = struct.unpack_from("<Q", data, 16)[0]
    pos = 24

    def rd_str(p):
        n = struct.unpack_from("<Q", data, p)[0]
        return data[p + 8:p + 8 + n].decode("utf-8", "replace"), p + 8 + n

    def rd_val(t, p, keep):
        if t in SCALAR:
            fmt = "<" + SCALAR[t]
            return struct.unpack_from(fmt, data, p)[0], p + struct.calcsize(fmt)
        if t == 8:
            return rd_str(p)
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, p)
            p += 12
            if et in SCALAR and not keep:
                return None, p + n * struct.calcsize("<" + SCALAR[et])
            out = []
            for _ in range(n):
                v, p = rd_val(et, p, keep)
                if keep:
                    out.append(v)
            return out, p
        raise ValueError(f"bad value type {t}")

    meta = {}
    for _ in range(n_kv):
        key, pos = rd_str(pos)
        t = struct.unpack_from("<I", data, pos)[0]
        v, pos = rd_val(t, pos + 4, key in WANT)
        if key in WANT:
            meta[key] = v
    return meta


CONVS = ["system_user", "multi_turn", "tool_call_roundtrip"]


def main():
    if render_ref.jinja2 is None:
        print("SKIP: python3-jinja2 is not installed", file=sys.stderr)
        return 77
    models = os.environ.get("RF_MODELS_DIR", os.path.join(HERE, "../../../shared/models"))
    if not os.path.isdir(models):
        print(f"SKIP: models folder {models} not found", file=sys.stderr)
        return 77
    rf_bin = os.environ.get("RF_BIN")
    fallback = subprocess.run([rf_bin, "template", "--print-fallback"], capture_output=True,
                              check=True).stdout.decode("utf-8")
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conv = json.load(f)
    cases = {c["name"]: c for c in conv["cases"]}
    tmp = tempfile.mkdtemp(prefix="rf-gguf-")
    n_ok = n_fail = n_with = n_fallback = 0
    for name in sorted(os.listdir(models)):
        if not name.endswith(".gguf"):
            continue
        path = os.path.join(models, name)
        try:
            meta = read_meta(path)
        except (ValueError, struct.error) as e:
            print(f"skip {name}: {e}")
            continue
        tmpl = meta.get("tokenizer.chat_template")
        if tmpl is None:
            tmpl, n_fallback = fallback, n_fallback + 1
        else:
            n_with += 1
        toks = meta.get("tokenizer.ggml.tokens") or []

        def tok(key):
            i = meta.get(key)
            return toks[i] if i is not None and 0 <= i < len(toks) else ""
        bos, eos = tok("tokenizer.ggml.bos_token_id"), tok("tokenizer.ggml.eos_token_id")
        for cname in CONVS:
            case = cases[cname]
            tools = conv["tools"] if case.get("tools") else None
            try:
                want = render_ref.render(tmpl, case["messages"], tools, True, bos, eos)
            except Exception as e:  # noqa: BLE001
                want = None
                why = f"{type(e).__name__}: {e}"
            mpath = os.path.join(tmp, "m.json")
            with open(mpath, "w", encoding="utf-8") as f:
                json.dump(case["messages"], f, ensure_ascii=False)
            cmd = [rf_bin, "template", "-m", path, "--messages", "@" + mpath]
            if tools:
                tpath = os.path.join(tmp, "t.json")
                with open(tpath, "w", encoding="utf-8") as f:
                    json.dump(tools, f)
                cmd += ["--tools", "@" + tpath]
            r = subprocess.run(cmd, capture_output=True, timeout=120)
            if want is None:
                ok = r.returncode != 0
                detail = f"jinja2 raised ({why}), rocmforge exit {r.returncode}"
            else:
                ok = r.returncode == 0 and r.stdout.decode("utf-8", "replace") == want
                detail = (f"exit {r.returncode} {r.stderr.decode('utf-8', 'replace').strip()[:300]}; "
                          f"want {want[:200]!r} got {r.stdout.decode('utf-8', 'replace')[:200]!r}")
            if ok:
                n_ok += 1
            else:
                n_fail += 1
                print(f"FAIL {name} :: {cname}: {detail}")
    print(f"{n_ok}/{n_ok + n_fail} renders agree ({n_with} files with a template, "
          f"{n_fallback} using the fallback)")
    if n_with == 0:
        print("no GGUF with a chat template found", file=sys.stderr)
        return 1
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
