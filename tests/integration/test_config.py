# SPDX-License-Identifier: Apache-2.0
"""hiwayd --check-config: strict validation and environment expansion (SPEC §18)."""
import os
import subprocess
import tempfile

from harness import HIWAYD, SLOW, base_config, check, clean_env, eq, free_port, test, tmp_root


def _check_config(text, env=None):
    d = tempfile.mkdtemp(prefix="cfg-", dir=tmp_root())
    path = os.path.join(d, "hiway.yaml")
    with open(path, "w") as f:
        f.write(text)
    e = clean_env()
    e.update(env or {})
    p = subprocess.run([HIWAYD, "--config", path, "--check-config"], cwd=d, env=e,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"), d


def _base():
    return base_config(free_port(), tmp_root())


@test
def valid_config_accepted(ctx):
    rc, out, _ = _check_config(_base())
    eq(rc, 0, "exit status (output %r)" % out[:300])


@test
def unknown_key_rejected(ctx):
    rc, out, _ = _check_config(_base() + "surprise_key: 1\n")
    check(rc != 0, "unknown top-level key accepted")
    check("hiway.yaml" in out and "surprise_key" in out, "message lacks file/key: %r" % out[:300])
    rc, out, _ = _check_config(_base().replace("client_timeout_s: 5", "client_timeout_s: 5, "
                                                                        "bogus_option: 2"))
    check(rc != 0, "unknown server key accepted")
    check("server.bogus_option" in out, "message lacks the key path: %r" % out[:300])


@test
def wrong_type_rejected(ctx):
    rc, out, _ = _check_config(_base().replace("guardian: {enabled: false}",
                                               "guardian: {dedup: {count: \"three\"}}"))
    check(rc != 0, "guardian.dedup.count: \"three\" accepted")
    check("guardian.dedup.count" in out, "message lacks the key path: %r" % out[:300])


@test
def env_expansion(ctx):
    text = _base() + "admin: {token: \"${HIWAY_IT_TOKEN_X}\"}\n"
    rc, out, _ = _check_config(text)
    check(rc != 0, "unset ${VAR} without default accepted")
    rc, out, _ = _check_config(text, env={"HIWAY_IT_TOKEN_X": "t" * 40})
    eq(rc, 0, "set ${VAR} (output %r)" % out[:300])
    rc, out, _ = _check_config(_base() + "admin: {token: \"${HIWAY_IT_UNSET_Y:-%s}\"}\n" % ("d" * 40))
    eq(rc, 0, "${VAR:-default} (output %r)" % out[:300])


@test
def shield_patterns_checked(ctx):
    """--check-config compiles the Shield's pattern files: a pattern Hyperscan rejects fails
    the check with its file and message, as it would fail the start."""
    pat = tempfile.mkdtemp(prefix="pat-", dir=tmp_root())
    types = ("prompt_injection", "prompt_extraction", "jailbreak", "pii", "secrets")
    for t in types:
        with open(os.path.join(pat, t + ".txt"), "w") as f:
            f.write("# test patterns\nignore previous instructions\n")
    cfg = _base() + "shield: {patterns_dir: \"%s\"}\n" % pat
    rc, out, _ = _check_config(cfg)
    eq(rc, 0, "valid patterns: %s" % out)
    with open(os.path.join(pat, "secrets.txt"), "a") as f:
        f.write("(unclosed\n")
    rc, out, _ = _check_config(cfg)
    eq(rc, 1, "a broken pattern fails the check")
    check("shield patterns" in out and "secrets" in out and "(unclosed" in out,
          "message names the file's type and the pattern: %r" % out)
