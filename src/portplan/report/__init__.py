"""Everything that turns the model or the plan into text, tables or files."""
