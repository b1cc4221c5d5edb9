"""Incidents with a lifecycle, rebuilt by replaying the stored days in order under the model's policy (pure).

Per rule and subject: a signal raised on enough of the last days (persistence) opens an incident and one message
to each owner the rule names; while it persists the incident is updated silently (a digest line in that owner's
other messages) and reminded of every `remind_after_days`; `recover_after_days` clear days in a row close it with
one recovery message; breaching again within `cooldown_days` reopens it silently. The same stored days always give
the same incidents, decisions and message keys, so re-runs and backfills in any order converge.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.config import PolicyConfig, Rule
from watchkeeper.policy import DaySignals, Raised
from watchkeeper.result import Action, Decision, IncidentRef, Role, Severity, Signal

Transition = Literal["opened", "updated", "reminded", "recovered"]
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


class Incident(BaseModel):
    """One incident document, stored as `<results_prefix>/<model>/incidents/<id>.json`."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """`<rule>.<subject>.<opened day>`: stable for the same stored days."""
    model: str
    rule: str
    signal: Signal
    """The signal that opened it."""
    signals: list[Signal]
    """Every signal of the rule seen while open."""
    subject: str
    """Column or metric (`*`: the rule as a whole)."""
    owners: list[Role]
    severity: Severity
    opened: date
    last_seen: date
    closed: date | None = None
    state: Literal["open", "recovered"] = "open"
    days: list[date] = Field(default_factory=list)
    """Days the signal was raised while the incident was open."""
    checks: dict[str, list[str]] = Field(default_factory=dict)
    """Per day (YYYY-MM-DD): `id:subject` of the checks that fed it."""
    reminders: int = 0
    recoveries: int = 0
    reopened: list[date] = Field(default_factory=list)
    retrain_requested: date | None = None
    prediction_days: list[str] = Field(default_factory=list)
    """Prediction days (YYYY-MM-DD) whose late labels raised the signal (realized performance, label drift)."""
    clear_days: int = 0
    """Days in a row without the signal (resets when seen)."""

    @property
    def length(self) -> int:
        """Days from opening to the last day the signal was seen, inclusive."""
        return (self.last_seen - self.opened).days + 1


class Part(BaseModel):
    """One incident transition an owner hears about."""

    key: str
    """Stable message key: `<incident id>/<transition>[/<n>]/<owner>`."""
    incident: str
    transition: Transition
    n: int = 1
    owner: Role
    rule: str
    severity: Severity
    incident_state: Incident
    """The incident as it stood that day (what the message says)."""


class Outgoing(BaseModel):
    """One message to one owner on one day: a single transition, or a digest folding several (daily cap)."""

    key: str
    day: date
    owner: Role
    parts: list[Part]
    still_open: list[str] = Field(default_factory=list)
    """Ids of this owner's other open incidents: one digest line each."""

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parts]


class DayOutcome(BaseModel):
    """What the policy concluded on one day."""

    decisions: list[Decision] = Field(default_factory=list)
    incidents: list[IncidentRef] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    messages: list[Outgoing] = Field(default_factory=list)


class Replay(BaseModel):
    """Incidents and per-day outcomes of replaying stored days under one policy."""

    incidents: dict[str, Incident] = Field(default_factory=dict)
    days: dict[date, DayOutcome] = Field(default_factory=dict)

    @property
    def messages(self) -> list[Outgoing]:
        return [m for d in sorted(self.days) for m in self.days[d].messages]


