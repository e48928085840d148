"""How a consent write becomes ledger entries: validation, GPC conflicts, and linking.

Pure functions. Each returns `Outcome`s, one per purpose the write changes or has to record:
`granted` is what was asked (by the person, or by their GPC signal), `effective` is what the
state becomes, and `resolution` names the rule that decided when a conflict was resolved.

GPC (Global Privacy Control, `Sec-GPC: 1`) applies to purposes marked `gpc` (sale, sharing,
targeted advertising):

- Under a regime where it binds (GPC_BINDING: CCPA 11 CCR 7025(b), Colorado 4 CCR 904-3 Rule 5,
  Connecticut 42-520(a)(1)(A)(ii)) it is a valid opt-out, even over a saved opt-in
  (`gpc_overrides_saved_choice`) and over an opt-in in the same call (`gpc_overrides_choice`),
  unless the person confirmed the opt-in after being told of the conflict (7025(c)(3):
  `confirmed_over_gpc`); such a confirmed opt-in then stands against later signals
  (`confirmed_choice_kept_over_gpc`).
- Under the other opt-out regimes (Virginia, Utah) nothing obliges us, and we honour it the
  same way: it is the protective reading of the person's wish.
- Under opt-in regimes (the GDPR family, LGPD, PIPEDA) nothing is on without consent anyway; the
  signal is recorded as an objection (source gpc), and a specific, informed opt-in, saved
  (`saved_choice_kept_over_gpc`) or in the same call (`choice_kept_over_gpc`), wins over a
  general browser signal.

Linking (a device's or email's choices carried to a user id when they sign in): per purpose,
the user's own saved choice wins unless the device's is newer (`newer_device_choice`); a device's
opt-out of a gpc purpose always carries over, being the more protective (`device_opt_out_carried`);
a purpose the user never chose takes the device's choice (`device_choice_taken`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rightsflow.domain.consent import (
    GPC_BINDING,
    PURPOSE_KEY,
    Choice,
    ConsentModel,
    ConsentWrite,
    Purpose,
    PurposeState,
    Source,
    consent_model,
)
from rightsflow.domain.errors import InvalidInput

GPC_OVERRIDES_SAVED = "gpc_overrides_saved_choice"
GPC_OVERRIDES_CHOICE = "gpc_overrides_choice"
CONFIRMED_OVER_GPC = "confirmed_over_gpc"
CONFIRMED_KEPT = "confirmed_choice_kept_over_gpc"
SAVED_KEPT_OVER_GPC = "saved_choice_kept_over_gpc"
CHOICE_KEPT_OVER_GPC = "choice_kept_over_gpc"
DEVICE_CHOICE_TAKEN = "device_choice_taken"
NEWER_DEVICE_CHOICE = "newer_device_choice"
DEVICE_OPT_OUT_CARRIED = "device_opt_out_carried"

_CONFIRMED = frozenset({CONFIRMED_OVER_GPC, CONFIRMED_KEPT})


@dataclass(frozen=True)
class Outcome:
    """One purpose's ledger entry values (the record, ids and times are the caller's)."""

    purpose: str
    granted: bool
    effective: bool
    source: Source
    resolution: str | None = None


def gpc_asserted(write: ConsentWrite) -> bool:
    """The write carries a GPC signal: the header, or a write whose source is the signal."""
    return write.signals.gpc or write.source is Source.GPC


def gpc_opts_out(regime: str) -> bool:
    """Whether GPC is honoured as an opt-out (binding regimes and the other opt-out regimes);
    under opt-in regimes it is an objection that a specific consent outweighs."""
    return regime in GPC_BINDING or consent_model(regime) is ConsentModel.OPT_OUT


def _named(key: str) -> str:
    """A purpose key as it may appear in a message: only if it looks like one."""
    return key if PURPOSE_KEY.fullmatch(key) else "(not a purpose key)"


def validate_choices(choices: Sequence[Choice], purposes: Mapping[str, Purpose]) -> None:
    """Unknown, retired or repeated purposes, and refusals of essential ones, are InvalidInput
    naming the purpose and the choice's position."""
    seen: set[str] = set()
    for index, choice in enumerate(choices):
        where = f"choices.{index}.purpose"
        purpose = purposes.get(choice.purpose)
        if purpose is None:
            raise InvalidInput(f"unknown purpose: {_named(choice.purpose)}", field=where)
        if purpose.retired:
            raise InvalidInput(f"purpose {purpose.key} is retired", field=where)
        if choice.purpose in seen:
            raise InvalidInput(f"purpose {purpose.key} is chosen twice", field=where)
        if purpose.essential and not choice.granted:
            raise InvalidInput(
                f"purpose {purpose.key} is essential and cannot be refused",
                field=f"choices.{index}.granted",
            )
        seen.add(choice.purpose)


