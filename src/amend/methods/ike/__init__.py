"""IKE, in-context knowledge editing: the new fact after retrieved demonstrations of copying, updating and
retaining."""
