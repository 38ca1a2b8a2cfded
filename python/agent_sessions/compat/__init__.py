"""Drop-in replacements for existing Python modules (see ``compat.agent_session``)."""
