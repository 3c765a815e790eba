"""volumes: a PostgreSQL database whose data outlives its container.

The learner runs ``db`` from ``postgres:15`` with the named volume ``pgdata`` at
``/var/lib/postgresql/data``, writes a row into ``notes``, removes the container and starts a
new one on the same volume. The table layout the task gives is::

    CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now());

The check asks the database itself (``psql`` through ``docker exec``, with a deadline) and
proves the row is older than the container now running: ``min(created_at)`` (any timestamp
column is accepted, ``created_at`` preferred) is earlier than the container's ``Created`` time.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from .. import common
from ..model import Exercise, Objects, error, fail, not_steady, ok

IMAGE = "postgres:15"
DATA = "/var/lib/postgresql/data"
PASSWORD = "course"
TABLE_SQL = ("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, "
             "created_at timestamptz NOT NULL DEFAULT now());")
ROW_SQL = "INSERT INTO notes (body) VALUES ('written before the container was replaced');"
QUERY_TIMEOUT = 6.0

EXERCISE = Exercise(
    id="volumes",
    title="Data that outlives its container",
    summary=(f"Container `db` from `{IMAGE}` with the named volume `pgdata` at `{DATA}`, holding a table `notes` "
             "with a row written before the current `db` container was created."),
    lesson="Day 2 \u203a Volumes (book/day2/volumes)",
    objects=Objects(containers=("db",), volumes=("pgdata",)),
    day="Day 2",
    start=f"docker volume create pgdata && docker run -d --name db -e POSTGRES_PASSWORD={PASSWORD} -v pgdata:{DATA} {IMAGE}",
)

_ANON = re.compile(r"^[0-9a-f]{64}$")


def _run(ctx) -> str:
    return (f"docker run -d --name {ctx.name('db')} -e POSTGRES_PASSWORD={PASSWORD} "
            f"-v {ctx.name('pgdata')}:{DATA} {IMAGE}")


def _recreate(ctx) -> str:
    return f"docker rm -f {ctx.name('db')} && {_run(ctx)}"


def _mounts_evidence(info) -> list[dict]:
    return [{k: m.get(k) for k in ("Type", "Name", "Source", "Destination") if m.get(k)}
            for m in info.get("Mounts") or []]


def _env(info) -> dict:
    out = {}
    for item in info["Config"].get("Env") or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _psql(ctx, info, sql: str):
    env = _env(info)
    user = env.get("POSTGRES_USER") or "postgres"
    db = env.get("POSTGRES_DB") or user
    return ctx.exec(info["Id"], ["psql", "-X", "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                    timeout=QUERY_TIMEOUT)


def _parse_time(text: str) -> datetime:
    """Docker's RFC 3339 time with nanoseconds -> aware datetime (microseconds)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text.strip())
    if not m:
        raise ValueError(f"unexpected time {text!r}")
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


@EXERCISE.check("exists", "A container named `db` exists")
def exists(ctx):
    return common.container_exists(ctx, "db", f"a PostgreSQL container `db` from `{IMAGE}` using the volume `pgdata`",
                                   f"docker volume create {ctx.name('pgdata')} && {_run(ctx)}",
                                   more="Start with the volume, then the container; the README walks through the rest.")


@EXERCISE.check("image", f"It runs `{IMAGE}`", requires=("exists",))
def image(ctx):
    return common.pinned_image(ctx, "db", IMAGE, _recreate(ctx),
                               more="Removing the container is safe here: the data lives in the volume, not in the container.")


@EXERCISE.check("running", "It is running", requires=("exists",))
def running(ctx):
    info = ctx.container("db")
    state = info["State"]
    if state.get("Paused"):
        return not_steady(ctx.name("db"), state)
    if state.get("Running") and not state.get("Restarting"):
        return ok("Running.", {"State.Status": "running"})
    tail = ctx.logs(info["Id"], tail=8).strip()
    evidence = {"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode"),
                "docker logs (tail)": tail[-600:]}
    if "POSTGRES_PASSWORD" in tail or "superuser password" in tail:
        return fail(found=f"`{ctx.name('db')}` exited with code {state.get('ExitCode')}: PostgreSQL refused to set up "
                          "a database without a password",
                    expected="a running database",
                    fix=_recreate(ctx), evidence=evidence,
                    more="The postgres image needs `-e POSTGRES_PASSWORD=...` the first time it sets up a volume.")
    return fail(found=f"`{ctx.name('db')}` is {state.get('Status')} (exit code {state.get('ExitCode')})",
                expected="a running database",
                fix=f"docker start {ctx.name('db')}", evidence=evidence,
                more=f"If it stops again, `docker logs {ctx.name('db')}` shows why.")