def slug(subject: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", subject).strip("_") or "_"


def matches(rule: Rule, r: Raised) -> bool:
    """Whether a raised signal counts for the rule: one of its signals, at least its minimum severity."""
    return r.signal in rule.signals and SEVERITY_RANK[r.severity] <= SEVERITY_RANK[rule.min_severity]


def _units(rule: Rule, ds: DaySignals) -> dict[str, list[Raised]]:
    out: dict[str, list[Raised]] = defaultdict(list)
    for r in ds.raised:
        if matches(rule, r):
            out[r.subject if rule.per_subject else "*"].append(r)
    return out


def _what(hits: list[Raised]) -> str:
    names = sorted({h.subject for h in hits})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    signals = sorted({h.signal.value for h in hits})
    return f"{'/'.join(signals)} on {shown}"


def replay(policy: PolicyConfig, model: str, days: list[DaySignals]) -> Replay:
    """Replay stored days (any order given; replayed by date) and return incidents and per-day outcomes."""
    days = sorted(days, key=lambda d: d.day)
    rules = policy.effective_rules()
    seen: dict[tuple[str, str], set[date]] = defaultdict(set)
    units_by_day: dict[date, dict[str, dict[str, list[Raised]]]] = {}
    for ds in days:
        units_by_day[ds.day] = {rule.name: _units(rule, ds) for rule in rules}
        for rule in rules:
            for subject in units_by_day[ds.day][rule.name]:
                seen[(rule.name, subject)].add(ds.day)
    out = Replay()
    latest: dict[tuple[str, str], Incident] = {}
    for ds in days:
        outcome = DayOutcome()
        parts: list[Part] = []
        for rule in rules:
            todays = units_by_day[ds.day][rule.name]
            open_subjects = {s for (r, s), inc in latest.items() if r == rule.name and inc.state == "open"}
            for subject in sorted(set(todays) | open_subjects):
                hits = todays.get(subject, [])
                parts += _step(policy, model, rule, subject, ds, hits, seen, latest, out, outcome)
        outcome.messages = _messages(policy, model, ds.day, parts, latest)
        outcome.actions += [
            Action(kind="notify", owner=p.owner, reason=_reason(out.incidents[p.incident], p), rule=p.rule,
                   severity=p.severity, checks=out.incidents[p.incident].checks.get(ds.day.isoformat(), []))
            for p in parts
        ]  # fmt: skip
        out.days[ds.day] = outcome
    return out


def _reason(inc: Incident, p: Part) -> str:
    if p.transition == "recovered":
        return f"{inc.rule} on {inc.subject} recovered after {inc.length} day(s) (opened {inc.opened})"
    if p.transition == "reminded":
        return f"{inc.rule} on {inc.subject} still open after {inc.length} day(s) (opened {inc.opened})"
    return f"{inc.rule} opened on {inc.subject}: {inc.signal.value}"


def _step(
    policy: PolicyConfig,
    model: str,
    rule: Rule,
    subject: str,
    ds: DaySignals,
    hits: list[Raised],
    seen: dict[tuple[str, str], set[date]],
    latest: dict[tuple[str, str], Incident],
    out: Replay,
    outcome: DayOutcome,
) -> list[Part]:
    """One rule and subject on one day: decide, move its incident along, and return what owners hear."""
    day = ds.day
    unit = (rule.name, subject)
    inc = latest.get(unit)
    pers = rule.persistence or policy.persistence
    remind = policy.remind_after_days if rule.remind_after_days is None else rule.remind_after_days
    recover = rule.recover_after_days or policy.recover_after_days
    cooldown = policy.cooldown_days if rule.cooldown_days is None else rule.cooldown_days
    refs = [h.ref for h in hits]
    signal = hits[0].signal if hits else (inc.signal if inc else rule.signals[0])
    decision = Decision(rule=rule.name, signal=signal, subject=subject, fired=False, why="", checks=refs)
    outcome.decisions.append(decision)
    transition: Transition | None = None
    n = 1
    early: list[Part] = []
    split = False
    pdays = sorted({h.prediction_day for h in hits if h.prediction_day})
    if hits and inc is not None and inc.state == "open" and inc.prediction_days and pdays:
        last = date.fromisoformat(max(inc.prediction_days))
        later = [date.fromisoformat(p) for p in pdays if date.fromisoformat(p) > last]
        if later and (later[0] - last).days > recover:
            # Late labels of prediction days after a clear stretch: the earlier incident is over, this one is new.
            inc.state, inc.closed = "recovered", day
            inc.recoveries += 1
            out.incidents[inc.id] = inc
            early = _announce(rule, inc, "recovered", inc.recoveries, outcome)
            inc, split = None, True
    if not hits:  # only reached for an open incident
        assert inc is not None
        inc.clear_days += 1
        if inc.clear_days >= recover:
            inc.state, inc.closed = "recovered", day
            inc.recoveries += 1
            transition, n = "recovered", inc.recoveries
            decision.why = f"clear for {inc.clear_days} day(s) in a row: incident {inc.id} recovered"
        else:
            decision.why = f"clear today ({inc.clear_days} of {recover} day(s) needed to recover {inc.id})"
            transition = "updated"
    else:
        window = {day - timedelta(days=i) for i in range(pers.days)}
        count = len(seen[unit] & window)
        what = _what(hits)
        if inc is not None and inc.state == "open":
            decision.fired = True
            transition = "updated"
            decision.why = f"{what}; incident {inc.id} open since {inc.opened}"
            decision.suppressed = "incident already open"
            if remind and (day - inc.opened).days >= remind * (inc.reminders + 1):
                inc.reminders += 1
                transition, n = "reminded", inc.reminders
                decision.suppressed = None
                decision.why += f"; reminder {n}"
        elif count < pers.breaches and not split:
            decision.why = f"{what}; seen on {count} of the last {pers.days} day(s), needs {pers.breaches}"
        else:
            decision.fired = True
            persisted = f"seen on {count} of the last {pers.days} day(s)"
            if not split and inc is not None and inc.closed and (day - inc.closed).days <= cooldown:
                inc.state, inc.closed = "open", None
                inc.reopened.append(day)
                transition = "updated"
                decision.why = f"{what}; {persisted}"
                decision.suppressed = (
                    f"cooldown: reopened {inc.id}, recovered less than {cooldown + 1} day(s) ago"
                )
            else:
                inc = Incident(
                    id=f"{rule.name}.{slug(subject)}.{day.isoformat()}", model=model, rule=rule.name,
                    signal=signal, signals=[], subject=subject, owners=list(rule.notify),
                    severity=Severity(rule.severity), opened=day, last_seen=day,
                )  # fmt: skip
                latest[unit] = inc
                transition = "opened"
                decision.why = f"{what}; {persisted}: incident {inc.id} opened"
        if inc is not None and inc.state == "open":
            inc.last_seen, inc.clear_days = day, 0
            inc.days.append(day)
            inc.checks[day.isoformat()] = refs
            inc.signals = sorted(set(inc.signals) | {h.signal for h in hits})
            inc.prediction_days = sorted(set(inc.prediction_days) | set(pdays))
    if inc is None:
        return early
    out.incidents[inc.id] = inc
    if transition in ("opened", "reminded", "recovered") or early:
        decision.actions = [f"notify:{o}" for o in rule.notify]
    if (rule.retrain or rule.evaluate) and inc.state == "open" and inc.retrain_requested is None:
        if ds.quality_blocked:
            decision.suppressed = "critical data-quality failure today: retraining held back"
        else:
            inc.retrain_requested = day
            kinds = ["retrain"] * rule.retrain + ["evaluate"] * rule.evaluate
            for kind in kinds:
                outcome.actions.append(
                    Action(kind=kind, owner="model", rule=rule.name, severity=Severity(rule.severity),
                           reason=f"{_what(hits)} (incident {inc.id}); a challenger should be trained and "
                           "evaluated against the champion", checks=refs)
                )  # fmt: skip
                decision.actions.append(f"{kind}:model")
    if transition is None:
        return early
    return early + _announce(rule, inc, transition, n, outcome)


def _announce(rule: Rule, inc: Incident, transition: Transition, n: int, outcome: DayOutcome) -> list[Part]:
    """Record the transition in the day's outcome; the parts owners hear of (none for a silent update)."""
    outcome.incidents.append(
        IncidentRef(id=inc.id, signal=inc.signal, subject=inc.subject, owner=(inc.owners or ["model"])[0],
                    transition=transition, opened=inc.opened)
    )  # fmt: skip
    if transition == "updated":
        return []
    suffix = f"/{n}" if transition == "reminded" or n > 1 else ""
    return [
        Part(key=f"{inc.id}/{transition}{suffix}/{owner}", incident=inc.id, transition=transition, n=n,
             owner=owner, rule=rule.name, severity=Severity(rule.severity),
             incident_state=inc.model_copy(deep=True))
        for owner in rule.notify
    ]  # fmt: skip


def _messages(
    policy: PolicyConfig, model: str, day: date, parts: list[Part], latest: dict[tuple[str, str], Incident]
) -> list[Outgoing]:
    """One message per part, folding an owner's parts beyond the daily cap into one digest message."""
    out = []
    cap = policy.max_messages_per_owner_per_day
    by_owner: dict[str, list[Part]] = defaultdict(list)
    for p in parts:
        by_owner[p.owner].append(p)
    for owner, mine in by_owner.items():
        mine.sort(key=lambda p: (SEVERITY_RANK[p.severity], p.key))
        groups = (
            [[p] for p in mine] if len(mine) <= cap else [[p] for p in mine[: cap - 1]] + [mine[cap - 1 :]]
        )
        covered = {p.incident for p in mine}
        still_open = sorted(
            i.id for i in latest.values() if i.state == "open" and owner in i.owners and i.id not in covered
        )
        for group in groups:
            key = group[0].key if len(group) == 1 else f"{model}/{day.isoformat()}/{owner}/digest"
            out.append(Outgoing(key=key, day=day, owner=owner, parts=group, still_open=still_open))
    return out
