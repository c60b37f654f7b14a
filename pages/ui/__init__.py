"""pages.ui."""
