"""A pure-Python, JSON-file implementation of the reference hook library ``agent_session.py``,
written from its description (shared/seeds/003: API, schema, storage layout, resume rules),
for benchmarks only.

Like the reference: one folder per session under ``base_path`` (``.claude/session`` by
default) holding ``state.json``, written with ``json.dump(..., indent=2)`` straight into the
file (no temporary file, no locking: concurrent writers can lose updates and readers can see a
torn file); ``list_sessions`` and ``cleanup_old_sessions`` read every ``state.json``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

VALID_PHASES = ["initializing", "investigating", "planning", "approval", "executing",
                "validating", "completed", "failed", "abandoned"]
RESUMABLE_PHASES = ["approval", "investigating", "planning"]
FINAL_PHASES = ["completed", "failed", "abandoned"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(s: str) -> datetime:
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    t = datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class AgentSession:
    RESUME_TIMEOUT_MINUTES = 30
    MAX_ERROR_COUNT = 3

    def __init__(self, base_path: Optional[str] = None) -> None:
        self.base_path = Path(base_path) if base_path else Path(".claude/session")
        self.base_path.mkdir(parents=True, exist_ok=True)

    def _get_session_dir(self, agent_id: str) -> Path:
        return self.base_path / agent_id

    def _get_state_file(self, agent_id: str) -> Path:
        return self._get_session_dir(agent_id) / "state.json"

    def _load_session(self, agent_id: str) -> Optional[Dict[str, Any]]:
        try:
            with open(self._get_state_file(agent_id)) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError):
            return None

    def _save_session(self, agent_id: str, state: Dict[str, Any]) -> bool:
        d = self._get_session_dir(agent_id)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "state.json", "w") as f:
            json.dump(state, f, indent=2)
        return True

    def create_session(self, agent_id: Optional[str] = None, agent_name: Optional[str] = None,
                       purpose: Optional[str] = None,
                       metadata: Optional[Dict[str, Any]] = None) -> str:
        now = _now()
        if agent_id is None:
            agent_id = f"agent-{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        state = {
            "agent_id": agent_id, "agent_name": agent_name, "purpose": purpose,
            "created_at": _iso(now), "last_updated": _iso(now), "phase": "initializing",
            "metadata": metadata or {}, "resume_ready": False, "history": [],
            "error_count": 0, "last_error": None, "finalized_at": None,
            "duration_seconds": None, "summary": None,
        }
        self._save_session(agent_id, state)
        return agent_id

    def update_state(self, agent_id: str, phase: Optional[str] = None,
                     metadata: Optional[Dict[str, Any]] = None,
                     error: Optional[str] = None) -> bool:
        state = self._load_session(agent_id)
        if state is None:
            return False
        if phase is not None and phase not in VALID_PHASES:
            return False
        now = _iso(_now())
        if phase is not None:
            state["history"].append({"from_phase": state["phase"], "to_phase": phase,
                                     "timestamp": now})
            state["phase"] = phase
            state["resume_ready"] = phase in RESUMABLE_PHASES
        if metadata:
            state["metadata"].update(metadata)
        if error:
            state["error_count"] += 1
            state["last_error"] = {"message": error, "timestamp": now}
        state["last_updated"] = now
        return self._save_session(agent_id, state)

    def should_resume(self, agent_id: str) -> bool:
        state = self._load_session(agent_id)
        if state is None or not state.get("resume_ready"):
            return False
        if state.get("phase") not in RESUMABLE_PHASES:
            return False
        try:
            idle = _now() - _parse(state["last_updated"])
        except (KeyError, ValueError):
            return False
        if idle >= timedelta(minutes=self.RESUME_TIMEOUT_MINUTES):
            return False
        return state.get("error_count", 0) < self.MAX_ERROR_COUNT

    def get_session(self, agent_id: str) -> Optional[Dict[str, Any]]:
        return self._load_session(agent_id)

    def finalize_session(self, agent_id: str, outcome: str,
                         summary: Optional[str] = None) -> bool:
        state = self._load_session(agent_id)
        if state is None:
            return False
        if outcome not in FINAL_PHASES:
            outcome = "failed"
        now = _now()
        state["history"].append({"from_phase": state["phase"], "to_phase": outcome,
                                 "timestamp": _iso(now)})
        state["phase"] = outcome
        state["resume_ready"] = False
        state["finalized_at"] = _iso(now)
        try:
            state["duration_seconds"] = (now - _parse(state["created_at"])).total_seconds()
        except (KeyError, ValueError):
            state["duration_seconds"] = None
        state["summary"] = summary
        state["last_updated"] = _iso(now)
        return self._save_session(agent_id, state)

    def cleanup_old_sessions(self, hours: float = 24) -> int:
        cutoff = _now() - timedelta(hours=hours)
        removed = 0
        for d in self.base_path.iterdir():
            if not d.is_dir():
                continue
            state = self._load_session(d.name)
            if state is None:
                continue
            try:
                if _parse(state["last_updated"]) < cutoff:
                    shutil.rmtree(d)
                    removed += 1
            except (KeyError, ValueError):
                continue
        return removed

    def list_sessions(self, active_only: bool = False,
                      agent_name: Optional[str] = None) -> List[Dict[str, Any]]:
        out = []
        for d in self.base_path.iterdir():
            if not d.is_dir():
                continue
            state = self._load_session(d.name)
            if state is None:
                continue
            if active_only and state.get("phase") in FINAL_PHASES:
                continue
            if agent_name and state.get("agent_name") != agent_name:
                continue
            out.append({k: state.get(k) for k in ("agent_id", "agent_name", "phase",
                                                   "created_at", "last_updated",
                                                   "resume_ready", "error_count")})
        out.sort(key=lambda s: s.get("last_updated") or "", reverse=True)
        return out


_default: Optional[AgentSession] = None


def _session() -> AgentSession:
    global _default
    if _default is None:
        _default = AgentSession()
    return _default


def create_session(agent_name: Optional[str] = None, purpose: Optional[str] = None,
                   metadata: Optional[Dict[str, Any]] = None) -> str:
    return _session().create_session(agent_name=agent_name, purpose=purpose, metadata=metadata)


def update_state(agent_id: str, phase: Optional[str] = None,
                 metadata: Optional[Dict[str, Any]] = None, error: Optional[str] = None) -> bool:
    return _session().update_state(agent_id, phase, metadata, error)


def should_resume(agent_id: str) -> bool:
    return _session().should_resume(agent_id)


def get_session(agent_id: str) -> Optional[Dict[str, Any]]:
    return _session().get_session(agent_id)


def finalize_session(agent_id: str, outcome: str, summary: Optional[str] = None) -> bool:
    return _session().finalize_session(agent_id, outcome, summary)


def cleanup_old_sessions(hours: float = 24) -> int:
    return _session().cleanup_old_sessions(hours)


def list_sessions(active_only: bool = False, agent_name: Optional[str] = None) -> List[Dict[str, Any]]:
    return _session().list_sessions(active_only, agent_name)
