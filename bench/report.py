#!/usr/bin/env python3
"""report.py - the table of a bench.sh run (markdown), from its results.txt

Per system and scenario the round with the median rps is shown; CPU per request
is the servers' CPU time (services, PostgreSQL, Redis) over the requests served.
"""
import sys

SCENARIOS = ["missions_list", "mission_get", "missions_create", "login", "refresh",
             "list_during_logins"]


def parse(path):
    runs, extra = [], {}
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if words[0].startswith("rss_"):
                extra[words[0]] = dict(w.split("=", 1) for w in words[1:])
                continue
            runs.append(dict(w.split("=", 1) for w in words if "=" in w))
    return runs, extra


def median_run(runs, system, scenario):
    mine = [r for r in runs if r.get("system") == system and r.get("scenario") == scenario
            and "rps" in r]
    if not mine:
        return None
    mine.sort(key=lambda r: float(r["rps"]))
    return mine[(len(mine) - 1) // 2]


def cpu_us(run):
    if not run or "server_cpu_s" not in run or int(run.get("requests", 0)) == 0:
        return None
    return float(run["server_cpu_s"]) * 1e6 / int(run["requests"])


def cell(value, fmt):
    return "—" if value is None else fmt.format(value)


def main():
    runs, extra = parse(sys.argv[1])
    out = ["| scenario | rps | p50 ms | p99 ms | CPU µs/req | errors | reference rps | "
           "reference p99 ms | reference CPU µs/req | rps × | CPU ÷ |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario in SCENARIOS:
        ours, ref = median_run(runs, "ours", scenario), median_run(runs, "ref", scenario)
        if not ours:
            continue
        rps_ratio = float(ours["rps"]) / float(ref["rps"]) if ref and float(ref["rps"]) else None
        cpu_ratio = cpu_us(ref) / cpu_us(ours) if ref and cpu_us(ref) and cpu_us(ours) else None
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            scenario, cell(float(ours["rps"]), "{:,.0f}"), cell(float(ours["p50_ms"]), "{:.2f}"),
            cell(float(ours["p99_ms"]), "{:.2f}"), cell(cpu_us(ours), "{:,.0f}"),
            ours.get("errors", "?"),
            cell(float(ref["rps"]) if ref else None, "{:,.0f}"),
            cell(float(ref["p99_ms"]) if ref else None, "{:.2f}"),
            cell(cpu_us(ref), "{:,.0f}"), cell(rps_ratio, "{:.1f}"), cell(cpu_ratio, "{:.1f}")))
    rate = [r for r in runs if r.get("scenario") == "argon2_rate"]
    login = median_run(runs, "ours", "login")
    if rate and login:
        bare = float(rate[-1]["rps"])
        out.append("")
        out.append("Sign-in: {:.1f}/s against {:.1f} bare argon2id checks/s on {} threads "
                   "(m={} KiB, t={}, p={}): {:.0f} %.".format(
                       float(login["rps"]), bare, rate[-1]["threads"], rate[-1]["m_kib"],
                       rate[-1]["t"], rate[-1]["p"], 100 * float(login["rps"]) / bare))
    quiet, storm = median_run(runs, "ours", "missions_list"), median_run(runs, "ours", "list_during_logins")
    if quiet and storm:
        out.append("missions_list p99 {:.2f} ms alone, {:.2f} ms while sign-ins run without "
                   "pause beside it.".format(float(quiet["p99_ms"]), float(storm["p99_ms"])))
    splits = [r for r in runs if r.get("scenario", "").startswith("split_") and "rps" in r]
    if splits:
        procs = [k[len("cpu_s_"):] for k in splits[0] if k.startswith("cpu_s_")]
        out.append("")
        out.append("| CPU µs per request | rps | " + " | ".join(procs) + " | all |")
        out.append("|---|---:|" + "---:|" * (len(procs) + 1))
        for run in splits:
            requests = int(run["requests"]) or 1
            each = [float(run["cpu_s_" + p]) * 1e6 / requests for p in procs]
            out.append("| {} | {:,.0f} | ".format(run["scenario"][len("split_"):], float(run["rps"]))
                       + " | ".join("{:,.0f}".format(v) for v in each)
                       + " | {:,.0f} |".format(sum(each)))
    if extra:
        out.append("")
        out.append("| RSS (MiB) | " + " | ".join(extra.get("rss_idle_kib", {}).keys()) + " |")
        out.append("|---|" + "---:|" * len(extra.get("rss_idle_kib", {})))
        for key, label in (("rss_idle_kib", "idle"), ("rss_peak_kib", "peak after the load")):
            if key in extra:
                out.append("| {} | ".format(label) + " | ".join(
                    "{:.1f}".format(int(v) / 1024) for v in extra[key].values()) + " |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
