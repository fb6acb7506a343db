"""The same loads through wrk (C, much lighter than httpx on the shared 2 cores), when wrk is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from benchmarks.inputs import compose_model

_LUA = r"""
local body = BODY
local token = "TOKEN"
local n = 0
local threads = {}
function setup(thread) thread:set("id", #threads) ; table.insert(threads, thread) end
request = function()
  n = n + 1
  local project = PROJECT
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
                   ["X-Spin-User"] = "ACT_AS"}
  if n % 2 == 0 then
    return wrk.format("POST", "/v1/projects/" .. project .. "/check", headers, body)
  end
  return wrk.format("PUT", "/v1/projects/" .. project, headers, body)
end
-- Count answers by status and keep one body of each failing status, so the runner can say what the errors were.
statuses = {}
bodies = {}
response = function(status, headers, resp)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 300 and bodies[status] == nil then bodies[status] = string.sub(resp, 1, 200) end
end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    local bd = t:get("bodies")
    for code, count in pairs(st) do io.write(string.format("status %d %d\n", code, count)) end
    for code, text in pairs(bd) do io.write(string.format("body %d %s\n", code, string.gsub(text, "\n", " "))) end
  end
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(out: str, pct: str) -> float:
    """A latency percentile from wrk's --latency table; NaN when no request finished (wrk prints no table)."""
    m = re.search(pct + r"%\s+([\d.]+)(us|ms|s)\b", out)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


#: How the load names its projects (a Lua expression; id is wrk's thread, n the thread's request count):
#:   cycle  each thread cycles through 100 projects (issue 7's load: after the first round, `up` is idempotent)
#:   cold   every request a project never seen: every decision evaluated (a job array of different projects)
#:   warm   one project for every request: the same compose from one user (a job array's prologues)
PROJECTS = {
    "cycle": '"wrk-" .. id .. "-" .. (n % 100)',
    "cold": '"cold-" .. id .. "-" .. n .. "-" .. SALT',
    "warm": '"warm-array-" .. SALT',
}


def run(url: str, mode: str, token: str, clients: int = 200, seconds: float = 10.0, act_as: str = "",
        projects: str = "cycle", replicas: int | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="spin-wrk-") as tmp:
        cmd = ["wrk", "-t2", f"-c{clients}", f"-d{max(1, int(seconds))}s", "--latency", "--timeout", "30s"]
        if mode == "healthz":
            cmd.append(url + "/healthz")
        else:
            script = Path(tmp) / "load.lua"
            salt = uuid.uuid4().hex[:6]  # a second run never meets the first's projects
            script.write_text(_LUA.replace("PROJECT", PROJECTS[projects].replace("SALT", f'"{salt}"'))
                              .replace("BODY", json.dumps(json.dumps({"compose": compose_model(10, replicas)})))
                              .replace("TOKEN", token).replace("ACT_AS", act_as))
            cmd += ["-s", str(script), url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
        if os.environ.get("SPIN_BENCH_DEBUG"):
            print(out[-3000:])
    if not (m := re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)):
        return {"error": f"wrk printed no summary: {out[-300:]}", "p50": float("nan"), "p99": float("nan"), "ok": 0,
                "errors": 0, "per_s": 0.0, "ok_per_s": 0.0, "error_kinds": {}}
    total = int(m.group(1))
    elapsed = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = sum(int(x) for x in m.groups()) if (m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0
    return {"p50": _ms(out, "50"), "p99": _ms(out, "99"),
            "ok": total - non2xx, "errors": non2xx + sock, "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "ok_per_s": (total - non2xx) / elapsed,
            "error_kinds": _error_kinds(out, sock)}


def _error_kinds(out: str, sock: int) -> dict[str, int | str]:
    kinds: dict[str, int | str] = {}
    for code, count in re.findall(r"^status (\d+) (\d+)$", out, re.M):
        if int(code) >= 300:
            kinds[f"HTTP {code}"] = kinds.get(f"HTTP {code}", 0) + int(count)
    for code, body in re.findall(r"^body (\d+) (.*)$", out, re.M):
        kinds[f"HTTP {code} body"] = body[:160]
    if sock:
        kinds["socket"] = sock
    return kinds
