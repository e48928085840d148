"""`rightsflow receipt verify` and `rightsflow receipt public-key`: check an erasure receipt
offline, and print the key a company publishes so that others can.

Exit codes of `verify`: 0 valid, 1 invalid (one line saying why), 2 the receipt or the key
could not be read at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from rightsflow.config import load_settings
from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.signature import load_public_key, verify_document
from rightsflow.storage.signing_keys import PUBLIC_KEY_FILE, FileSigningKey

RECEIPT_FORMAT = "rightsflow.receipt/v1"
UNREADABLE = 2

app = typer.Typer(help="Check erasure receipts and publish the key that signs them.")

FileArg = Annotated[Path, typer.Argument(help="A receipt as the API returns it (JSON).")]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="PEM public key the receipt must be signed by (e.g. the published one).",
    ),
]
DataDirOpt = Annotated[
    Path | None, typer.Option(help=f"Data dir whose {PUBLIC_KEY_FILE} is the trusted key.")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _stop(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _data_dir(config: Path | None, data_dir: Path | None) -> Path:
    try:
        return load_settings(config, data_dir=data_dir).data_dir
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise _stop(f"invalid setting {where}", UNREADABLE) from None
    except FileNotFoundError as exc:
        raise _stop(str(exc), UNREADABLE) from None


def _read_receipt(path: Path) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Parsers disagree on which of two equal keys wins; a receipt must not be ambiguous.
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("a JSON object repeats a member name")
        return dict(pairs)

    try:
        return json.loads(path.read_bytes(), object_pairs_hook=no_duplicates)
    except OSError as exc:
        raise _stop(f"cannot read {path}: {exc.strerror or exc}", UNREADABLE) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise _stop(f"{path} is not a JSON receipt: {exc}", UNREADABLE) from None


def _trusted_key(
    public_key: Path | None, config: Path | None, data_dir: Path | None
) -> Path | None:
    """The PEM file the signer must match: --public-key, else the data dir's, else none."""
    if public_key is not None:
        return public_key
    candidate = _data_dir(config, data_dir) / PUBLIC_KEY_FILE
    if candidate.is_file():
        return candidate
    if data_dir is not None:  # asked for by name: falling back to no pinning would mislead
        raise _stop(f"no {PUBLIC_KEY_FILE} in {data_dir}", UNREADABLE)
    return None


def _load_key(path: Path) -> bytes:
    try:
        return load_public_key(path.read_bytes())
    except OSError as exc:
        raise _stop(f"cannot read {path}: {exc.strerror or exc}", UNREADABLE) from None
    except RightsflowError as exc:
        raise _stop(f"{path}: {exc}", UNREADABLE) from None


@app.command()
def verify(
    file: FileArg,
    public_key: KeyOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check a receipt's signature; with a trusted key (--public-key, or the data dir's), also
    that this key signed it. Exit 0 valid, 1 invalid, 2 unreadable."""
    document = _read_receipt(file)
    key_file = _trusted_key(public_key, config, data_dir)
    trusted = [_load_key(key_file)] if key_file is not None else None
    if not isinstance(document, dict):
        typer.echo("invalid: the receipt is not a JSON object")
        raise typer.Exit(1)
    result = verify_document(document, trusted)
    if not result.valid:
        typer.echo(f"invalid: {result.reason}")
        raise typer.Exit(1)
    if document.get("format") != RECEIPT_FORMAT:
        typer.echo(f"invalid: the signature holds, but this is not a {RECEIPT_FORMAT} document")
        raise typer.Exit(1)
    request_id = document.get("request_id")
    pinned = "pinned" if result.pinned else "NOT pinned"
    typer.echo(f"valid: receipt for request {request_id}, signed by key {result.key_id} ({pinned})")
    if not result.pinned:
        typer.echo(
            f"warning: no trusted key given, so anyone could have signed this; compare key id "
            f"{result.key_id} with the one your organisation publishes, or pass --public-key",
            err=True,
        )


@app.command("public-key")
def public_key_cmd(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    create: Annotated[
        bool, typer.Option("--create", help="Create the key pair if the data dir has none yet.")
    ] = False,
) -> None:
    """Print the receipt signing public key (PEM) to publish; its key id goes to stderr."""
    signer = FileSigningKey(_data_dir(config, data_dir))
    if not create and not signer.exists():
        raise _stop(
            f"no receipt signing key at {signer.private_file}; it is created when the first "
            "receipt is signed (or pass --create)",
            1,
        )
    try:
        pem = signer.public_key_pem()
    except (RightsflowError, OSError) as exc:
        raise _stop(str(exc), 1) from None
    typer.echo(pem, nl=False)
    typer.echo(f"key id: {signer.key_id()}", err=True)