@EXERCISE.check("volume", f"The named volume `pgdata` is mounted at {DATA}", requires=("exists",))
def volume(ctx):
    info = ctx.container("db")
    vol = ctx.name("pgdata")
    mounts = info.get("Mounts") or []
    evidence = {"Mounts": _mounts_evidence(info)}
    at_path = next((m for m in mounts if m.get("Destination") == DATA), None)
    elsewhere = next((m for m in mounts if m.get("Type") == "volume" and m.get("Name") == vol
                      and m.get("Destination") != DATA), None)
    pgdata = _env(info).get("PGDATA")
    if at_path and at_path.get("Type") == "volume" and at_path.get("Name") == vol:
        if pgdata and not (pgdata == DATA or pgdata.startswith(DATA + "/")):
            return fail(found=f"PGDATA is set to `{pgdata}`, so PostgreSQL keeps its files outside the volume",
                        expected=f"PostgreSQL's files under {DATA} (leave PGDATA unset)",
                        fix=_recreate(ctx), evidence={**evidence, "Config.Env PGDATA": pgdata})
        return ok(f"Volume `{vol}` is mounted at {DATA}.", evidence)
    if elsewhere is not None:
        found = f"`{vol}` is mounted at `{elsewhere['Destination']}`"
        if at_path is not None and at_path.get("Type") == "volume":
            found += f", and {DATA} got an anonymous volume `{at_path.get('Name', '')[:12]}…` instead"
        return fail(found=found,
                    expected=f"`{vol}` at {DATA}, the folder where PostgreSQL keeps its files",
                    fix=_recreate(ctx), evidence=evidence,
                    more=("The image declares `VOLUME /var/lib/postgresql/data`, so when nothing is mounted there Docker "
                          "quietly makes a new anonymous volume for it; your named volume at the other path stays empty."))
    if at_path is None:
        return fail(found=f"nothing is mounted at {DATA}: the database files are in the container's own writable layer",
                    expected=f"the named volume `{vol}` mounted at {DATA}",
                    fix=_recreate(ctx), evidence=evidence,
                    more="Files in the writable layer are deleted with the container (`docker rm`), so the data would not survive.")
    kind = at_path.get("Type")
    if kind == "bind":
        return fail(found=f"a bind mount of the host folder `{at_path.get('Source')}` at {DATA}",
                    expected=f"the named volume `{vol}` (a volume Docker manages, not a host folder)",
                    fix=_recreate(ctx), evidence=evidence,
                    more=f"`-v ./folder:{DATA}` or `-v /path:{DATA}` is a bind mount; `-v {vol}:{DATA}` (a plain name) is a named volume.")
    if kind == "volume" and _ANON.match(at_path.get("Name") or ""):
        return fail(found=f"an anonymous volume `{at_path['Name'][:12]}…` at {DATA}",
                    expected=f"the named volume `{vol}`",
                    fix=_recreate(ctx), evidence=evidence,
                    more=("You get an anonymous volume when you leave out `-v` (the image declares that path a VOLUME) "
                          f"or write `-v {DATA}` without a name. A new container gets a new, empty one, so the data is "
                          "stranded: give the volume a name."))
    if kind == "volume":
        return fail(found=f"the volume `{at_path.get('Name')}` at {DATA}",
                    expected=f"the volume named `{vol}`",
                    fix=_recreate(ctx), evidence=evidence,
                    more="Volume names are contracts here: the check looks for exactly `pgdata`.")
    return fail(found=f"a `{kind}` mount at {DATA}", expected=f"the named volume `{vol}`",
                fix=_recreate(ctx), evidence=evidence,
                more="A tmpfs mount lives in memory and is gone when the container stops.")


def _not_answering(ctx, res, evidence):
    if res.timed_out:
        return error(f"psql in `{ctx.name('db')}` did not answer within {QUERY_TIMEOUT:.0f}s.", evidence)
    out = res.output.strip()
    if "starting up" in out or "No such file or directory" in out or "could not connect" in out \
            or "shutting down" in out or "is not running" in out:
        return fail(found=f"PostgreSQL in `{ctx.name('db')}` is not accepting connections yet",
                    expected="a database that answers queries",
                    fix=f"wait a few seconds until `docker logs {ctx.name('db')}` says `database system is ready to accept "
                        "connections`, then run the check again",
                    evidence=evidence)
    return None


def fail_(**kwargs):
    return fail(**kwargs), None


def _notes(ctx):
    """(problem, facts): ``problem`` is a fail/error Outcome or None; cached per check run."""
    return ctx._cached(("volumes", "notes"), lambda: _read_notes(ctx))


