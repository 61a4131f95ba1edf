"""Server-rendered HTML of the operations view: f-strings, every value escaped.

The page is shown inside the Airflow UI, in the sandboxed iframe of ``/plugin/operations``
(scripts and same-origin allowed, top-level navigation not). Links inside the app are relative
to ``<base href>`` (the app's mount path), so a calendar of 300 agencies x 365 days stays small:
one short link per cell (``log/<ISIL>/<day>``), resolved by the app when clicked. In the frame,
a small script (:data:`NAVIGATE`) opens links that lead into the Airflow UI (a cell's log, a
day's run, the DAG) in the UI itself, through its router, instead of inside the frame; opened
on its own, the page's links are plain links and the app redirects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from library_integrations.common.oslo_time import OSLO
from library_integrations.operations.calendar import LABELS, STATUSES, Calendar

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1a202c; --muted: #5a6472; --line: #e2e8f0;
  --panel: #f7fafc; --accepted: #2f855a; --resent: #2b6cb0; --rejected: #c05621; --failed: #c53030;
  --running: #b7791f; --missing: #718096; }
@media (prefers-color-scheme: dark) { :root { --bg: #111827; --fg: #e5e7eb; --muted: #9ca3af;
  --line: #374151; --panel: #1f2937; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 20px;
  background: var(--bg); color: var(--fg); }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.lead, .muted { color: var(--muted); } a { color: inherit; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; margin: 10px 0;
  padding: 10px 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
form.filters input { font: inherit; padding: 3px 6px; }
form.filters .quick a { margin-right: 8px; font-size: 13px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0; font-size: 13px; }
.legend span.c { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px;
  border-radius: 2px; }
.notes { border-left: 3px solid var(--rejected); padding: 4px 10px; margin: 8px 0; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
table.cal { border-collapse: separate; border-spacing: 2px; font-size: 11px; }
table.cal th { font-weight: 500; color: var(--muted); white-space: nowrap; }
table.cal thead th.m { text-align: left; padding-left: 2px; border-left: 1px solid var(--line); }
table.cal thead th.d { width: 13px; text-align: center; }
table.cal thead th.d.we { color: var(--fg); }
table.cal tbody th { position: sticky; left: 0; z-index: 1; background: var(--bg); text-align: left;
  padding: 0 8px 0 4px; font-size: 12px; color: var(--fg); max-width: 260px; overflow: hidden;
  text-overflow: ellipsis; }
table.cal td { width: 13px; height: 16px; padding: 0; border-radius: 2px; }
table.cal td a { display: block; width: 100%; height: 100%; }
table.cal td:hover { outline: 2px solid var(--fg); }
.s-accepted { background: var(--accepted); } .s-resent { background: var(--resent); }
.s-rejected { background: var(--rejected); } .s-failed { background: var(--failed); }
.s-running { background: var(--running); }
.s-missing { background: repeating-linear-gradient(135deg, var(--missing) 0 2px, transparent 2px 5px);
  box-shadow: inset 0 0 0 1px var(--missing); }
.s-waiting { background: var(--line); }
.s-disabled { box-shadow: inset 0 0 0 1px var(--line); }
table.list { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
table.list th, table.list td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top;
  border-bottom: 1px solid var(--line); }
table.list th { color: var(--muted); font-weight: 500; }
table.list td.reason { max-width: 70ch; white-space: pre-wrap; word-break: break-word; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; color: #fff; font-size: 12px; }
.badge.s-missing { color: var(--fg); } .badge.s-waiting, .badge.s-disabled { color: var(--fg); }
.badge.delivered { background: var(--accepted); } .badge.failed { background: var(--failed); }
.badge.pending, .badge.uploading { background: var(--running); }
""".strip()


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def oslo_time(moment: datetime | None) -> str:
    """``2026-11-25 03:12`` in Oslo time.

    >>> from datetime import UTC
    >>> oslo_time(datetime(2026, 11, 25, 2, 12, tzinfo=UTC))
    '2026-11-25 03:12'
    """
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if moment else "-"


