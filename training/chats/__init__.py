"""training.chats."""