def _read_notes(ctx):
    info = ctx.container("db")
    exec_cmd = f"docker exec {ctx.name('db')} psql -U {_env(info).get('POSTGRES_USER') or 'postgres'}"
    res = _psql(ctx, info, (
        "SELECT coalesce((SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'notes'), '') || '|' || "
        "coalesce((SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = 'public'), '')"))
    evidence = {"psql exit code": res.exit_code, "psql output": res.output.strip()[-400:]}
    bad = _not_answering(ctx, res, evidence)
    if bad:
        return bad, None
    if not res.ok:
        return fail_(found=f"psql in `{ctx.name('db')}` failed (exit code {res.exit_code}): {res.output.strip()[-200:]}",
                     expected="a database that answers queries", fix=f"docker logs {ctx.name('db')}", evidence=evidence)
    columns_txt, _, tables_txt = res.output.strip().partition("|")
    tables = [t for t in tables_txt.split(",") if t]
    if not columns_txt:
        return fail_(found=f"no table `notes` in the database (tables there: {', '.join(tables) or 'none'})",
                     expected="the table `notes` holding your row",
                     fix=f"{exec_cmd} -c \"{TABLE_SQL} {ROW_SQL}\"",
                     evidence={**evidence, "tables": tables},
                     more=("If you created it earlier, it was written somewhere this container cannot see: a container "
                           "without the named volume keeps its data in its own storage, which `docker rm` throws away. "
                           "Write the table again now that `pgdata` is mounted, then replace the container once more."))
    columns = dict(c.split(":", 1) for c in columns_txt.split(",") if ":" in c)
    stamps = [c for c, t in columns.items() if t.startswith("timestamp")]
    if not stamps:
        return fail_(found=f"`notes` has no timestamp column (columns: {', '.join(f'{c} {t}' for c, t in columns.items())})",
                     expected="a column such as `created_at timestamptz DEFAULT now()`, so the check can tell when the row was written",
                     fix=f"{exec_cmd} -c \"DROP TABLE notes; {TABLE_SQL} {ROW_SQL}\"",
                     evidence={**evidence, "columns": columns})
    col = "created_at" if "created_at" in stamps else stamps[0]
    res2 = _psql(ctx, info, f'SELECT count(*) || \'|\' || coalesce(extract(epoch FROM min("{col}"))::text, \'\') FROM notes')
    evidence = {"column": col, "psql exit code": res2.exit_code, "psql output": res2.output.strip()[-400:]}
    bad = _not_answering(ctx, res2, evidence)
    if bad:
        return bad, None
    if not res2.ok:
        return fail_(found=f"reading `notes` failed: {res2.output.strip()[-200:]}", expected="a readable table",
                     fix=f"docker logs {ctx.name('db')}", evidence=evidence)
    count_txt, _, epoch_txt = res2.output.strip().partition("|")
    count = int(count_txt or 0)
    evidence["rows"] = count
    if count == 0:
        return fail_(found="the table `notes` exists but is empty",
                     expected="at least one row, written before you replaced the container",
                     fix=f"{exec_cmd} -c \"{ROW_SQL}\"", evidence=evidence,
                     more="Then remove the container and start a new one on the same volume.")
    if not epoch_txt:
        return fail_(found=f"the rows in `notes` have no value in `{col}`",
                     expected=f"`{col}` filled in (give it `DEFAULT now()`)",
                     fix=f"{exec_cmd} -c \"UPDATE notes SET {col} = now() WHERE {col} IS NULL;\"",
                     evidence=evidence)
    return None, {"count": count, "epoch": float(epoch_txt), "column": col, "evidence": evidence}


@EXERCISE.check("table", "The table `notes` has a timestamp column and at least one row", requires=("running",))
def table(ctx):
    problem, facts = _notes(ctx)
    if problem is not None:
        return problem
    return ok(f"`notes` has {facts['count']} row(s).", facts["evidence"])


@EXERCISE.check("survived", "The row is older than the container: it survived a replacement", requires=("table", "volume"))
def survived(ctx):
    info = ctx.container("db")
    problem, facts = _notes(ctx)
    if problem is not None:
        return problem
    epoch, col = facts["epoch"], facts["column"]
    written = datetime.fromtimestamp(epoch, tz=timezone.utc)
    created = _parse_time(info["Created"])
    evidence = {f"min(notes.{col})": written.isoformat(timespec="seconds"), "Created": info["Created"]}
    if written < created:
        return ok(f"The oldest row ({written:%H:%M:%S} UTC) was written before this container was created "
                  f"({created:%H:%M:%S} UTC): the data lived in the volume.", evidence)
    return fail(found=(f"the oldest row was written at {written:%H:%M:%S} UTC, after this container was created "
                       f"({created:%H:%M:%S} UTC)"),
                expected="a row written by an earlier container, still there in a new one",
                fix=_recreate(ctx), evidence=evidence,
                more=("Stopping and starting is not enough (it is the same container). Remove it and run a new one with "
                      "the same `-v`; the row should still be there."))