def resolve(
    write: ConsentWrite, purposes: Mapping[str, Purpose], saved: Mapping[str, PurposeState]
) -> list[Outcome]:
    """The entries a write makes, given the subject's saved state (validates the choices)."""
    validate_choices(write.choices, purposes)
    gpc = gpc_asserted(write)
    opts_out = gpc_opts_out(write.regime)
    outcomes = [
        _chosen(choice, purposes[choice.purpose], write, gpc=gpc, opts_out=opts_out)
        for choice in write.choices
    ]
    if gpc:
        chosen = {choice.purpose for choice in write.choices}
        for purpose in _gpc_purposes(purposes.values()):
            if purpose.key not in chosen:
                outcome = _signalled(purpose.key, saved.get(purpose.key), opts_out=opts_out)
                if outcome is not None:
                    outcomes.append(outcome)
    return outcomes


def _gpc_purposes(purposes: Iterable[Purpose]) -> list[Purpose]:
    return sorted(
        (p for p in purposes if p.gpc and not p.essential and not p.retired), key=lambda p: p.key
    )


def _chosen(
    choice: Choice, purpose: Purpose, write: ConsentWrite, *, gpc: bool, opts_out: bool
) -> Outcome:
    """An explicit choice, weighed against a GPC signal in the same call."""
    asked = choice.granted
    if not (gpc and purpose.gpc and asked):
        return Outcome(purpose.key, asked, asked, write.source)
    if not opts_out:
        return Outcome(purpose.key, True, True, write.source, CHOICE_KEPT_OVER_GPC)
    if write.confirmed_over_gpc:
        return Outcome(purpose.key, True, True, write.source, CONFIRMED_OVER_GPC)
    return Outcome(purpose.key, True, False, write.source, GPC_OVERRIDES_CHOICE)


def _signalled(key: str, saved: PurposeState | None, *, opts_out: bool) -> Outcome | None:
    """What a GPC signal does to a gpc purpose the call made no choice about; None when the
    purpose is already off (nothing to change or to record)."""
    if saved is None:
        # Opt-out regimes: on by default, now off. Opt-in regimes: off anyway, and the
        # objection is recorded.
        return Outcome(key, False, False, Source.GPC)
    if not saved.granted:
        return None
    if opts_out and saved.resolution not in _CONFIRMED:
        return Outcome(key, False, False, Source.GPC, GPC_OVERRIDES_SAVED)
    kept = CONFIRMED_KEPT if opts_out else SAVED_KEPT_OVER_GPC
    return Outcome(key, False, True, Source.GPC, kept)


def link_outcomes(
    device: Mapping[str, PurposeState],
    user: Mapping[str, PurposeState],
    purposes: Mapping[str, Purpose],
) -> list[Outcome]:
    """The entries carrying a device's (or email's) saved choices to a user (source link).
    Purposes no longer in the catalogue, retired or essential are not carried."""
    outcomes: list[Outcome] = []
    for key in sorted(device):
        purpose = purposes.get(key)
        if purpose is None or purpose.retired or purpose.essential:
            continue
        outcome = _carried(purpose, device[key], user.get(key))
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _carried(purpose: Purpose, device: PurposeState, user: PurposeState | None) -> Outcome | None:
    value = device.granted
    if user is None:
        return Outcome(purpose.key, value, value, Source.LINK, DEVICE_CHOICE_TAKEN)
    if value == user.granted:
        return None
    if purpose.gpc and not value:
        return Outcome(purpose.key, False, False, Source.LINK, DEVICE_OPT_OUT_CARRIED)
    if _newer(device, user):
        return Outcome(purpose.key, value, value, Source.LINK, NEWER_DEVICE_CHOICE)
    return None


def _newer(a: PurposeState, b: PurposeState) -> bool:
    """Entry ids are handed out in order, so they break ties between equal times."""
    return (a.updated_at, a.entry_id) > (b.updated_at, b.entry_id)


def withdrawn(
    outcomes: Sequence[Outcome],
    saved: Mapping[str, PurposeState],
    purposes: Mapping[str, Purpose],
    regime: str,
) -> list[str]:
    """Purposes to tell the systems about: the effective state went from granted to not
    granted, or the person explicitly refused (an opt-out is propagated even when the
    ledger already had the purpose off: systems may hold their own copy of a choice)."""
    out: list[str] = []
    for outcome in outcomes:
        if outcome.effective:
            continue
        before = saved.get(outcome.purpose)
        purpose = purposes.get(outcome.purpose)
        was = (
            before.granted
            if before is not None
            else bool(purpose and purpose.default_granted(regime))
        )
        refused = not outcome.granted and outcome.source is not Source.GPC
        if was or refused:
            out.append(outcome.purpose)
    return sorted(set(out))
