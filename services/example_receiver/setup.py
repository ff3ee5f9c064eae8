"""API keys for the receiver: where it finds them, and how the demo makes them.

The receiver acknowledges events through the department API, so it needs each
department's API key. It reads them from a JSON file, ``{"dvla": "tuo_…", …}``:
``TELLUSONCE_RECEIVER_KEYS_FILE``, or ``receiver-keys.json`` under the instance
path. In demo and test mode ``tellusonce receiver`` makes fresh keys for every
webhook and feed department before it starts (revoking the keys it made last time) and
writes that file, readable only by its owner.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import Engine, select

from tellusonce.clock import utcnow
from tellusonce.data.apikeys import create_api_key, revoke_api_key
from tellusonce.db import transaction
from tellusonce.models import ChannelKind, Department, DepartmentApiKey
from tellusonce.settings import Settings

DEMO_LABEL = "demo receiver"


def keys_path(settings: Settings) -> Path:
    configured = os.environ.get("TELLUSONCE_RECEIVER_KEYS_FILE")
    return Path(configured) if configured else Path(settings.instance_path) / "receiver-keys.json"


def load_keys(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def mint_demo_keys(engine: Engine, settings: Settings) -> dict[str, str]:
    """New API keys for every active webhook and feed department, written to the receiver's keys file.

    The webhook departments' keys acknowledge what they are sent; the feed departments' keys
    also fetch their feeds. Each is made as ``tellusonce departments key`` makes one (stored
    hashed, shown only here), so no key is ever written into the code or the configuration.
    """
    if settings.is_production:
        raise RuntimeError("demo keys are made only in demo and test mode")
    now = utcnow()
    keys: dict[str, str] = {}
    with transaction(engine) as session:
        old = session.scalars(select(DepartmentApiKey).where(DepartmentApiKey.label == DEMO_LABEL,
                                                             DepartmentApiKey.revoked_at.is_(None))).all()
        for key in old:
            revoke_api_key(session, department_id=key.department_id, prefix=key.prefix, now=now, actor="demo")
        departments = session.scalars(select(Department).where(
            Department.active.is_(True), Department.channel.in_([ChannelKind.WEBHOOK, ChannelKind.FEED])))
        for department in departments:
            keys[department.id] = create_api_key(session, department_id=department.id, now=now, label=DEMO_LABEL,
                                                 actor="demo").plaintext
    path = keys_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(keys, indent=2), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)
    return keys
