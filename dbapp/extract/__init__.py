"""Entity extraction: turn a parsed document into mentions of catalogue entities."""
