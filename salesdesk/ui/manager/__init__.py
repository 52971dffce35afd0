"""The manager's view of the floor: the whole pool, the team, the appointments."""
