"""The same loads through wrk (C, much lighter than httpx on the shared 2 cores), when wrk is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.inputs import compose_model

_LUA = """
local body = BODY
local token = "TOKEN"
local n = 0
local threads = {}
function setup(thread) thread:set("id", #threads) ; table.insert(threads, thread) end
request = function()
  n = n + 1
  local project = "wrk-" .. id .. "-" .. (n % 100)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if n % 2 == 0 then
    return wrk.format("POST", "/v1/projects/" .. project .. "/check", headers, body)
  end
  return wrk.format("PUT", "/v1/projects/" .. project, headers, body)
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run(url: str, mode: str, token: str, clients: int = 200, seconds: float = 10.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="spin-wrk-") as tmp:
        cmd = ["wrk", "-t2", f"-c{clients}", f"-d{max(1, int(seconds))}s", "--latency", "--timeout", "30s"]
        if mode == "healthz":
            cmd.append(url + "/healthz")
        else:
            script = Path(tmp) / "load.lua"
            script.write_text(_LUA.replace("BODY", json.dumps(json.dumps({"compose": compose_model(10)}))).replace("TOKEN", token))
            cmd += ["-s", str(script), url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = sum(int(x) for x in m.groups()) if (m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0
    return {"p50": _ms(re.search(r"50%\s+(\S+)", out).group(1)), "p99": _ms(re.search(r"99%\s+(\S+)", out).group(1)),
            "ok": total - non2xx, "errors": non2xx + sock, "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "ok_per_s": (total - non2xx) / max(1, int(seconds)),
            "error_kinds": {"non-2xx": non2xx, "socket": sock} if non2xx or sock else {}}
