"""模拟接待: drills built from the shop's imported sessions, replayed turn by turn against the clock."""