def age(since: datetime | None, now: datetime) -> str:
    """How long ago, in the two largest units.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    >>> age(now - timedelta(days=2, hours=3, minutes=5), now), age(now - timedelta(minutes=7), now)
    ('2 d 3 h', '7 min')
    """
    if since is None:
        return "-"
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


# In the UI's frame: a click on a link into the Airflow UI navigates the UI (history API + popstate:
# its router follows, as for its own links); the app's cell and day links are first resolved to
# the UI's address (?resolve=1 answers JSON). Anything unexpected falls back to a plain navigation.
NAVIGATE = r"""
(function () {
  if (window.top === window) return;
  var app = new URL(document.baseURI);
  function openInUi(url) {
    try {
      var top = window.top;
      if (top.location.origin !== location.origin) throw new Error("not the same origin");
      top.history.pushState(null, "", url);
      top.dispatchEvent(new PopStateEvent("popstate", { state: null }));
    } catch (e) { location.href = url; }
  }
  document.addEventListener("click", function (event) {
    var a = event.target.closest && event.target.closest("a[href]");
    if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey
        || a.target === "_self") return;
    var url = new URL(a.href, document.baseURI);
    if (url.origin !== app.origin) return;
    var path = url.pathname, inApp = path.indexOf(app.pathname) === 0, rest = path.slice(app.pathname.length);
    if (inApp && !/^(log|run)\//.test(rest)) return;
    event.preventDefault();
    if (!inApp) { openInUi(url.pathname + url.search + url.hash); return; }
    url.searchParams.set("resolve", "1");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.url) openInUi(data.url); else location.href = a.href; })
      .catch(function () { location.href = a.href; });
  });
})();
""".strip()


def document(*, title: str, base: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<base href="{_e(base)}"><style>{STYLE}</style></head><body>{body}<script>{NAVIGATE}</script></body></html>'
    )


def filter_form(*, agency: str, start: date, end: date, last_complete: date) -> str:
    quick = []
    for label, days in (("7 days", 7), ("5 weeks", 35), ("90 days", 90), ("1 year", 365)):
        since = last_complete - timedelta(days=days - 1)
        agency_part = f"&amp;agency={_e(agency)}" if agency else ""
        quick.append(f'<a href="./?start={since}&amp;end={last_complete}{agency_part}">{label}</a>')
    return (
        '<form class="filters" method="get" action="./">'
        f'<label>Agency (ISIL or name, several with commas)<input name="agency" value="{_e(agency)}" '
        'placeholder="all agencies" size="28"></label>'
        f'<label>From<input type="date" name="start" value="{start}"></label>'
        f'<label>To<input type="date" name="end" value="{end}"></label>'
        '<button type="submit">Show</button>'
        f'<span class="quick">{"".join(quick)}</span></form>'
    )


def legend(counts: dict[str, int]) -> str:
    items = [f'<span><span class="c s-{s}"></span>{_e(LABELS[s])} ({counts.get(s, 0)})</span>' for s in STATUSES
             if counts.get(s) or s in ("accepted", "resent", "rejected", "failed", "missing")]
    return f'<div class="legend" id="legend">{"".join(items)}</div>'


def _month_headers(days: list[date]) -> str:
    cells, run_start = [], 0
    for i in range(1, len(days) + 1):
        if i == len(days) or days[i].month != days[run_start].month:
            first = days[run_start]
            span = i - run_start
            text = f"{MONTHS[first.month - 1]} {first.year}" if span >= 4 else f"{first.month:02d}"
            cells.append(f'<th class="m" colspan="{span}">{_e(text)}</th>')
            run_start = i
    return "".join(cells)


def calendar_table(cal: Calendar) -> str:
    """Agencies down, days across; each cell links to ``log/<ISIL>/<day>`` with the status as tooltip."""
    head_days = "".join(
        f'<th class="d{" we" if d.weekday() >= 5 else ""}"><a href="run/{d}" title="{d:%a %d %b %Y}: the run">'
        f"{d.day}</a></th>"
        for d in cal.days
    )
    rows = []
    for agency in cal.agencies:
        cells = []
        isil = _e(agency.isil)
        for day in cal.days:
            cell = cal.cells[(agency.isil, day)]
            # Accepted cells (most of a year) carry no tooltip: the colour says it, and the page stays small.
            title = "" if cell.status == "accepted" else f' title="{day} {isil}: {_e(cell.detail[:300])}"'
            cells.append(f'<td class="s-{cell.status}"><a href="log/{isil}/{day}"{title}></a></td>')
        disabled = " (disabled)" if agency.enabled is False else ""
        rows.append(f'<tr><th title="{_e(agency.label)}{disabled}">{_e(agency.label)}{disabled}</th>'
                    f'{"".join(cells)}</tr>')
    return (
        '<div class="scroll"><table class="cal" id="loan-calendar">'
        f'<thead><tr><th></th>{_month_headers(cal.days)}</tr><tr><th>Agency</th>{head_days}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )


def problems_table(cal: Calendar, *, limit: int = 200) -> str:
    problems = cal.problems()
    missing = cal.missing_by_agency()
    out = []
    if problems:
        rows = []
        for agency, day, cell in problems[:limit]:
            reason = cell.detail.split(": ", 1)[1] if ": " in cell.detail else ""
            rows.append(
                f'<tr><td><span class="badge s-{cell.status}">{_e(LABELS[cell.status])}</span></td>'
                f"<td>{day}</td><td>{_e(agency.label)}</td>"
                f'<td class="reason">{_e(reason)}</td>'
                f'<td><a href="log/{_e(agency.isil)}/{day}">log</a></td></tr>'
            )
        more = f"<p class=muted>... and {len(problems) - limit} more.</p>" if len(problems) > limit else ""
        out.append(
            '<h3>Failed, rejected and unfinished</h3><table class="list" id="loan-problems"><thead><tr>'
            "<th>Status</th><th>Day</th><th>Agency</th><th>Reason</th><th></th></tr></thead>"
            f'<tbody>{"".join(rows)}</tbody></table>{more}'
        )
    if missing:
        items = "".join(f"<tr><td>{_e(a.label)}</td><td>{n}</td></tr>" for a, n in missing)
        out.append(
            '<h3>Never reported</h3><table class="list" id="loan-missing"><thead><tr><th>Agency</th>'
            f"<th>Days in the period</th></tr></thead><tbody>{items}</tbody></table>"
        )
    if not out:
        out.append('<p class="muted">Every agency-day in the period was accepted (or is not due yet).</p>')
    return "".join(out)


def notes_block(notes: Iterable[str]) -> str:
    notes = list(notes)
    return f'<div class="notes">{"".join(f"<p>{_e(n)}</p>" for n in notes)}</div>' if notes else ""


def loan_report_section(cal: Calendar, *, agency: str, last_complete: date, dag_url: str) -> str:
    intro = (
        '<p class="lead">One report per agency per Oslo day, read from the delivery ledger and the runs of '
        f'<a href="{_e(dag_url)}">bokbasen_loan_report</a>. Click a cell for that agency\'s <b>load</b> log of '
        "that day, a day for its run.</p>"
    )
    if not cal.agencies:
        table = '<p class="muted">No agency matches: nothing in the ledger, and no enabled agency in the library system.</p>'
    else:
        table = calendar_table(cal)
    return (
        f'<section id="loan-report"><h2>Bokbasen loan report</h2>{intro}'
        f"{filter_form(agency=agency, start=cal.start, end=cal.end, last_complete=last_complete)}"
        f"{notes_block(cal.notes)}{legend(cal.counts())}{table}{problems_table(cal)}</section>"
    )


def _delivery_status(row: dict[str, Any]) -> str:
    return f'<span class="badge {_e(row["status"])}">{_e(row["status"])}</span>'


def deliveries_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No file delivery recorded yet (<code>pipeline_state.delivery</code>).</p>'
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault((row["pipeline"], row["delivery_key"]), []).append(row)
    body = []
    for (pipeline, key), versions in by_key.items():
        latest = versions[0]
        history = ", ".join(
            f'v{v["version"]} {_e(v["status"])} {oslo_time(v["delivered_at"] or v["updated_at"])}' for v in versions
        )
        message = _e(latest["last_message"]) if latest["status"] != "delivered" and latest["last_message"] else ""
        body.append(
            f"<tr><td>{_e(pipeline)}</td><td>{_e(key)}</td><td>v{latest['version']}</td>"
            f"<td>{_delivery_status(latest)}</td><td>{_e(latest['file_name'])}</td>"
            f"<td>{_e(latest['row_count'] if latest['row_count'] is not None else '-')}</td>"
            f"<td>{_e(latest['target'] or '-')}</td><td>{oslo_time(latest['delivered_at'])}</td>"
            f"<td>{history}</td><td class=\"reason\">{message}</td></tr>"
        )
    return (
        '<table class="list" id="deliveries"><thead><tr><th>Pipeline</th><th>Key</th><th>Latest</th><th>Status</th>'
        "<th>File</th><th>Rows</th><th>Target</th><th>Delivered (Oslo)</th><th>Versions</th><th>Message</th></tr>"
        f'</thead><tbody>{"".join(body)}</tbody></table>'
    )


def cursors_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No sync cursor stored yet (<code>pipeline_state.cursor</code>).</p>'
    body = []
    for row in rows:
        value = row["value"]
        shown = value if len(value) <= 40 else value[:37] + "..."
        body.append(
            f"<tr><td>{_e(row['pipeline'])}</td><td>{_e(row['name'])}</td><td><code>{_e(shown)}</code></td>"
            f"<td>{age(row['changed_at'], row['read_at'])}</td><td>{oslo_time(row['changed_at'])}</td>"
            f"<td>{age(row['updated_at'], row['read_at'])}</td></tr>"
        )
    return (
        '<table class="list" id="cursors"><thead><tr><th>Pipeline</th><th>Name</th><th>Value</th>'
        "<th>Changed ago</th><th>Changed at (Oslo)</th><th>Stored ago</th></tr></thead>"
        f'<tbody>{"".join(body)}</tbody></table>'
    )


def state_section(*, deliveries: list | None, cursors: list | None, notes: list[str]) -> str:
    parts = [
        '<section id="pipeline-state"><h2>Other pipelines: deliveries and sync cursors</h2>'
        '<p class="lead">Every pipeline that delivers files records each version in '
        "<code>pipeline_state.delivery</code>; every sync keeps where it resumes in <code>pipeline_state.cursor</code>. "
        "A cursor that has not changed for long is a sync that stopped finding news, or stopped running.</p>",
        notes_block(notes),
    ]
    if deliveries is not None:
        parts.append(f"<h3>File deliveries (newest 12 keys per pipeline)</h3>{deliveries_table(deliveries)}")
    if cursors is not None:
        parts.append(f"<h3>Sync cursors</h3>{cursors_table(cursors)}")
    parts.append("</section>")
    return "".join(parts)


def header(user: str) -> str:
    return (
        f'<header><h1>Operations</h1><p class="lead">Library integrations: what was delivered, what failed, '
        f"and where to look. Signed in as {_e(user)}; times in Oslo.</p></header>"
    )


def message_page(*, base: str, title: str, message: str, links: list[tuple[str, str]]) -> str:
    items = " &middot; ".join(f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in links)
    return document(title=title, base=base, body=f"<h1>{_e(title)}</h1><p>{_e(message)}</p><p>{items}</p>")
